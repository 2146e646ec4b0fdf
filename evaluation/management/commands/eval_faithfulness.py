"""Precision and recall of each faithfulness scorer on a labelled set of answer/context pairs (issue 18 item 5).

Scorers: word overlap (``guardrails.checks.faithfulness`` below 0.5, the old guard), claim-level
(``guardrails.claims``, the production guard) and, when a provider is configured, the LLM judge
(``evaluation.judge``) through a release's generator (``--release``) or a provider config given as
JSON (``--judge-config``). "Positive" is an unfaithful answer: precision is the share of flagged
answers that were unfaithful, recall the share of unfaithful answers flagged. Pairs the judge could
not answer (a provider error, an unparseable reply) are counted apart, never as faithful.
The last line is one JSON object of the figures.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat.serving import NotServing, serving_context
from evaluation import judge as llm_judge
from evaluation.management.commands.run_eval import release_resolve
from guardrails import claims
from guardrails.checks import faithfulness
from mangaconsole.lib.jsonl import jsonl_rows

DEFAULT_PAIRS = "guardrails/data/faithfulness_pairs.jsonl"


def load_pairs(path: Path) -> list[dict]:
    if not path.exists():
        raise CommandError(f"{path}: no such file")
    rows = []
    try:
        for n, row in jsonl_rows(path):
            missing = {"answer", "context", "label"} - set(row) if isinstance(row, dict) else {"an object"}
            if missing or row.get("label") not in ("faithful", "unfaithful"):
                raise CommandError(f"{path}:{n}: needs answer, context and a label of faithful or unfaithful")
            rows.append(row)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if not rows:
        raise CommandError(f"{path}: no pairs")
    return rows


def figures(pairs: list[dict], flags: list[bool | None]) -> dict:
    """Precision, recall and F1 of flagging unfaithful answers; None flags are pairs without a verdict."""
    tp = fp = fn = tn = 0
    missed_by_kind: Counter = Counter()
    for p, flag in zip(pairs, flags, strict=True):
        if flag is None:
            continue
        bad = p["label"] == "unfaithful"
        tp += flag and bad
        fp += flag and not bad
        fn += (not flag) and bad
        tn += (not flag) and not bad
        if bad and not flag:
            missed_by_kind[p.get("kind", "?")] += 1
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return {
        "precision": None if precision is None else round(precision, 4),
        "recall": None if recall is None else round(recall, 4),
        "f1": None if f1 is None else round(f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "no_verdict": sum(f is None for f in flags),
        "missed_by_kind": dict(missed_by_kind.most_common()),
    }


class Command(BaseCommand):
    help = "Precision and recall of word overlap, claim-level and (when configured) LLM-judge faithfulness."

    def add_arguments(self, parser):
        parser.add_argument("--pairs", default=DEFAULT_PAIRS, help="A JSONL file of answer, context, label (, kind)")
        parser.add_argument("--release", help="Judge with this release's generator (a number or 'production')")
        parser.add_argument("--judge-config", help='A provider config as JSON, e.g. {"provider": "bedrock", ...}')
        parser.add_argument(
            "--part", choices=["dev", "test"], help="Only the pairs of this part (a set whose rows carry a part)"
        )

    def handle(self, *args, pairs, release, judge_config, part, **options):
        path = Path(pairs)
        path = path if path.is_absolute() else Path(settings.BASE_DIR) / path
        rows = load_pairs(path)
        if part:
            rows = [r for r in rows if r.get("part") == part]
            if not rows:
                raise CommandError(f"{path.name} has no pairs of part {part!r}")
        out = self.stdout.write
        labels = Counter(r["label"] for r in rows)
        out(f"{path.name}: {len(rows)} pairs ({labels['unfaithful']} unfaithful, {labels['faithful']} faithful)")
        result = {
            "pairs": len(rows),
            "file": path.name,
            "part": part or "all",
            "overlap": figures(rows, [(faithfulness(r["answer"], r["context"]) or 1.0) < 0.5 for r in rows]),
            "claims": figures(rows, [bool(claims.check(r["answer"], r["context"]).failed) for r in rows]),
        }
        config, where = self._judge_config(release, judge_config)
        if config is None:
            result["judge"] = {"configured": False, "why": where}
        else:
            verdicts = []
            for i, r in enumerate(rows, 1):
                verdicts.append(llm_judge.judge(r["answer"], r["context"], config=config))
                if i % 50 == 0 or i == len(rows):
                    self.stderr.write(f"judge: {i}/{len(rows)}")
            result["judge"] = {
                "configured": True,
                "provider": config.get("provider"),
                "model": verdicts[0].model if verdicts else "",
                "from": where,
                **figures(rows, [v.unfaithful for v in verdicts]),
                "verdicts": dict(Counter(v.verdict for v in verdicts)),
            }
        for name in ("overlap", "claims", "judge"):
            f = result[name]
            if name == "judge" and not f.get("configured"):
                out(f"  judge: not configured ({f['why']})")
                continue
            out(
                f"  {name:8s} precision {f['precision']}  recall {f['recall']}  F1 {f['f1']}  "
                f"(tp {f['tp']}, fp {f['fp']}, fn {f['fn']}, no verdict {f['no_verdict']})"
            )
        out(json.dumps(result))

    def _judge_config(self, release, judge_config) -> tuple[dict | None, str]:
        if judge_config:
            try:
                raw = json.loads(judge_config)
            except json.JSONDecodeError as exc:
                raise CommandError(f"--judge-config is not JSON: {exc.msg}") from exc
            if not isinstance(raw, dict):
                raise CommandError("--judge-config is a JSON object")
            cfg = llm_judge.judge_config(raw)
            if cfg is None:
                raise CommandError(
                    f"provider {raw.get('provider', 'local')!r} cannot judge: use one of "
                    f"{', '.join(llm_judge.JUDGE_PROVIDERS)}"
                )
            return cfg, "--judge-config"
        if not release:
            return None, "no --release or --judge-config given"
        rel = release_resolve(release)
        try:
            ctx = serving_context(rel)
        except NotServing as exc:
            raise CommandError(str(exc)) from exc
        cfg = llm_judge.judge_config(ctx.generator_config)
        if cfg is None:
            return None, f"release {rel.number}'s generator is the local responder, which cannot judge"
        return cfg, f"release {rel.number}"
