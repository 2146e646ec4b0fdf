"""Benchmark: rollback click → first turn served by the restored release, in another process; and
rollback plus its post-rollback golden evaluation, end to end (US-1.3).

A serving process (``manage.py shell``, the same pipeline daphne runs) takes a turn every 50 ms and
prints the release that served it with a wall-clock time. This process promotes a throw-away
release through the deployment pipeline (run in process: gate, staging, smoke, approval), waits
until the server serves it, then calls the rollback service (what the button does)
and measures until the server's first turn from the restored release. Then it runs the follow-up
(evaluation of the restored release on the golden dataset, alert) in process and times it.
"""

import json
import os
import statistics
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

SERVER = r"""
import sys, time, uuid
from chat.pipeline import SessionState, run_turn, warm_up
warm_up()
print("ready", flush=True)
while True:
    r = run_turn(SessionState(uuid.uuid4(), None, 100000), "do you ship to Canada?", record=False)
    print(f"{time.time():.4f} {r.payload['release']}", flush=True)
    time.sleep(0.05)
"""


class Command(BaseCommand):
    help = "Time rollback → restored turn (other process) and rollback + post-rollback evaluation; last line JSON."

    def add_arguments(self, parser):
        parser.add_argument("--repeats", type=int, default=3)

    def handle(self, *args, repeats, **options):
        from evaluation.services import eval_run_execute
        from registry.models import ComponentKind, Rollback
        from registry.pipeline import deployment_run_inline, deployment_start
        from registry.selectors import release_for_alias
        from registry.services import (
            component_version_register,
            release_cut_from_production,
            release_rollback,
            rollback_followup,
        )

        if release_for_alias("production") is None:
            raise CommandError("nothing is in production: run seed_demo first")
        server = subprocess.Popen(  # noqa: S603 (our own manage.py)
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "shell", "-c", SERVER],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            while server.stdout.readline().strip() != "ready":
                if server.poll() is not None:
                    raise CommandError("the serving process exited before it was ready")

            def served_after(t0: float, number: int, timeout: float = 30) -> float:
                while True:
                    line = server.stdout.readline().split()
                    if len(line) == 2 and float(line[0]) >= t0 and int(line[1]) == number:
                        return float(line[0]) - t0
                    if time.time() - t0 > timeout:
                        raise CommandError(f"release {number} never served within {timeout} s")

            out = self.stdout.write
            out(f"machine: {os.cpu_count()} cores; serving process takes a turn every 50 ms; {repeats} repeats")
            restored_s, total_s = [], []
            for i in range(repeats):
                before = release_for_alias("production")
                version = component_version_register(
                    kind=ComponentKind.GENERATOR,
                    actor="system:bench_rollback",
                    framework="local",
                    config={"provider": "local", "model_id": "local-grounded-responder", "max_tokens": 400 + i},
                    notes="bench_rollback throw-away release",
                )
                # The one path to production: the pipeline (gate, staging, smoke, a second person's approval).
                new = release_cut_from_production(version=version, actor="system:bench_rollback", notes="bench")
                deployment = deployment_start(release=new, actor="system:bench_rollback", queue=False)
                t_deploy = time.time()
                deployment_run_inline(deployment.pk, approver="system:bench_rollback_approver")
                out(
                    f"repeat {i + 1}: release {new.number} promoted through the pipeline "
                    f"in {time.time() - t_deploy:.1f} s"
                )
                served_after(time.time(), new.number)
                t0 = time.time()
                rollback = release_rollback(
                    actor="system:bench_rollback", reason="bench_rollback", expected_release=new.number
                )
                restored = served_after(t0, before.number)
                rollback = rollback_followup(rollback.pk)
                if rollback.eval_run_id:
                    eval_run_execute(rollback.eval_run_id)
                total = time.time() - t0
                assert Rollback.objects.get(pk=rollback.pk).state == Rollback.State.DONE
                restored_s.append(restored)
                total_s.append(total)
                out(
                    f"repeat {i + 1}: release {new.number} → {before.number}: restored turn after {restored:.3f} s; "
                    f"rollback + evaluation {total:.1f} s"
                )
        finally:
            server.kill()
            server.wait()
        click = round(statistics.median(restored_s), 3)
        full = round(statistics.median(total_s), 1)
        out(f"median: click → restored turn {click} s (target < 2 s); rollback + evaluation {full} s (target < 300 s)")
        self.stdout.write(json.dumps({"click_to_restored_turn_s": click, "rollback_with_eval_s": full}))
