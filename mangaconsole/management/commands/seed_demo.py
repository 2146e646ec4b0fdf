import secrets

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from chat.services import DataFileError, articles_load, catalog_load
from finops.services import prices_load
from mangaconsole.env import env
from mangaconsole.roles import Role, roles_sync
from mangaconsole.services import demo_users_ensure
from prompts_app.services import prompts_seed
from registry.models import Alias, AliasName, ComponentKind, ComponentVersion
from registry.rollout.bootstrap import production_bootstrap, registry_defaults_ensure


class Command(BaseCommand):
    help = "Create one demo user per role and load the catalog, FAQ and policy files from chat/data/. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", default=None, help="Password for new demo users (default $DEMO_PASSWORD or 'mangaassist')"
        )
        parser.add_argument(
            "--force-demo-accounts",
            action="store_true",
            help="In production mode (MANGACONSOLE_PRODUCTION=1), create the demo accounts anyway; their passwords "
            "are then never printed (random unless --password or $DEMO_PASSWORD is given)",
        )

    def handle(self, *args, **opts):
        production = settings.PRODUCTION
        password = opts["password"] or env("DEMO_PASSWORD", "")
        roles_sync()
        if production and not opts["force_demo_accounts"]:
            users = None
        else:
            if not password:
                # a laptop gets the documented password; production gets one nobody has seen
                password = secrets.token_urlsafe(24) if production else "mangaassist"
            users = demo_users_ensure(password=password)
        try:
            catalog = catalog_load(path=settings.DATA_DIR / "catalog.json")
        except DataFileError as exc:
            raise CommandError(f"Catalog not loaded: {exc}") from exc
        articles = articles_load(root=settings.DATA_DIR / "knowledge")
        prices = prices_load(path=settings.BASE_DIR / "finops" / "data" / "model_prices.json", actor="system:seed_demo")
        registry_defaults_ensure(actor="system:seed_demo")
        prompts_seed(actor="system:seed_demo")
        call_command("load_golden", stdout=self.stdout)
        if not ComponentVersion.objects.filter(component__kind=ComponentKind.INTENT_CLASSIFIER).exists():
            self.stdout.write("Training the intent classifier (first run only)…")
            call_command("train_intent", stdout=self.stdout)
        trained_policy = ComponentVersion.objects.filter(component__kind=ComponentKind.GUARDRAIL_POLICY).exclude(
            artifact_uri=""
        )
        if not trained_policy.exists():
            self.stdout.write("Training the injection classifier of the guardrail policy (first run only)…")
            serving = Alias.objects.filter(name=AliasName.PRODUCTION).exists()
            call_command("train_guardrails", promote=serving, stdout=self.stdout)
        release = production_bootstrap(actor="system:seed_demo")
        out = self.stdout.write
        out(f"Catalog: {catalog.created} created, {catalog.updated} updated, {catalog.unchanged} unchanged.")
        out(
            f"FAQ and policy documents: {articles.created} created, {articles.updated} updated, "
            f"{articles.unchanged} unchanged."
        )
        out(f"Model prices: {prices} created.")
        if release is not None:
            out(f"Production now serves release {release.number} (local grounded responder, not an LLM).")
        out("Next: `python manage.py kb_ingest` embeds the catalog, FAQ and policies for retrieval.")
        for problem in articles.problems:
            out(self.style.WARNING(f"  skipped: {problem}"))
        if users is None:
            out(
                self.style.WARNING(
                    "Production mode: no demo accounts were created (they have well-known names). Create real "
                    "accounts with `manage.py createsuperuser` and the admin, or pass --force-demo-accounts."
                )
            )
            return
        out("Demo accounts (one per role):")
        for username, role, created in users:
            if production:
                note = "created; password not shown (set it with `manage.py changepassword`)" if created else "existing"
            else:
                note = f"password {password}" if created else "existing account, password unchanged"
            out(f"  {username:<11} {Role.LABELS[role]:<20} {note}")
