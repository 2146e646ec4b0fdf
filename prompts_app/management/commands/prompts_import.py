"""Turn a changed prompts directory (a merged pull request) into new versions that enter review."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from prompts_app.bundle import PROMPTS_DIR
from prompts_app.directory import directory_import
from prompts_app.services import BUMPS, PromptError


class Command(BaseCommand):
    help = (
        "One new version per template whose file differs from its latest version, submitted for review "
        "(a second person approves it in the console, which evaluates it). All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=str(PROMPTS_DIR))
        parser.add_argument("--bump", choices=BUMPS, default="minor")
        parser.add_argument(
            "--author", default="", help="The console user who wrote the change (default: a system actor)"
        )
        parser.add_argument("--message", default="", help="Changelog line for templates CHANGELOG.md has none for")

    def handle(self, *args, dir, bump, author, message, **options):
        actor = "system:prompts_import"
        if author:
            actor = get_user_model().objects.filter(username=author).first()
            if actor is None:
                raise CommandError(f"no console user {author!r}")
        try:
            created = directory_import(Path(dir), actor=actor, bump=bump, message=message)
        except PromptError as exc:
            raise CommandError(str(exc)) from exc
        if not created:
            self.stdout.write("no template changed: nothing to review")
        for v in created:
            self.stdout.write(f"  {v.label} in review: {v.changelog}")
        if created:
            self.stdout.write(self.style.SUCCESS(f"{len(created)} version(s) wait for review on /prompts/"))
