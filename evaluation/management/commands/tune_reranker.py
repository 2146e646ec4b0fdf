"""Tune one reranker weight on the golden dev part (issue 18 item 1): the test part is refused."""

import dataclasses
import json
import statistics

from django.core.management.base import BaseCommand, CommandError

from chat.serving import serving_context
from chat.turn import warm_up
from evaluation.management.commands.run_eval import release_resolve
from evaluation.models import Category, Part
from evaluation.services import EvalError, dataset_default, entries_score, tuning_entries


class Command(BaseCommand):
    help = (
        "Answer the golden dev part (one category or all) with the release's reranker under each value of one "
        "weight and print mean BERTScore, required-element and format pass rates; the test part is refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("--release", default="production")
        parser.add_argument("--param", default="w_source", help="A key of the reranker config, e.g. w_source")
        parser.add_argument("--values", default="0,0.15,0.3,0.45", help="Comma-separated values to try")
        parser.add_argument("--category", default="", choices=["", *Category.values])
        parser.add_argument("--part", default=Part.DEV, choices=Part.values, help="dev only; test is refused")

    def handle(self, *args, release, param, values, category, part, **options):
        try:
            grid = [float(v) for v in values.split(",") if v.strip()]
        except ValueError as exc:
            raise CommandError(f"--values: numbers separated by commas, e.g. 0,0.15,0.3 ({exc})") from exc
        rel = release_resolve(release)
        version = dataset_default().versions.order_by("-number").first()
        if version is None:
            raise CommandError("the golden dataset has no version yet: run `manage.py seed_demo`")
        try:
            entries = tuning_entries(version, part=part, category=category)
        except EvalError as exc:
            raise CommandError(str(exc)) from exc
        base = serving_context(rel)
        if param not in base.reranker_config:
            raise CommandError(
                f"release {rel.number}'s reranker has no {param!r} (it has {sorted(base.reranker_config)})"
            )
        warm_up()
        out = self.stdout.write
        out(f"release {rel.number}, {version}, dev part{' / ' + category if category else ''}: {len(entries)} entries")
        out(f"{param} now {base.reranker_config[param]}")
        figures = []
        for value in grid:
            ctx = dataclasses.replace(base, reranker_config={**base.reranker_config, param: value})
            rows = entries_score(entries, ctx)
            scored = [r["bertscore"] for r in rows if r["bertscore"] is not None]
            with_required = [r for r in rows if r["required_total"]]
            row = {
                param: value,
                "bertscore_mean": round(statistics.fmean(scored), 4) if scored else None,
                "required_pass": round(sum(not r["required_missing"] for r in with_required) / len(with_required), 4)
                if with_required
                else None,
                "format_ok": round(sum(r["format_ok"] for r in rows) / len(rows), 4),
                "entries": len(rows),
            }
            figures.append(row)
            out(
                f"  {param}={value:<6} BERTScore {row['bertscore_mean']}  required {row['required_pass']}  "
                f"format {row['format_ok']}"
            )
        best = max(figures, key=lambda r: (r["bertscore_mean"] or 0, r["required_pass"] or 0))
        out(f"best on dev: {param}={best[param]}")
        out(json.dumps({"release": rel.number, "part": "dev", "category": category, "grid": figures, "best": best}))
