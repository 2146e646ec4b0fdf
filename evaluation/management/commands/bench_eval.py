"""Benchmark: a full offline evaluation of a release on the golden dataset, time per stage.

Target (issue 5): every golden entry through the full local pipeline with every scorer in ≤ 3 min
on 2 cores (seed US-2.2 budget: 25 min). The warm-up (loading the intent model, MiniLM for
retrieval and for BERTScore) is timed apart and not counted in a run.
"""

import json
import os
import statistics
import time

from django.core.management.base import BaseCommand

from chat import embeddings
from chat.serving import serving_context
from chat.turn import warm_up
from evaluation import bertscore
from evaluation.management.commands.run_eval import release_resolve
from evaluation.services import eval_run_create, eval_run_execute


class Command(BaseCommand):
    help = "Time a full golden-dataset evaluation per stage (pipeline, scoring, baseline); last line JSON."

    def add_arguments(self, parser):
        parser.add_argument("--release", default="production")
        parser.add_argument("--repeats", type=int, default=3)

    def handle(self, *args, release, repeats, **options):

        rel = release_resolve(release)
        t = time.perf_counter()
        warm_up()
        serving_context(rel)
        bertscore.score(["warm up"], ["warm up"])
        warm = time.perf_counter() - t
        out = self.stdout.write
        out(
            f"machine: {os.cpu_count()} cores; release {rel.number}; warm-up {warm:.1f} s (not counted); {repeats} runs"
        )
        totals, stages, entries = [], {}, 0

        for i in range(repeats):
            embeddings._recent.clear()  # every run embeds every query: no vector from the previous run
            run = eval_run_create(release=rel, actor="system:bench_eval", queue=False)
            t = time.perf_counter()
            run = eval_run_execute(run.pk)
            total = time.perf_counter() - t
            entries = run.total
            totals.append(total)
            for stage, secs in run.stage_seconds.items():
                if stage != "total":
                    stages.setdefault(stage, []).append(secs)
            out(
                f"run {i + 1}: {run.total} entries in {total:.1f} s "
                f"({', '.join(f'{k} {v}' for k, v in run.stage_seconds.items() if k != 'total')}) → {run.status}"
            )
        stage_s = {k: round(statistics.median(v), 2) for k, v in stages.items()}
        total_s = round(statistics.median(totals), 2)
        out(
            f"median of {repeats}: {entries} entries in {total_s} s; per stage {stage_s}; "
            f"{total_s / max(entries, 1) * 1000:.0f} ms an entry; target 180 s → {'OK' if total_s <= 180 else 'OVER'}"
        )
        self.stdout.write(json.dumps({"entries": entries, "total_s": total_s, "stage_s": stage_s}))
