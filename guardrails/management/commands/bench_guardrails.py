"""python manage.py bench_guardrails: latency of every guardrail check, pre + post per turn, and the
streaming filter per chunk (seed US-7.1 budget 100 ms total, US-7.4 5 ms a chunk; issue targets
30 ms p99 and 1 ms p99).

Pure CPU, no database: catalog facts and retrieved context are built from chat/data/catalog.json,
the injection classifier is trained in-process from the repository's dataset. Messages are the
adversarial suite's attacks and benign queries; answers are composed from catalog lines and policy
text at lengths up to ``--max-chars`` (1,500 by default), a tenth of them with a made-up price.
Baseline in the same run: presidio's full predefined recognizer registry on the same answers,
against the trimmed registry the policy configures.
"""

import json
import os
import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand

from chat.embeddings import MODEL_NAME, embed_query, embed_training_texts
from chat.generation import tokenise_for_stream
from chat.retrieval import Hit
from evaluation.adversarial import DATA, load_cases
from guardrails import catalog as guard_catalog
from guardrails import injection, pii
from guardrails.checks import post_checks, pre_checks
from guardrails.policy import DEFAULT_POLICY, Policy
from guardrails.streaming import StreamGuard, stream_facts


def _pct(values) -> dict:
    arr = np.asarray(values, dtype=float)
    return {f"p{p}_ms": round(float(np.percentile(arr, p)), 4) for p in (50, 95, 99)}


def _product_text(p: dict) -> str:
    price = f"${p['price']}" + (f" (on sale, list price ${p['list_price']})" if p.get("list_price") else "")
    stock = "in stock" if int(p.get("stock", 0)) > 0 else "out of stock"
    return (
        f"{p['title']}. Series: {p['series']}. Author: {p['author']}. Format: {p['format']}. Price: {price}. "
        f"Availability: {stock}. ASIN {p['asin']}. {p.get('description', '')}"
    )


class Command(BaseCommand):
    help = "Measure p50/p95/p99 of each guardrail check, pre + post per turn, and the streaming filter per chunk."

    def add_arguments(self, parser):
        parser.add_argument("--turns", type=int, default=400, help="Synthetic turns per repeat")
        parser.add_argument("--repeats", type=int, default=3)
        parser.add_argument("--warmup", type=int, default=50)
        parser.add_argument("--max-chars", type=int, default=1500)

    def handle(self, *args, **opts):
        out = self.stdout.write
        rng = random.Random(11)
        self._vectors: dict = {}
        products = json.loads((settings.DATA_DIR / "catalog.json").read_text())
        guard_catalog._cached = (
            float("inf"),
            guard_catalog.CatalogFacts(
                asins=frozenset(p["asin"] for p in products),
                prices={p["asin"]: frozenset(Decimal(x) for x in (p["price"], p["list_price"]) if x) for p in products},
                titles=tuple(sorted(((p["title"].lower(), p["asin"]) for p in products), key=lambda x: -len(x[0]))),
            ),
        )
        policies = [
            (settings.DATA_DIR / "knowledge" / "policy" / name).read_text().split("---")[-1].strip()
            for name in ("returns.md", "shipping.md", "pre-orders.md")
        ]
        with tempfile.TemporaryDirectory() as tmp:
            trained = injection.train_joint(
                DATA / "injection_train.jsonl",
                lambda texts: embed_training_texts(texts, settings.EMBEDDING_CACHE_DIR),
                embedder=MODEL_NAME,
                threshold=DEFAULT_POLICY["checks"]["injection_classifier"]["threshold"],
                folds=0,
            )
            path = Path(tmp) / "injection.pkl"
            policy = Policy("bench", DEFAULT_POLICY, (str(path), injection.save(trained.model, path)))
            injection.load(*policy.classifier)
            messages = [c["text"] for c in load_cases(DATA / "suite_attacks.jsonl")]
            messages += [c["text"] for c in load_cases(DATA / "suite_benign.jsonl")]
            turns = [self._turn(rng, products, policies, messages, opts["max_chars"]) for _ in range(opts["turns"])]
            out(
                f"machine: {os.cpu_count()} cores; {len(products)} catalog products; {len(turns)} turns per repeat "
                f"(messages {min(len(t[0]) for t in turns)}-{max(len(t[0]) for t in turns)} chars, answers "
                f"{min(len(t[1]) for t in turns)}-{max(len(t[1]) for t in turns)} chars, "
                f"{sum(t[3] for t in turns)} with a made-up price); warm-up {opts['warmup']} turns; "
                f"{opts['repeats']} repeats"
            )
            for message, answer, hits, _ in turns[: opts["warmup"]]:
                self._one(policy, message, answer, hits)
            checks: dict[str, list[float]] = {}
            totals, chunk_ms, pre_ms, post_ms = [], [], [], []
            for _ in range(opts["repeats"]):
                for message, answer, hits, _ in turns:
                    total, pre_total, post_total, decisions, chunks = self._one(policy, message, answer, hits)
                    totals.append(total)
                    pre_ms.append(pre_total)
                    post_ms.append(post_total)
                    chunk_ms += chunks
                    for d in decisions:
                        if d.verdict != "skip":
                            checks.setdefault(f"{d.stage}:{d.check}", []).append(d.latency_ms)
            baseline = self._presidio_baseline([t[1] for t in turns], policy)

        out(f"\n{'check':<28} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}")
        table = {}
        for name, values in sorted(checks.items()):
            row = _pct(values)
            table[name] = row["p99_ms"]
            out(f"{name:<28} {len(values):>6} {row['p50_ms']:>9.4f} {row['p95_ms']:>9.4f} {row['p99_ms']:>9.4f}")
        pre, post, total, chunk = _pct(pre_ms), _pct(post_ms), _pct(totals), _pct(chunk_ms)
        out(f"{'pre total':<28} {len(pre_ms):>6} {pre['p50_ms']:>9.4f} {pre['p95_ms']:>9.4f} {pre['p99_ms']:>9.4f}")
        out(
            f"{'post total':<28} {len(post_ms):>6} {post['p50_ms']:>9.4f} {post['p95_ms']:>9.4f} {post['p99_ms']:>9.4f}"
        )
        out(
            f"{'pre + post per turn':<28} {len(totals):>6} {total['p50_ms']:>9.4f} {total['p95_ms']:>9.4f} "
            f"{total['p99_ms']:>9.4f}   (target p99 ≤ 30 ms; seed budget 100 ms)"
        )
        out(
            f"{'stream filter per chunk':<28} {len(chunk_ms):>6} {chunk['p50_ms']:>9.4f} {chunk['p95_ms']:>9.4f} "
            f"{chunk['p99_ms']:>9.4f}   (target p99 ≤ 1 ms; seed budget 5 ms)"
        )
        ours, full = baseline
        ratio = full["p50_ms"] / ours["p50_ms"] if ours["p50_ms"] else float("nan")
        out(
            f"\nbaseline, presidio on the same answers: configured registry p50 {ours['p50_ms']:.3f} / p99 "
            f"{ours['p99_ms']:.3f} ms; full predefined registry p50 {full['p50_ms']:.3f} / p99 {full['p99_ms']:.3f} ms "
            f"(full / configured = {ratio:.1f}x at p50)"
        )
        ok = total["p99_ms"] <= 30 and chunk["p99_ms"] <= 1
        out(self.style.SUCCESS("within targets") if ok else self.style.ERROR("TARGET MISSED"))
        out(
            json.dumps(
                {
                    "cores": os.cpu_count(),
                    "turns": len(totals),
                    "total_p50_ms": total["p50_ms"],
                    "total_p99_ms": total["p99_ms"],
                    "pre_p99_ms": pre["p99_ms"],
                    "post_p99_ms": post["p99_ms"],
                    "stream_chunks": len(chunk_ms),
                    "stream_chunk_p50_ms": chunk["p50_ms"],
                    "stream_chunk_p99_ms": chunk["p99_ms"],
                    "check_p99_ms": table,
                    "presidio_full_vs_configured_p50_ratio": round(ratio, 2),
                }
            )
        )

    def _turn(self, rng, products, policies, messages, max_chars):
        chosen = rng.sample(products, 3)
        hits = [
            Hit(i, f"catalog:{p['asin']}", "catalog", p["title"], _product_text(p), 0.8, 0.7, 3.0)
            for i, p in enumerate(chosen)
        ]
        policy_text = rng.choice(policies)
        hits.append(Hit(9, "policy:x", "policy", "Policy", policy_text, 0.6, 0.5, 2.0))
        lines = [f"• {p['title']}: ${p['price']}, in stock [{i + 1}]" for i, p in enumerate(chosen)]
        fabricated = rng.random() < 0.1
        if fabricated:
            lines[0] = f"• {chosen[0]['title']}: $1.23, in stock [1]"
        target = rng.randint(200, max_chars)
        sentences = [s.strip() for s in policy_text.replace("\n", " ").split(". ") if s.strip()]
        answer = "Here's what I found in our catalog:\n" + "\n".join(lines)
        while len(answer) < target and sentences:
            answer += " " + sentences.pop(0) + "."
        return rng.choice(messages), answer[:max_chars], hits, fabricated

    def _one(self, policy, message, answer, hits):
        # the message's sentence vector is the turn's, shared with retrieval (timed in bench_chat's embed)
        vector = self._vectors.get(message)
        if vector is None:
            vector = self._vectors[message] = embed_query(message)
        started = time.perf_counter()
        pre = pre_checks(message, policy, vector=vector)
        middle = time.perf_counter()
        post = post_checks(answer, hits=hits, question=pre.text, policy=policy)
        ended = time.perf_counter()
        guard = StreamGuard(policy, facts=stream_facts(hits, policy))  # prices, ASINs, links held as live
        chunks = []
        for piece in tokenise_for_stream(answer):
            a = time.perf_counter()
            guard.feed(piece)
            chunks.append((time.perf_counter() - a) * 1000)
        guard.finish()
        return (
            (ended - started) * 1000,
            (middle - started) * 1000,
            (ended - middle) * 1000,
            pre.decisions + post.decisions,
            chunks,
        )

    def _presidio_baseline(self, answers, policy):
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        full = AnalyzerEngine(nlp_engine=NoOpNlpEngine([{"lang_code": "en", "model_name": "no-op"}]))
        ours_ms, full_ms = [], []
        for answer in answers[:200]:
            a = time.perf_counter()
            pii.redact(answer, policy.check("pii"))
            b = time.perf_counter()
            full.analyze(answer, language="en")
            c = time.perf_counter()
            ours_ms.append((b - a) * 1000)
            full_ms.append((c - b) * 1000)
        return _pct(ours_ms), _pct(full_ms)
