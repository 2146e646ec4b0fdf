"""A canary drill on this database: a release whose generator fails a given share of turns goes to a
canary, traffic is served through the real pipeline, and the canary check decides. Prints both arms'
evidence; the last line is JSON. Everything it changes is audited like a real canary."""

import contextlib
import json
import os
import time
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat.generation import GenerationError
from chat.turn import SessionState, run_turn
from experiments.allocation import release_for_session
from registry.models import Canary, ComponentKind
from registry.rollout.monitoring import canary_check
from registry.selectors import release_for_alias
from registry.services import (
    RegistryError,
    canary_start,
    canary_step,
    component_version_register,
    release_create,
)

QUERIES = [
    "hi there! tell me something fun about manga, number {i}",
    "do you ship to Canada? question {i}",
    "recommend a dark fantasy manga like Berserk, please ({i})",
]


class Command(BaseCommand):
    help = "Canary drill: inject an error rate on a canary arm, serve traffic, let the check decide."

    def add_arguments(self, parser):
        parser.add_argument("--error-rate", type=float, default=0.03)
        parser.add_argument("--sessions", type=int, default=600)
        parser.add_argument("--percent", type=int, default=50, choices=[1, 10, 50, 100])

    def handle(self, *args, error_rate, sessions, percent, **options):
        settings.CHAT_TRACE_WRITES_INLINE = True
        production = release_for_alias("production")
        if production is None:
            raise CommandError("nothing is in production: run seed_demo first")
        version = component_version_register(
            kind=ComponentKind.GENERATOR,
            actor="system:canary-drill",
            framework="scripted drill generator",
            config={
                "provider": "scripted",
                "model_id": "drill-model",
                "default": "Manga is fun!",
                "fail_rate": error_rate,
            },
            notes=f"canary drill: {error_rate:.0%} injected errors",
        )
        release = release_create(
            actor="system:canary-drill",
            versions=[version],
            based_on=production,
            notes=f"canary drill ({error_rate:.0%} errors)",
        )
        try:
            canary = canary_start(
                release=release,
                actor="system:canary-drill",
                reason="drill",
                # the drill's release fails on purpose; the audit entry records the waiver
                gate_waiver="canary_drill: a release with injected errors, for the automatic rollback to catch",
            )
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        while canary.percent < percent:
            canary = canary_step(actor="system:canary-drill", expected_percent=canary.percent, reason="drill")
        self.stdout.write(
            f"machine: {os.cpu_count()} cores; canary release {release.number} at {canary.percent}% "
            f"against production {production.number}; {sessions} one-turn sessions; "
            f"injected error rate {error_rate:.1%} on the canary arm"
        )
        started = time.perf_counter()
        served = {}
        for i in range(sessions):
            state = SessionState(uuid.uuid4(), None, 10_000)
            arm = release_for_session(state.session_id).number
            served[arm] = served.get(arm, 0) + 1
            with contextlib.suppress(GenerationError):
                run_turn(state, QUERIES[i % len(QUERIES)].format(i=i))
        self.stdout.write(f"served {served} in {time.perf_counter() - started:.1f} s")
        result = canary_check()
        canary.refresh_from_db()
        for label, arm in result["arms"]:
            self.stdout.write(
                f"  {label:<10} release {arm['release']}: {arm['turns']} turns, {arm['errors']} errors "
                f"({arm['error_pct']}), escalation {arm['escalation_pct']}, p99 {arm['p99_ms']} ms"
            )
        for name, check in result["checks"].items():
            self.stdout.write(f"  rule {name}: p={check['p_value']} breached={check['breached']}")
        self.stdout.write(f"verdict: {result['verdict']}; canary state: {canary.state}")
        if canary.state == Canary.State.ACTIVE:
            self.stdout.write("the canary is still serving: stop or step it on /releases/canary/")
        c = result["arms"][0][1]
        self.stdout.write(
            json.dumps(
                {
                    "verdict": result["verdict"],
                    "state": canary.state,
                    "canary_turns": c["turns"],
                    "canary_errors": c["errors"],
                    "canary_error_rate": c["error_rate"],
                    "p_value": result["checks"]["error_rate"]["p_value"],
                }
            )
        )
