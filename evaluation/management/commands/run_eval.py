"""CI gate: evaluate a release on the golden dataset; exit 1 when a gate fails (US-2.2, S16)."""

import json

from django.core.management.base import BaseCommand, CommandError

from evaluation.models import Part
from evaluation.reports import run_json, run_markdown
from evaluation.services import EvalError, eval_run_create, eval_run_execute
from registry.models import AliasName, Release
from registry.selectors import release_for_alias


def release_resolve(value: str) -> Release:
    """A release by number, or the release an alias (production, staging, canary) points at."""
    if value in AliasName.values:
        release = release_for_alias(value)
        if release is None:
            raise CommandError(f"the {value} alias points at no release yet")
        return release
    try:
        return Release.objects.get(number=int(value))
    except (ValueError, Release.DoesNotExist) as exc:
        raise CommandError(
            f"no release {value!r}: give a release number or one of {', '.join(AliasName.values)}"
        ) from exc


class Command(BaseCommand):
    help = (
        "Evaluate a release (number or alias) on the golden dataset's test part (or --part dev, to tune on); "
        "print a Markdown or JSON report; exit 1 when a gate fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--release", required=True)
        parser.add_argument("--baseline", default="")
        parser.add_argument("--intent", default="", help="Only this intent's subset plus the cross-intent canary.")
        parser.add_argument(
            "--part",
            choices=Part.values,
            default=Part.TEST,
            help="test (default): the frozen part the gate reports; dev: the part to tune on",
        )
        parser.add_argument("--format", choices=["markdown", "json"], default="markdown")

    def handle(self, *args, release, baseline, intent, part, format, **options):
        rel = release_resolve(release)
        base = release_resolve(baseline) if baseline else None
        try:
            run = eval_run_create(
                release=rel, baseline=base, intent=intent, part=part, actor="system:run_eval", queue=False
            )
        except EvalError as exc:
            raise CommandError(str(exc)) from exc
        run = eval_run_execute(run.pk)
        self.stdout.write(json.dumps(run_json(run), indent=2) if format == "json" else run_markdown(run))
        if not run.gate_passed:
            raise SystemExit(1)
