"""python manage.py prompt_demo

Demo data for the A/B test the README walks through: the demo prompt engineer (``prompt``) writes an
FAQ template version that answers in two sentences, the demo ML engineer (``mleng``) reviews and
approves it, and its candidate release is evaluated here, in process, so its gate verdict is on the
release when the product manager opens "New experiment". The local responder follows an "in N
sentences" instruction, so the candidate's FAQ answers really differ from production's. Idempotent:
does nothing once the version exists.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from evaluation.prompts import prompt_version_approve
from evaluation.services import eval_run_execute
from prompts_app.models import PromptTemplate, PromptVersion
from prompts_app.services import PromptError, latest_run, prompt_version_create, prompt_version_submit

CHANGELOG = "faq: answer in two sentences (demo candidate for an A/B test)"


class Command(BaseCommand):
    help = "A reviewed FAQ prompt version with an evaluated candidate release, for the A/B test demo."

    def handle(self, *args, **options):
        if PromptVersion.objects.filter(changelog=CHANGELOG).exists():
            self.stdout.write("The demo prompt version exists already: nothing to do.")
            return
        users = get_user_model().objects.filter(username__in=["prompt", "mleng"]).in_bulk(field_name="username")
        if len(users) < 2:
            self.stdout.write(self.style.WARNING("No demo accounts (production mode?): no demo prompt version."))
            return
        template = PromptTemplate.objects.get(name="faq")
        latest = template.versions.order_by("-major", "-minor", "-patch").first()
        if latest is None or "in a few sentences" not in latest.body:
            self.stdout.write("The FAQ template has changed since the demo was written: no demo prompt version.")
            return
        try:
            version = prompt_version_create(
                template=template,
                body=latest.body.replace("in a few sentences", "in two sentences"),
                few_shot=latest.few_shot,
                bump="minor",
                change_description="Shorter FAQ answers: two sentences instead of a few.",
                changelog=CHANGELOG,
                actor=users["prompt"],
            )
            prompt_version_submit(version=version, actor=users["prompt"])
            prompt_version_approve(version=version, actor=users["mleng"], comment="Worth an A/B test on thumbs up.")
        except PromptError as exc:
            raise CommandError(f"demo prompt version not created: {exc}") from exc
        version.refresh_from_db()
        run = eval_run_execute(latest_run(version).pk)  # its queued task will find it finished
        verdict = "passed" if run and run.gate_passed else "FAILED"
        self.stdout.write(
            f"Demo prompt {version.label}: candidate release {version.candidate_release.number}, evaluation run "
            f"{run.pk if run else '?'} gate {verdict}. A product manager can A/B test it now (/experiments/new/)."
        )
