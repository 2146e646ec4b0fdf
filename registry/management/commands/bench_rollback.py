"""Benchmark: rollback click → first turn served by the restored release, in another process; and
rollback plus its post-rollback golden evaluation, end to end (US-1.3), with an A/B experiment
running at the moment of the click (the rollback must pause it: issue 16).

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

from evaluation.services import eval_run_create, eval_run_execute
from experiments.services import experiment_create, experiment_start
from registry.models import ComponentKind, Rollback
from registry.rollout.deployments import deployment_run_inline, deployment_start
from registry.rollout.rollback import release_rollback, rollback_followup
from registry.selectors import release_for_alias
from registry.services import component_version_register, release_cut_from_production

SERVER = r"""
import sys, time, uuid
from chat.turn import SessionState, run_turn, warm_up
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

            def all_served_by(t0: float, number: int, window: float = 4.0) -> tuple[float, int]:
                """Read on from where ``served_after`` stopped: seconds from t0 to the first turn of
                ``number`` after the last turn of any other release within ``window`` seconds of t0,
                and how many turns in that stretch were another release's (0: none after the first)."""
                first_good, others = None, 0
                while True:
                    line = server.stdout.readline().split()
                    if len(line) != 2 or float(line[0]) < t0:
                        continue
                    at, release = float(line[0]), int(line[1])
                    if release != number:
                        others, first_good = others + 1, None
                    elif first_good is None:
                        first_good = at - t0
                    if at - t0 > window:
                        if first_good is None:
                            raise CommandError(f"release {number} was not serving every turn {window} s after")
                        return first_good, others

            out = self.stdout.write
            out(
                f"machine: {os.cpu_count()} cores; serving process takes a turn every 50 ms (a new session each); "
                f"{repeats} repeats, each with a 50/50 experiment running when the rollback is clicked"
            )
            # The experiment's arm: a release whose evaluation gate passed (arms must have one).
            arm_version = component_version_register(
                kind=ComponentKind.GENERATOR,
                actor="system:bench_rollback",
                framework="local",
                config={"provider": "local", "model_id": "local-grounded-responder", "max_tokens": 390},
                notes="bench_rollback experiment arm",
            )
            arm = release_cut_from_production(version=arm_version, actor="system:bench_rollback", notes="bench arm")
            run = eval_run_create(release=arm, actor="system:bench_rollback", queue=False)
            if not eval_run_execute(run.pk).gate_passed:
                raise CommandError(f"the arm release {arm.number} failed its evaluation gate (run {run.pk})")
            arm.refresh_from_db()
            restored_s, all_s, stale_counts, total_s = [], [], [], []
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
                experiment = experiment_create(
                    actor="system:bench_rollback",
                    name=f"bench_rollback {new.number}",
                    hypothesis="a rollback pauses it",
                    arms=[
                        {"key": "control", "name": "Production", "release": new, "weight": 50},
                        {"key": "arm1", "name": "Arm", "release": arm, "weight": 50},
                    ],
                )
                experiment_start(experiment=experiment, actor="system:bench_rollback")
                served_after(time.time(), arm.number)  # the experiment serves its arm
                t0 = time.time()
                rollback = release_rollback(
                    actor="system:bench_rollback", reason="bench_rollback", expected_release=new.number
                )
                restored = served_after(t0, before.number)
                everyone, stale = all_served_by(t0, before.number)
                assert [p["kind"] for p in rollback.paused] == ["experiment"], rollback.paused
                rollback = rollback_followup(rollback.pk)
                if rollback.eval_run_id:
                    eval_run_execute(rollback.eval_run_id)
                total = time.time() - t0
                assert Rollback.objects.get(pk=rollback.pk).state == Rollback.State.DONE
                restored_s.append(restored)
                all_s.append(everyone)
                stale_counts.append(stale)
                total_s.append(total)
                out(
                    f"repeat {i + 1}: release {new.number} → {before.number} (experiment {experiment.pk} paused): "
                    f"first restored turn after {restored:.3f} s, every turn restored after {everyone:.3f} s "
                    f"({stale} turns by another release after the first restored one); "
                    f"rollback + evaluation {total:.1f} s"
                )
        finally:
            server.kill()
            server.wait()
        click = round(statistics.median(restored_s), 3)
        every = round(statistics.median(all_s), 3)
        full = round(statistics.median(total_s), 1)
        out(
            f"median: click → restored turn {click} s, → every turn restored {every} s (target < 2 s); "
            f"rollback + evaluation {full} s (target < 300 s)"
        )
        self.stdout.write(
            json.dumps(
                {
                    "click_to_restored_turn_s": click,
                    "click_to_all_turns_restored_s": every,
                    "stale_turns_median": statistics.median(stale_counts),
                    "rollback_with_eval_s": full,
                    "experiment_running": True,
                }
            )
        )
