from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat.services import DataFileError, articles_load, catalog_load
from mangaconsole.env import env
from mangaconsole.roles import Role, roles_sync
from mangaconsole.services import demo_users_ensure


class Command(BaseCommand):
    help = "Create one demo user per role and load the catalog, FAQ and policy files from chat/data/. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", default=None, help="Password for new demo users (default $DEMO_PASSWORD or 'mangaassist')"
        )

    def handle(self, *args, **opts):
        password = opts["password"] or env("DEMO_PASSWORD", "mangaassist")
        roles_sync()
        users = demo_users_ensure(password=password)
        try:
            catalog = catalog_load(path=settings.DATA_DIR / "catalog.json")
        except DataFileError as exc:
            raise CommandError(f"Catalog not loaded: {exc}") from exc
        articles = articles_load(root=settings.DATA_DIR / "knowledge")
        out = self.stdout.write
        out(f"Catalog: {catalog.created} created, {catalog.updated} updated, {catalog.unchanged} unchanged.")
        out(
            f"FAQ and policy documents: {articles.created} created, {articles.updated} updated, "
            f"{articles.unchanged} unchanged."
        )
        for problem in articles.problems:
            out(self.style.WARNING(f"  skipped: {problem}"))
        out("Demo accounts (one per role):")
        for username, role, created in users:
            note = f"password {password}" if created else "existing account, password unchanged"
            out(f"  {username:<11} {Role.LABELS[role]:<20} {note}")
