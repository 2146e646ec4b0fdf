"""Benchmark: analyse one experiment over a million sessions (US-2.3 scale).

In a scratch database (Django's test-database machinery; the real one is never touched) it loads
--sessions exposures of a two-arm experiment with their traces, thumbs and storefront events
(PostgreSQL COPY when available), ANALYZEs, then times the full analysis — every arm on the primary
and guardrail metrics with the sequential test, and the SRM check — after a warm-up, --repeats times.
It also times the 12-point results timeline the page draws. The last line is JSON
{"sessions", "events", "analysis_s"} (the median), plus the other figures.
"""

import io
import json
import os
import platform
import random
import statistics
import time
import uuid

from django.core.management.base import BaseCommand
from django.db import connection
from django.utils import timezone

from experiments.analysis import analyse, timeline
from experiments.models import Experiment, Metric, Variant
from experiments.rollup import COLUMNS
from registry.models import Release


class Command(BaseCommand):
    help = "Load N sessions with events into a scratch database and time one experiment's full analysis."

    def add_arguments(self, parser):
        parser.add_argument("--sessions", type=int, default=1_000_000)
        parser.add_argument("--repeats", type=int, default=5)
        parser.add_argument("--seed", type=int, default=5)
        parser.add_argument("--keep", action="store_true", help="keep the scratch database (--reuse it next time)")
        parser.add_argument("--reuse", action="store_true", help="analyse a kept scratch database without loading")

    def handle(self, *args, sessions, repeats, seed, keep, reuse, **options):
        out = self.stdout.write
        creation = connection.creation
        old_name = connection.settings_dict["NAME"]
        scratch = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=reuse, serialize=False)
        try:
            out(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
            out(f"database: {connection.vendor}, scratch database {scratch}")
            figures = self._run(out, sessions, repeats, seed, reuse)
        finally:
            creation.destroy_test_db(old_name, verbosity=0, keepdb=keep or reuse)
        out(json.dumps(figures))

    def _run(self, out, sessions, repeats, seed, reuse):

        if reuse and Experiment.objects.filter(name="bench").exists():
            experiment = Experiment.objects.get(name="bench")
            sessions = experiment.exposures.count()
            counts = {"traces": 0, "feedback": 0, "events": 0, "events_total": 0}
            out(f"reusing the kept scratch database: {sessions:,} sessions")
            return self._measure(out, experiment, sessions, repeats, counts, 0.0)

        control_release = Release.objects.create(number=1, created_by="bench")
        variant_release = Release.objects.create(number=2, created_by="bench")
        now = timezone.now()
        experiment = Experiment.objects.create(
            name="bench",
            hypothesis="bench",
            status=Experiment.Status.RUNNING,
            primary_metric=Metric.THUMBS_UP,
            guardrail_metrics=[Metric.ESCALATION, Metric.CONVERSION, Metric.LATENCY],
            created_by="bench",
            started_at=now - timezone.timedelta(days=7),
        )
        control = Variant.objects.create(
            experiment=experiment, key="control", name="control", release=control_release, weight=50, is_control=True
        )
        treatment = Variant.objects.create(
            experiment=experiment, key="b", name="b", release=variant_release, weight=50, order=1
        )
        started = time.perf_counter()
        counts = self._load(experiment, control, treatment, sessions, seed, now)
        load_s = time.perf_counter() - started
        return self._measure(out, experiment, sessions, repeats, counts, load_s)

    def _measure(self, out, experiment, sessions, repeats, counts, load_s):

        out(
            f"sizes: {sessions:,} sessions; {counts['traces']:,} traces, {counts['feedback']:,} thumbs, "
            f"{counts['events']:,} storefront events ({counts['events_total']:,} events in all); "
            f"loaded in {load_s:.1f} s"
        )
        metrics = [experiment.primary_metric, *experiment.guardrail_metrics]
        out(f"analysis: {len(metrics)} metrics ({', '.join(metrics)}) x 2 arms, sequential test, SRM")
        analyse(experiment)  # warm-up (cold caches, plans)
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            result = analyse(experiment)
            runs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        points = timeline(experiment)
        timeline_s = time.perf_counter() - t0
        primary = result["metrics"][experiment.primary_metric]["b"]
        out(
            f"warm-up 1, repeats {repeats}: analysis p50 {statistics.median(runs):.3f} s, "
            f"min {min(runs):.3f} s, max {max(runs):.3f} s (target ≤ 2 s)"
        )
        out(
            f"result: units {[a['units'] for a in result['arms']]}, thumbs-up effect {primary['test']['effect']:+.2%} "
            f"p={primary['test']['p_value']:.4g}, verdict {result['verdict']}; SRM p={result['srm_p_value']:.3f}"
        )
        out(f"timeline ({len(points)} points, primary metric): {timeline_s:.3f} s")
        return {
            "sessions": sessions,
            "events": counts["events_total"],
            "analysis_s": round(statistics.median(runs), 3),
            "analysis_runs_s": [round(r, 3) for r in runs],
            "timeline_s": round(timeline_s, 3),
            "load_s": round(load_s, 1),
            "database": connection.vendor,
        }

    def _load(self, experiment, control, treatment, sessions, seed, now):
        rng = random.Random(seed)
        exposures, traces, feedback, events = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO()
        totals = io.StringIO()  # what the trace writer, the feedback path and the events API keep per session
        n_traces = n_feedback = n_events = 0
        stamp = now.isoformat()
        for i in range(sessions):
            sid = uuid.UUID(int=rng.getrandbits(128), version=4)
            is_b = rng.random() < 0.5
            variant = treatment if is_b else control
            at = (now - timezone.timedelta(seconds=rng.randint(0, 7 * 86400))).isoformat()
            exposures.write(f"{experiment.pk}\t{variant.pk}\t{sid}\t\\N\t{at}\n")
            intent = "escalation" if rng.random() < 0.05 else "recommendation"
            latency = rng.gauss(800, 150)
            tid, mid = uuid.UUID(int=rng.getrandbits(128), version=4), uuid.UUID(int=rng.getrandbits(128), version=4)
            traces.write(
                f"{tid}\t{sid}\t{mid}\t\\N\t{intent}\t{variant.release.number}\t{{}}\tq\tanswer text\t[]\t{stamp}\t"
                f"{latency:.1f}\t\\N\t0\t0\t0.0004\t0\t\t\t\n"
            )
            n_traces += 1
            u = rng.random()
            if u < (0.55 if is_b else 0.5):
                thumbs = "up"
            elif u < 0.6:
                thumbs = "down"
            else:
                thumbs = None
            if thumbs:
                feedback.write(f"{sid}\t{mid}\t{tid}\t{intent}\t{variant.release.number}\t{thumbs}\t\t{stamp}\n")
                n_feedback += 1
            converted = rng.random() < 0.08
            if converted:
                events.write(f"bench-{i}-conversion\t{sid}\tconversion\t1\t{stamp}\n")
                n_events += 1
            totals.write(
                f"{sid}\t1\t{latency:.1f}\t0.0004\t11\t{int(intent == 'escalation')}\t{int(thumbs == 'up')}\t"
                f"{int(thumbs == 'down')}\t{int(converted)}\t0\t0\t0\n"
            )
        self._copy("experiments_exposure", ["experiment_id", "variant_id", "unit_id", "user_id", "at"], exposures)
        self._copy(
            "chat_trace",
            [
                "trace_id",
                "session_id",
                "message_id",
                "user_id",
                "intent",
                "release",
                "versions",
                "user_text",
                "answer",
                "citations",
                "started_at",
                "latency_ms",
                "ttft_ms",
                "input_tokens",
                "output_tokens",
                "cost_usd",
                "degraded",
                "error",
                "guardrail_verdict",
                "guardrail_reason",
            ],
            traces,
        )
        self._copy(
            "chat_feedback",
            ["session_id", "message_id", "trace_id", "intent", "release", "value", "comment", "created_at"],
            feedback,
        )
        self._copy("experiments_event", ["event_id", "session_id", "kind", "value", "at"], events)

        self._copy("experiments_sessionstat", ["session_id", *COLUMNS], totals)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for table in (
                    "experiments_exposure",
                    "chat_trace",
                    "chat_feedback",
                    "experiments_event",
                    "experiments_sessionstat",
                ):
                    cursor.execute(f"ANALYZE {table}")
            else:
                cursor.execute("ANALYZE")
        return {
            "traces": n_traces,
            "feedback": n_feedback,
            "events": n_events,
            "events_total": n_traces + n_feedback + n_events,
        }

    def _copy(self, table, columns, buffer):
        buffer.seek(0)
        if connection.vendor == "postgresql":
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                while chunk := buffer.read(1 << 20):
                    copy.write(chunk)
            return
        rows = [[None if v == "\\N" else v for v in line.split("\t")] for line in buffer.getvalue().splitlines()]
        with connection.cursor() as cursor:
            marks = ", ".join(["%s"] * len(columns))
            # table and column names are this command's constants
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608
