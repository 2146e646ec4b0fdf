"""Benchmark: audit appends (1 and 4 concurrent writers) and chain verification.

Runs in a scratch database made and dropped by Django's test-database machinery, so the real
(append-only) audit log is never touched. Baseline in the same run: Django admin's own unchained
LogEntry.log_action, the peer that ships with Django.
"""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time

import orjson
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction

from audit.models import AuditAction
from audit.selectors import audit_chain_verify
from audit.services import audit_record


def _percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"p50": None, "p95": None, "p99": None}
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": round(qs[49], 3), "p95": round(qs[94], 3), "p99": round(qs[98], 3)}


def _payload(i: int, writer: int) -> dict:
    return {
        "actor": f"system:bench-{writer}",
        "action": AuditAction.ADMIN_CHANGE,
        "target_type": "bench.item",
        "target_id": str(i),
        "before": {"price": "9.99", "stock": i % 50, "tags": ["a", "b"]},
        "after": {"price": "8.99", "stock": i % 50 + 1, "tags": ["a", "b", "sale"]},
        "reason": "benchmark",
        "evidence": {"run": i},
    }


class Command(BaseCommand):
    help = "Measure audit append throughput (1 and 4 writers) and verification throughput in a scratch database."

    def add_arguments(self, parser):
        parser.add_argument(
            "--entries", type=int, default=200_000, help="Entries in the chain at the end (half per append phase)"
        )
        parser.add_argument("--warmup", type=int, default=500)
        parser.add_argument("--writers", type=int, default=4)
        parser.add_argument("--verify-repeats", type=int, default=3)
        parser.add_argument("--baseline", type=int, default=10_000, help="Django LogEntry appends for the baseline")

    def _append_many(self, n: int, writer: int, start: int, latencies: list[float] | None = None) -> None:
        for i in range(start, start + n):
            t0 = time.perf_counter()
            with transaction.atomic():
                audit_record(**_payload(i, writer))
            if latencies is not None:
                latencies.append((time.perf_counter() - t0) * 1000)

    def handle(self, *args, **opts):
        total, warmup, writers = opts["entries"], opts["warmup"], opts["writers"]
        if total < 2 * writers or total <= 0:
            raise CommandError("--entries must be at least twice --writers")
        out = self.stdout.write
        creation = connection.creation
        old_name = connection.settings_dict["NAME"]
        test_name = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
        try:
            with connection.cursor() as cur:
                cur.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
                db_version = cur.fetchone()[0].split(",")[0]
            out(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
            out(f"database: {connection.vendor} ({db_version}), scratch database {test_name}")
            half = total // 2
            per_writer = half // writers
            out(
                f"sizes: {half} appends by 1 writer, {per_writer * writers} by {writers} writers; "
                f"warm-up {warmup} appends; verify repeats {opts['verify_repeats']}; "
                f"baseline {opts['baseline']} LogEntry appends"
            )

            self._append_many(warmup, 0, 0)

            latencies: list[float] = []
            t0 = time.perf_counter()
            self._append_many(half, 1, warmup, latencies)
            one_s = time.perf_counter() - t0
            one_rate = half / one_s
            lat = _percentiles(latencies)
            out(
                f"append, 1 writer: {one_rate:,.0f} entries/s ({half} in {one_s:.1f} s); "
                f"latency ms p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']}"
            )

            errors: list[BaseException] = []

            def worker(w: int) -> None:
                try:
                    self._append_many(per_writer, 10 + w, warmup + half + w * per_writer)
                except BaseException as exc:  # reported below, never swallowed
                    errors.append(exc)
                finally:
                    connections.close_all()

            threads = [threading.Thread(target=worker, args=(w,)) for w in range(writers)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            many_s = time.perf_counter() - t0
            if errors:
                raise CommandError(f"{len(errors)} writer(s) failed: {errors[0]!r}")
            many_rate = per_writer * writers / many_s
            out(f"append, {writers} writers: {many_rate:,.0f} entries/s ({per_writer * writers} in {many_s:.1f} s)")

            user_id = self._bench_user_id()
            t0 = time.perf_counter()
            for i in range(opts["baseline"]):
                with transaction.atomic():
                    LogEntry.objects.log_action(
                        user_id=user_id,
                        content_type_id=None,
                        object_id=str(i),
                        object_repr="bench",
                        action_flag=CHANGE,
                        change_message="benchmark",
                    )
            base_rate = opts["baseline"] / (time.perf_counter() - t0)
            out(
                f"baseline, Django LogEntry.log_action (no chain), 1 writer: {base_rate:,.0f} entries/s; "
                f"chained/baseline ratio {one_rate / base_rate:.2f}"
            )

            rates, checked = [], 0
            for r in range(opts["verify_repeats"]):
                t0 = time.perf_counter()
                result = audit_chain_verify()
                secs = time.perf_counter() - t0
                if not result.ok:
                    raise CommandError(f"chain broken after the benchmark: {result.first_break}")
                checked = result.checked
                rates.append(checked / secs)
                out(f"verify, repeat {r + 1}: {checked:,} entries in {secs:.2f} s = {checked / secs:,.0f} entries/s")
            verify_rate = statistics.median(rates)
            out(f"verify median: {verify_rate:,.0f} entries/s; chain intact, gapless 1..{checked}")
            figures = {
                "append_per_s_1_writer": round(one_rate, 1),
                f"append_per_s_{writers}_writers": round(many_rate, 1),
                "verify_per_s": round(verify_rate, 1),
                "append_latency_ms_1_writer": lat,
                "baseline_logentry_per_s": round(base_rate, 1),
                "entries": checked,
                "cores": os.cpu_count(),
                "database": connection.vendor,
            }
        finally:
            connections.close_all()
            creation.destroy_test_db(old_name, verbosity=0)
        out(orjson.dumps(figures).decode())

    def _bench_user_id(self) -> int:
        from django.contrib.auth.models import User

        user, _ = User.objects.get_or_create(username="bench-audit")
        return user.pk
