"""Write every template's latest released version to prompts_app/prompts/ (or --dir) with its changelog."""

from pathlib import Path

from django.core.management.base import BaseCommand

from prompts_app.bundle import PROMPTS_DIR
from prompts_app.directory import directory_export


class Command(BaseCommand):
    help = (
        "Write every template's latest released version to a directory (<name>.j2, few_shot.json, VERSIONS.json) "
        "and its CHANGELOG.md entry, for review by pull request."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=str(PROMPTS_DIR))

    def handle(self, *args, dir, **options):
        written = directory_export(Path(dir))
        for v in written:
            self.stdout.write(f"  {v.label}")
        self.stdout.write(self.style.SUCCESS(f"{len(written)} templates written to {dir}"))
