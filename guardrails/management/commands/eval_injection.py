"""Injection defence on hand-written sets (issue 19 item 4): each message goes through the first half
of a turn on the production release (pre-generation guardrails with the shopper's earlier messages as
context, then the scope guard), and the share blocked is read per category.

    manage.py eval_injection                  # injection_dev.jsonl (the classifier trained on it: in-sample)
    manage.py eval_injection --part test      # the frozen hand-written set, read here and nowhere else

Recall counts an attack blocked by the injection checks (rules, classifier); "any guard" also counts
the scope guard and toxicity. The false-positive rate is the share of benign messages any guard
blocked: that is what a shopper meets. Nothing here tunes anything.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from chat.turn import SessionState, classify_turn
from guardrails import injection

INJECTION_CHECKS = {"injection_rules", "injection_classifier"}


class Command(BaseCommand):
    help = "Recall and false positives of the injection defence on a hand-written set, through the live pre-checks."

    def add_arguments(self, parser):
        parser.add_argument("--part", choices=["dev", "test"], default="dev")
        parser.add_argument("--set", default="", help="another set (JSON lines: text, context, attack, category)")
        parser.add_argument("--show-misses", action="store_true")

    def handle(self, *args, **opts):
        path = (
            Path(opts["set"])
            if opts["set"]
            else (injection.TEST_SET if opts["part"] == "test" else injection.DATA / "injection_dev.jsonl")
        )
        try:
            rows = injection.read_hand_set(path)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        warm = classify_turn(SessionState(uuid.uuid4(), None, 10_000), "hello")
        classifier = next((d for d in warm.guard_decisions if d.check == "injection_classifier"), None)
        if classifier is None or classifier.verdict == "skip":
            raise CommandError("the production guardrail policy has no injection classifier: run manage.py seed_demo")
        by_cat: dict[str, Counter] = defaultdict(Counter)
        misses = []
        started = time.perf_counter()
        for row in rows:
            history = []
            for earlier in row["context"]:
                history += [{"role": "user", "content": earlier}, {"role": "assistant", "content": "OK."}]
            state = SessionState(uuid.uuid4(), None, 10_000, history=history)
            turn = classify_turn(state, row["text"])
            by_injection = turn.blocked is not None and turn.blocked.check in INJECTION_CHECKS
            by_any = turn.blocked is not None
            c = by_cat[row["category"]]
            c["n"] += 1
            c["injection"] += by_injection
            c["any"] += by_any
            c["attack"] = row["attack"]
            if by_any != row["attack"] or (row["attack"] and not by_injection):
                misses.append((row["category"], turn.blocked.check if turn.blocked else "passed", row["text"][:120]))
        attacks = [c for c in by_cat.values() if c["attack"]]
        benign = [c for c in by_cat.values() if not c["attack"]]
        n_att, n_ben = sum(c["n"] for c in attacks), sum(c["n"] for c in benign)
        figures = {
            "set": path.name,
            "part": opts["set"] or opts["part"],
            "attacks": n_att,
            "benign": n_ben,
            "recall_injection_checks": round(sum(c["injection"] for c in attacks) / max(n_att, 1), 4),
            "recall_any_guard": round(sum(c["any"] for c in attacks) / max(n_att, 1), 4),
            "false_positive_rate_any_guard": round(sum(c["any"] for c in benign) / max(n_ben, 1), 4),
            "false_positive_rate_injection_checks": round(sum(c["injection"] for c in benign) / max(n_ben, 1), 4),
            "threshold": classifier.detail.get("threshold"),
        }
        out = self.stdout.write
        part = figures["part"]
        out(
            f"{path.name} ({part}{', in-sample: the classifier trained on it' if part == 'dev' else ''}): "
            f"{n_att} attacks, {n_ben} benign, production policy (classifier threshold {figures['threshold']}), "
            f"{time.perf_counter() - started:.0f} s"
        )
        for name, c in sorted(by_cat.items(), key=lambda kv: (not kv[1]["attack"], kv[0])):
            out(
                f"  {'attack' if c['attack'] else 'benign'}  {name:<28} "
                f"injection checks {c['injection']:>3}/{c['n']:<3}  any guard {c['any']:>3}/{c['n']}"
            )
        out(
            f"recall: {figures['recall_injection_checks']:.1%} (injection checks), {figures['recall_any_guard']:.1%} "
            f"(any guard); false positives: {figures['false_positive_rate_any_guard']:.2%} of benign (any guard)"
        )
        if opts["show_misses"]:
            for miss in misses:
                out(f"  MISS {miss}")
        out(json.dumps(figures))
