"""The scope guard, end to end (issue 19 item 3): every message of a labelled scope set goes through a
whole turn on the production release (pre-guardrails, gazetteer, intent, scope guard, retrieval,
answer) and the answer is read: refused, or answered (and with products?).

    manage.py eval_scope                  # the dev set (the scope model trained on it: in-sample)
    manage.py eval_scope --part test      # the frozen, hand-written test set: read here and nowhere else
    manage.py eval_scope --sweep          # thresholds on cross-validated probabilities of the training data

A refusal is a turn a pre-generation guardrail blocked (scope, injection, toxicity) or one answered as
``out_of_scope``. Nothing here changes the model or the policy: thresholds are read off the sweep and
written in guardrails/policy.py by a person.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat import entities as entity_linking
from chat.embeddings import MODEL_NAME, embed_texts
from chat.retrieval import reset_index
from chat.turn import SessionState, run_turn
from guardrails import scope


def refused(result) -> tuple[bool, str]:
    turn = result.turn
    if turn.blocked is not None:
        detail = turn.blocked.detail.get("class") if turn.blocked.check == "scope" else ""
        return True, f"{turn.blocked.check}:{detail}" if detail else turn.blocked.check
    if turn.intent == "out_of_scope":
        return True, "intent:out_of_scope"
    return False, f"answered:{turn.intent}"


class Command(BaseCommand):
    help = "Whole turns over a labelled scope set: harmful and off-topic refused, in-scope answered."

    def add_arguments(self, parser):
        parser.add_argument("--part", choices=["dev", "test"], default="dev")
        parser.add_argument("--set", default="", help="another scope set (JSON lines: text, refuse, kind)")
        parser.add_argument("--show-misses", action="store_true")
        parser.add_argument("--sweep", action="store_true", help="threshold grid on cross-validated probabilities")

    def handle(self, *args, **opts):
        if opts["sweep"]:
            return self.sweep()
        path = Path(opts["set"]) if opts["set"] else (scope.TEST if opts["part"] == "test" else scope.DEV)
        try:
            rows = scope.read_set(path)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        reset_index()
        warm = run_turn(SessionState(uuid.uuid4(), None, 10_000), "hello", record=False)
        if not any(d.check == "scope" and d.verdict != "skip" for d in warm.turn.guard_decisions):
            raise CommandError(
                "the production guardrail policy has no scope model: run manage.py train_guardrails --promote "
                "(or manage.py seed_demo) first"
            )
        by_kind: dict[str, Counter] = defaultdict(Counter)
        why: Counter = Counter()
        misses, latencies = [], []
        started = time.perf_counter()
        for row in rows:
            t0 = time.perf_counter()
            result = run_turn(SessionState(uuid.uuid4(), None, 10_000), row["text"], record=False)
            latencies.append((time.perf_counter() - t0) * 1000)
            was_refused, reason = refused(result)
            products = bool(result.payload.get("citations"))
            want = row["label"] != "in_scope"
            c = by_kind[row.get("kind", row["label"])]
            c["n"] += 1
            c["refused"] += was_refused
            c["with_products"] += products and not was_refused
            why[("refuse" if want else "in_scope", reason)] += 1
            if was_refused != want:
                misses.append((row.get("kind"), reason, row["text"]))
        bad = [k for k in by_kind if k in scope.HARMFUL_KINDS | {"self_harm", "off_topic_task"}]
        good = [k for k in by_kind if k not in bad]
        n_bad = sum(by_kind[k]["n"] for k in bad)
        n_good = sum(by_kind[k]["n"] for k in good)
        refused_bad = sum(by_kind[k]["refused"] for k in bad)
        refused_good = sum(by_kind[k]["refused"] for k in good)
        out = self.stdout.write
        q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
        part = opts["set"] or opts["part"]
        out(
            f"{path.name} ({part}{', in-sample: the scope model trained on it' if part == 'dev' else ''}): "
            f"{len(rows)} messages, whole turns on the production release in {time.perf_counter() - started:.0f} s"
        )
        for k in bad + good:
            c = by_kind[k]
            out(
                f"  {'refuse' if k in bad else 'answer'}  {k:<28} refused {c['refused']:>3}/{c['n']:<3}"
                f"  answered with products {c['with_products']}"
            )
        out("  why (expected, outcome): " + ", ".join(f"{w[0]}/{w[1]} {n}" for w, n in why.most_common(12)))
        figures = {
            "set": path.name,
            "part": part,
            "n_refuse": n_bad,
            "n_in_scope": n_good,
            "refused_of_harmful_or_off_topic": round(refused_bad / max(n_bad, 1), 4),
            "refused_of_in_scope": round(refused_good / max(n_good, 1), 4),
            "harmful_answered_with_products": sum(by_kind[k]["with_products"] for k in bad),
            "turn_ms_p50": round(q[49], 1),
            "turn_ms_p95": round(q[94], 1),
        }
        out(
            f"harmful or off-topic refused: {figures['refused_of_harmful_or_off_topic']:.1%} of {n_bad}; "
            f"in-scope refused: {figures['refused_of_in_scope']:.1%} of {n_good}"
        )
        if opts["show_misses"]:
            for miss in misses:
                out(f"  MISS {miss}")
        out(json.dumps(figures))

    def sweep(self):
        """Thresholds on cross-validated probabilities of the training rows, read on the hand-written
        scope rows; the frozen test set is not read."""
        rows = scope.training_rows(scope.intent_files(settings.DATA_DIR))
        texts = [t for t, _, _ in rows]
        labels = [y for _, y, _ in rows]
        sources = [src for _, _, src in rows]
        vectors = np.asarray(embed_texts([t.lower() for t in texts]), dtype=np.float64)
        probs = scope.cross_validated(texts, vectors, labels, sources, embedder=MODEL_NAME)
        hand = [i for i, src in enumerate(sources) if src.startswith("scope_")]
        gaz = entity_linking.gazetteer()  # the catalog's series, as the live turn links them
        named = [entity_linking.link(texts[i], gaz).strong for i in hand]
        self.stdout.write(
            f"{len(rows)} training messages, 5-fold; figures on the {len(hand)} hand-written scope rows "
            f"({sum(named)} name a catalog entity)"
        )
        self.stdout.write("harmful  off_topic  off_topic(named)  refused(harmful/off-topic)  refused(in-scope)")
        grid = []
        for h in (0.3, 0.4, 0.5, 0.6, 0.7):
            for o in (0.3, 0.4, 0.5, 0.6, 0.7):
                for on in (0.8, 0.9, 0.95):
                    cfg = {"harmful_threshold": h, "off_topic_threshold": o, "off_topic_threshold_named": on}
                    verdicts = [scope.verdict(probs[i], cfg, named_entity=n) for i, n in zip(hand, named, strict=True)]
                    r = scope.refusal_rates([labels[i] for i in hand], verdicts)
                    grid.append({**cfg, **r})
                    self.stdout.write(
                        f"  {h:.1f}     {o:.1f}        {on:.2f}          {r['refused_of_harmful_or_off_topic']:.1%}"
                        f"                    {r['refused_of_in_scope']:.1%}"
                    )
        self.stdout.write(json.dumps({"grid": grid}))
