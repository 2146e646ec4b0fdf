import json
import statistics
import time
from pathlib import Path

import orjson
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat.intent import load as load_intent
from chat.intent import predict
from chat.retrieval import retrieve
from chat.serving import serving_context


class Command(BaseCommand):
    help = "Recall@3 and MRR@3 of retrieval on the labelled query set (chat/data/retrieval_queries.jsonl)."

    def add_arguments(self, parser):
        parser.add_argument("--queries", default=str(settings.DATA_DIR / "retrieval_queries.jsonl"))
        parser.add_argument("--k", type=int, default=3)
        parser.add_argument("--min-recall", type=float, default=0.80)
        parser.add_argument("--show-misses", action="store_true")

    def handle(self, *args, **opts):
        path, k = Path(opts["queries"]), opts["k"]
        try:
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        ctx = serving_context()
        model = load_intent(*ctx.intent_artifact)
        retrieve("warm up", embedder_version=ctx.embedder_version, config=ctx.reranker_config)  # load the model first
        hits_at_k, reciprocal, latencies, by_kind, misses = 0, [], [], {}, []
        for row in rows:
            intent, _ = predict(model, row["query"])
            t0 = time.perf_counter()
            top = retrieve(
                row["query"], embedder_version=ctx.embedder_version, intent=intent, k=k, config=ctx.reranker_config
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            keys = [h.key for h in top]
            rank = next((i + 1 for i, key in enumerate(keys) if key in row["relevant"]), None)
            found = rank is not None
            hits_at_k += found
            reciprocal.append(1.0 / rank if found else 0.0)
            stats = by_kind.setdefault(row.get("kind", "all"), [0, 0])
            stats[0] += found
            stats[1] += 1
            if not found:
                misses.append((row["query"], row["relevant"], keys))
        n = len(rows)
        recall, mrr = hits_at_k / n, sum(reciprocal) / n
        q = statistics.quantiles(latencies, n=100)
        self.stdout.write(
            f"{n} labelled queries, k={k}, embedder {ctx.embedder_version}, reranker {ctx.versions.get('reranker')}"
        )
        for kind, (found, total) in sorted(by_kind.items()):
            self.stdout.write(f"  {kind:<11} Recall@{k} {found / total:.3f} ({found}/{total})")
        self.stdout.write(
            f"Recall@{k} {recall:.3f}  MRR@{k} {mrr:.3f}  "
            f"retrieval latency ms p50 {q[49]:.1f} p95 {q[94]:.1f} p99 {q[98]:.1f}"
        )
        if opts["show_misses"]:
            for query, relevant, got in misses:
                self.stdout.write(f"  miss: {query!r} wanted {relevant} got {got}")
        self.stdout.write(
            orjson.dumps(
                {
                    f"recall_at_{k}": round(recall, 4),
                    f"mrr_at_{k}": round(mrr, 4),
                    "queries": n,
                    "latency_p99_ms": round(q[98], 2),
                }
            ).decode()
        )
        if recall < opts["min_recall"]:
            raise CommandError(f"Recall@{k} {recall:.3f} is under {opts['min_recall']}")
