"""The prompt gate of a pull request (issue 18 item 7): evaluate a prompts directory against production.

Production with the directory's changed templates swapped in becomes a candidate release; it runs on
the golden test part (one intent's subset plus the cross-intent canary when only that intent's
template changed, the whole test part when the base prompt or several changed) against production
as the baseline. Prints the Markdown report (the pull-request comment) and exits 1 when a gate fails.
The workflow .github/workflows/prompt-gate.yml runs it; .ci/run runs it on one intent as a smoke test.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evaluation.models import Part
from evaluation.reports import run_json, run_markdown
from evaluation.services import EvalError, eval_run_create, eval_run_execute
from prompts_app.bundle import PROMPTS_DIR, read_directory
from prompts_app.rendering import BASE, TemplateInvalid, kind_of, template_check
from prompts_app.services import bundle_for_release
from registry.models import AliasName, ComponentKind
from registry.selectors import release_for_alias
from registry.services import component_version_register, release_create


class Command(BaseCommand):
    help = "Evaluate a prompts directory's changes against production on the golden test part; exit 1 on a failed gate."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=str(PROMPTS_DIR))
        parser.add_argument("--intent", default="", help="Evaluate this intent's subset even if nothing changed")
        parser.add_argument("--format", choices=["markdown", "json"], default="markdown")

    def handle(self, *args, dir, intent, format, **options):
        production = release_for_alias(AliasName.PRODUCTION)
        if production is None:
            raise CommandError("nothing is in production: run `manage.py seed_demo` first")
        current = bundle_for_release(production)
        try:
            specs = read_directory(Path(dir))
        except (OSError, ValueError) as exc:
            raise CommandError(f"{dir}: {exc}") from exc
        problems = []
        for name, spec in specs.items():
            try:
                template_check(spec.body, kind=kind_of(name))
            except TemplateInvalid as exc:
                problems.append(f"{name}.j2: {exc}")
        if problems:
            raise CommandError("invalid templates: " + "; ".join(problems))
        changed = sorted(
            name
            for name, spec in specs.items()
            if name not in current.templates
            or (current.templates[name].body, tuple(current.templates[name].few_shot)) != (spec.body, spec.few_shot)
        )
        if not changed and not intent:
            self.stdout.write("No prompt changed against production: nothing to evaluate.")
            return
        scope = intent or (changed[0] if len(changed) == 1 and changed[0] != BASE else "")
        bundle = current
        for name in changed:
            bundle = bundle.replaced(specs[name])
        version = component_version_register(
            kind=ComponentKind.PROMPT_BUNDLE,
            actor="system:prompts_gate",
            framework="Jinja2 sandboxed templates (prompts_app)",
            config=bundle.to_config(),
            notes=f"pull-request preview of {', '.join(changed) or 'no change'} on release {production.number}",
        )
        candidate = release_create(
            actor="system:prompts_gate",
            versions=[version],
            based_on=production,
            notes=f"Prompt gate: {', '.join(changed) or 'unchanged'} from {Path(dir).name}/",
        )
        try:
            run = eval_run_create(
                release=candidate,
                baseline=production,
                intent=scope,
                part=Part.TEST,
                actor="system:prompts_gate",
                queue=False,
            )
        except EvalError as exc:
            raise CommandError(str(exc)) from exc
        run = eval_run_execute(run.pk)
        names = ", ".join(f"`{n}`" for n in changed) or "nothing"
        head = f"**Prompt gate**: changed {names}; candidate release {candidate.number}.\n\n"
        self.stdout.write(json.dumps(run_json(run), indent=2) if format == "json" else head + run_markdown(run))
        if not run.gate_passed:
            raise SystemExit(1)
