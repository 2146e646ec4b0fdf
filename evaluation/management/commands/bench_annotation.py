"""Benchmark: the annotation queue's next-item call with 10 annotators pulling at once (issue 8).

In a scratch database (Django's test-database machinery; the real one is never touched) it loads an
open batch of --items production answers (20% scored twice) beside --history items of closed past
batches, then starts --annotators processes (one per annotator, as separate server workers would be).
Each round, all of them wait on a barrier and call ``task_next`` at the same moment; the call is timed,
then the item is scored (not timed). --warmup rounds are dropped, --rounds are kept. It runs the
queue twice: with FOR UPDATE SKIP LOCKED (ours) and, as the baseline, with a plain FOR UPDATE (every
claimer waits on the same first row), and prints the ratio. It also checks that no single-annotation
item was handed to two annotators. PostgreSQL only: SQLite has no row locks.
The last line is JSON {"annotators", "next_item_p50_ms", "next_item_p99_ms", ...}.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import statistics
import time
import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.utils import timezone

from chat.models import Trace
from evaluation.annotation.services import task_next, task_submit
from evaluation.models import AnnotationBatch, AnnotationItem, AnnotationTask

SCORES = {"factual": "4", "helpful": "4", "tone": "4", "format": "4", "purchase": "yes"}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _annotator(user_id, rounds, warmup, barrier, results, skip_locked):
    from django.contrib.auth import get_user_model

    connections.close_all()  # a connection of its own, never the parent's socket
    user = get_user_model().objects.get(pk=user_id)
    times, handed = [], []
    try:
        for r in range(warmup + rounds):
            barrier.wait(timeout=120)
            started = time.perf_counter()
            task = task_next(user, skip_locked=skip_locked)
            elapsed = time.perf_counter() - started
            if task is None:
                raise RuntimeError("the queue ran dry: raise --items")
            handed.append((task.item_id, task.pk))
            task_submit(user, task.pk, SCORES)
            if r >= warmup:
                times.append(elapsed)
        results.put((user_id, times, handed, ""))
    except Exception as exc:  # noqa: BLE001 - reported by the parent
        barrier.abort()
        results.put((user_id, times, handed, f"{type(exc).__name__}: {exc}"))
    finally:
        connections.close_all()


class Command(BaseCommand):
    help = "Time next-item calls of the annotation queue with N annotators pulling at once (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--annotators", type=int, default=10)
        parser.add_argument("--items", type=int, default=3000, help="items of the open batch")
        parser.add_argument("--history", type=int, default=20000, help="scored items of closed batches")
        parser.add_argument("--rounds", type=int, default=40)
        parser.add_argument("--warmup", type=int, default=3)

    def handle(self, *args, annotators, items, history, rounds, warmup, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "bench_annotation needs PostgreSQL (SKIP LOCKED row locks); set DATABASE_URL, e.g. "
                "DATABASE_URL=postgres://postgres@127.0.0.1:5432/mangaconsole"
            )
        needed = 2 * annotators * (rounds + warmup)
        if items < needed:
            raise CommandError(
                f"--items must be at least {needed} (two runs of {annotators} × {rounds + warmup} pulls)"
            )
        out = self.stdout.write
        creation = connection.creation
        old_name = connection.settings_dict["NAME"]
        scratch = creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            out(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
            out(f"database: PostgreSQL {connection.pg_version}, scratch database {scratch}")
            figures = self._run(out, annotators, items, history, rounds, warmup)
        finally:
            connections.close_all()
            creation.destroy_test_db(old_name, verbosity=0)
        out(json.dumps(figures))

    def _load(self, out, annotators, items, history):
        from django.contrib.auth import get_user_model

        now = timezone.now()
        users = [
            get_user_model().objects.create_user(username=f"bench-annotator-{i}", password=None)
            for i in range(annotators)
        ]
        started = time.perf_counter()
        traces = Trace.objects.bulk_create(
            Trace(
                trace_id=uuid.uuid4(),
                session_id=uuid.uuid4(),
                intent=("faq", "recommendation", "order_tracking")[i % 3],
                user_text=f"question {i}",
                answer=f"answer {i}",
                started_at=now - timedelta(minutes=i),
            )
            for i in range(items + history)
        )

        def batch(name, status, part, done):
            b = AnnotationBatch.objects.create(
                name=name,
                source="weekly",
                period_start=now - timedelta(days=7),
                period_end=now,
                requested=len(part),
                overlap_share=0.2,
                status=status,
                created_by="bench",
            )
            made = AnnotationItem.objects.bulk_create(
                AnnotationItem(batch=b, trace=t, position=i + 1, intent=t.intent, needed=2 if i % 5 == 0 else 1)
                for i, t in enumerate(part)
            )
            AnnotationTask.objects.bulk_create(
                (
                    AnnotationTask(batch=b, item=it, slot=s, done_at=now if done else None)
                    for it in made
                    for s in range(1, it.needed + 1)
                ),
                batch_size=5000,
            )
            return b

        batch("past weeks", "closed", traces[items:], True)
        open_batch = batch("this week", "open", traces[:items], False)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        out(
            f"sizes: open batch {items:,} items ({open_batch.tasks.count():,} tasks, 20% scored twice); "
            f"closed batches {history:,} items; loaded in {time.perf_counter() - started:.1f} s"
        )
        return [u.pk for u in users]

    def _measure(self, user_ids, rounds, warmup, skip_locked):
        connections.close_all()
        ctx = multiprocessing.get_context("fork")
        barrier, results = ctx.Barrier(len(user_ids)), ctx.Queue()
        procs = [
            ctx.Process(target=_annotator, args=(uid, rounds, warmup, barrier, results, skip_locked))
            for uid in user_ids
        ]
        for p in procs:
            p.start()
        rows = [results.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(30)
        errors = [e for *_, e in rows if e]
        if errors:
            raise CommandError("an annotator failed: " + "; ".join(errors))
        times = [t * 1000 for _, ts, _, _ in rows for t in ts]
        handed = [(uid, item, task) for uid, _, h, _ in rows for item, task in h]
        return times, handed

    def _run(self, out, annotators, items, history, rounds, warmup):

        user_ids = self._load(out, annotators, items, history)
        out(
            f"annotators: {annotators} processes pulling at the same moment (a barrier), "
            f"{warmup} warm-up + {rounds} rounds"
        )
        figures = {"annotators": annotators}
        for label, skip in (("skip_locked", True), ("for_update", False)):
            times, handed = self._measure(user_ids, rounds, warmup, skip)
            needed = dict(AnnotationItem.objects.filter(pk__in={i for _, i, _ in handed}).values_list("pk", "needed"))
            by_item: dict[int, list[int]] = {}
            for uid, item, _ in handed:
                by_item.setdefault(item, []).append(uid)
            shared_single = sum(1 for item, uids in by_item.items() if needed[item] == 1 and len(uids) > 1)
            twice_to_one = sum(1 for uids in by_item.values() if len(uids) != len(set(uids)))
            p50, p95, p99 = (_pct(times, q) for q in (0.5, 0.95, 0.99))
            out(
                f"{label:12s} next item over {len(times)} pulls: p50 {p50:.2f} ms  p95 {p95:.2f} ms  p99 {p99:.2f} ms  "
                f"max {max(times):.2f} ms  mean {statistics.fmean(times):.2f} ms; single items handed to two "
                f"annotators: {shared_single}; items handed twice to one annotator: {twice_to_one}"
            )
            figures[label] = {
                "p50_ms": round(p50, 2),
                "p95_ms": round(p95, 2),
                "p99_ms": round(p99, 2),
                "pulls": len(times),
                "shared_single_items": shared_single,
                "twice_to_one": twice_to_one,
            }
        ours, base = figures["skip_locked"], figures["for_update"]
        out(f"baseline / ours: p50 ×{base['p50_ms'] / ours['p50_ms']:.2f}, p99 ×{base['p99_ms'] / ours['p99_ms']:.2f}")
        figures["next_item_p50_ms"] = ours["p50_ms"]
        figures["next_item_p99_ms"] = ours["p99_ms"]
        figures["target_p99_ms"] = 50
        return figures
