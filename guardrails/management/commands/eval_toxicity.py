"""Precision and recall of the input toxicity check (issue 19 item 5) on a labelled set.

    manage.py eval_toxicity                 # the development set: a threshold grid, and the one to use
    manage.py eval_toxicity --part test     # the held-out set, at the policy's threshold: read for the report

The threshold is chosen on ``toxicity_dev.jsonl`` only (the highest recall whose false-positive rate
is ≤ --max-fpr); ``--part test`` never chooses anything. Each message goes through the whole input
check (the threat rules, then the model on the message with the manga vocabulary masked).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from guardrails import toxicity
from guardrails.checks import find_terms
from guardrails.policy import DEFAULT_POLICY, default_policy
from mangaconsole.lib.jsonl import jsonl_rows

DATA = Path(__file__).resolve().parents[2] / "data"
GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99)


def rates(rows, scores, threshold) -> dict:
    tp = sum(1 for r, s in zip(rows, scores, strict=True) if r["toxic"] and s >= threshold)
    fp = sum(1 for r, s in zip(rows, scores, strict=True) if not r["toxic"] and s >= threshold)
    pos = sum(r["toxic"] for r in rows) or 1
    neg = (len(rows) - sum(r["toxic"] for r in rows)) or 1
    return {
        "threshold": threshold,
        "recall": round(tp / pos, 4),
        "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
        "false_positive_rate": round(fp / neg, 4),
    }


class Command(BaseCommand):
    help = "Toxicity check precision/recall: threshold grid on the dev set, or the report on the held-out set."

    def add_arguments(self, parser):
        parser.add_argument("--part", choices=("dev", "test"), default="dev")
        parser.add_argument("--max-fpr", type=float, default=0.01)
        parser.add_argument("--show-misses", action="store_true")

    def handle(self, *args, **opts):
        path = DATA / ("toxicity_dev.jsonl" if opts["part"] == "dev" else "toxicity_test.jsonl")
        rows = []
        try:
            for lineno, row in jsonl_rows(path):
                if (
                    not isinstance(row, dict)
                    or not isinstance(row.get("text"), str)
                    or not isinstance(row.get("toxic"), bool)
                ):
                    raise ValueError(f"{path}:{lineno}: expected an object with a text and a true/false toxic")
                rows.append(row)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        try:
            from chat.serving import serving_context

            policy = serving_context().policy
        except Exception:  # no production release here: the built-in policy
            policy = default_policy()
        config = policy.config or DEFAULT_POLICY
        allow = toxicity.allow_list(config)
        terms = config.get("toxicity_terms", [])
        model = toxicity.probabilities([r["text"] for r in rows], allow)
        # a threat rule blocks outright: score 1
        scores = [1.0 if find_terms(r["text"], terms) else p for r, p in zip(rows, model, strict=True)]
        threshold = float(policy.check("input_toxicity").get("threshold", toxicity.DEFAULT_THRESHOLD))
        self.stdout.write(
            f"{path.name}: {len(rows)} messages, {sum(r['toxic'] for r in rows)} toxic; policy {policy.version}"
        )
        if opts["part"] == "dev":
            grid = [rates(rows, scores, t) for t in GRID]
            for g in grid:
                self.stdout.write(
                    f"  threshold {g['threshold']:.2f}: recall {g['recall']:.3f} precision {g['precision']:.3f} "
                    f"FPR {g['false_positive_rate']:.3f}"
                )
            ok = [g for g in grid if g["false_positive_rate"] <= opts["max_fpr"]]
            chosen = max(ok, key=lambda g: (g["recall"], -g["threshold"])) if ok else None
            self.stdout.write(
                f"chosen on dev (highest recall at FPR ≤ {opts['max_fpr']:.0%}): "
                + (f"{chosen['threshold']:.2f}" if chosen else "none reaches it")
                + f"; the serving policy uses {threshold:.2f}"
            )
            figures = {"part": "dev", "chosen": chosen, "serving_threshold": threshold}
        else:
            figures = {"part": "test", **rates(rows, scores, threshold)}
            by_kind: dict[str, Counter] = defaultdict(Counter)
            for r, s in zip(rows, scores, strict=True):
                c = by_kind[r.get("kind", "all")]
                c["n"] += 1
                c["right"] += (s >= threshold) == bool(r["toxic"])
            for kind, c in sorted(by_kind.items()):
                self.stdout.write(f"  {kind:<26} {c['right']}/{c['n']} right")
            self.stdout.write(
                f"at {threshold:.2f}: recall {figures['recall']:.3f}, precision {figures['precision']:.3f}, "
                f"false positives {figures['false_positive_rate']:.3f}"
            )
            figures["by_kind"] = {k: round(c["right"] / c["n"], 4) for k, c in sorted(by_kind.items())}
        if opts["show_misses"]:
            for r, s in zip(rows, scores, strict=True):
                if (s >= threshold) != bool(r["toxic"]):
                    self.stdout.write(f"  MISS {s:.2f} toxic={r['toxic']} {r['text']}")
        self.stdout.write(json.dumps(figures))
