"""Traffic for an experiment (demo and tests): sessions go through the real assignment (the chat
pipeline's ``release_for_session``, which logs the exposure) and the real event paths; a sample of
them can go through the real WebSocket of a running server. Outcomes are drawn from base rates, with
a true relative ``effect`` on the non-control arms, so one can watch an experiment reach its decision.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

from django.utils import timezone

from chat.models import Feedback, Trace
from experiments import rollup
from experiments.allocation import release_for_session
from experiments.models import Experiment, Exposure, Metric
from experiments.services import event_record, experiment_check

BASE = {
    Metric.THUMBS_UP: 0.5,
    Metric.THUMBS_DOWN: 0.1,
    Metric.ESCALATION: 0.05,
    Metric.CONVERSION: 0.08,
    Metric.RESOLUTION: 0.6,
    Metric.LATENCY: 800.0,
}


def parse_effects(items: list[str]) -> dict[str, float]:
    """["thumbs_up=0.10", "escalation=2"] → {"thumbs_up": 0.1, "escalation": 2.0} (relative lifts)."""
    effects = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in BASE:
            raise ValueError(f"--effect names one of {', '.join(BASE)}, not {name!r}")
        try:
            effects[name] = float(value)
        except ValueError:
            raise ValueError(f"--effect {item!r}: the lift after '=' is a number, e.g. 0.10 for +10%") from None
    return effects


def _ws_session(ws_url: str, thumbs: str | None) -> uuid.UUID:
    """One real chat session over the WebSocket: a turn, then the thumb."""
    import json

    from websockets.sync.client import connect

    # the console's origin check (channels' AllowedHostsOriginValidator) wants the site's own origin
    origin = ws_url.replace("wss://", "https://").replace("ws://", "http://").split("/ws/")[0]
    with connect(ws_url, open_timeout=10, origin=origin) as ws:
        first = json.loads(ws.recv(timeout=10))
        session_id = uuid.UUID(first["session_id"])
        ws.send(json.dumps({"type": "message", "text": "hi there! any manga recommendations?"}))
        message_id = None
        while True:
            frame = json.loads(ws.recv(timeout=60))
            if frame.get("type") == "done":
                message_id = frame["message_id"]
                break
            if frame.get("type") == "error":
                raise RuntimeError(f"chat error: {frame}")
        if thumbs:
            ws.send(json.dumps({"type": "feedback", "message_id": message_id, "value": thumbs}))
            while json.loads(ws.recv(timeout=10)).get("type") != "feedback_ack":
                pass
    return session_id


def simulate(
    experiment: Experiment,
    *,
    sessions: int,
    effects: dict[str, float],
    seed: int | None = None,
    ws_url: str = "",
    ws_sample: int = 0,
    check_every: int = 250,
    pause_s: float = 0.0,
    progress: Callable[[dict], None] | None = None,
) -> dict:

    rng = random.Random(seed)
    control_ids = set(experiment.variants.filter(is_control=True).values_list("pk", flat=True))
    traces, feedback = [], []
    done = {"sessions": 0, "websocket": 0, "checks": 0, "verdict": "continue", "status": experiment.status}

    def flush():

        Trace.objects.bulk_create(traces)
        Feedback.objects.bulk_create(feedback)
        deltas = rollup.from_traces(traces)
        for f in feedback:
            deltas[f.session_id][f"thumbs_{f.value}"] += 1
        rollup.add(deltas)
        traces.clear()
        feedback.clear()

    for i in range(sessions):
        # draw the outcomes first; they apply to whichever arm the session lands in
        u = [rng.random() for _ in range(5)]
        via_ws = bool(ws_url) and i < ws_sample
        sid = uuid.uuid4()
        if via_ws:
            sid = None
        else:
            release = release_for_session(sid, {"user_type": "guest", "region": ""})
        exposure = None
        if sid is not None:
            exposure = Exposure.objects.filter(experiment=experiment, unit_id=sid).first()
        lift = (
            (lambda m: 1.0)
            if exposure is None or exposure.variant_id in control_ids
            else (lambda m: 1.0 + effects.get(m, 0.0))
        )
        p_up = min(BASE[Metric.THUMBS_UP] * lift(Metric.THUMBS_UP), 1.0)
        p_down = min(BASE[Metric.THUMBS_DOWN] * lift(Metric.THUMBS_DOWN), 1.0 - p_up)
        thumbs = "up" if u[0] < p_up else "down" if u[0] < p_up + p_down else None
        if via_ws:
            # the server assigns the arm; the lift of a WebSocket session applies to its thumb only
            # once its arm is known, so its thumb is drawn at the base rate (a small, honest dilution)
            sid = _ws_session(ws_url, thumbs)
            done["websocket"] += 1
            exposure = Exposure.objects.filter(experiment=experiment, unit_id=sid).first()
        else:
            escalated = u[1] < BASE[Metric.ESCALATION] * lift(Metric.ESCALATION)
            now = timezone.now()
            traces.append(
                Trace(
                    trace_id=uuid.uuid4(),
                    session_id=sid,
                    message_id=uuid.uuid4(),
                    intent="escalation" if escalated else "recommendation",
                    release=release.number if release else None,
                    versions={},
                    user_text="(simulated)",
                    answer="Simulated answer " + "x" * rng.randint(40, 400),
                    started_at=now,
                    latency_ms=max(rng.gauss(BASE[Metric.LATENCY], 150) * lift(Metric.LATENCY), 1.0),
                    cost_usd=Decimal("0.0004"),
                )
            )
            if thumbs:
                feedback.append(
                    Feedback(
                        session_id=sid,
                        message_id=traces[-1].message_id,
                        trace_id=traces[-1].trace_id,
                        intent=traces[-1].intent,
                        release=traces[-1].release,
                        value=thumbs,
                        created_at=now,
                    )
                )
        for metric, kind in ((Metric.CONVERSION, "conversion"), (Metric.RESOLUTION, "resolution")):
            if u[2 if kind == "conversion" else 3] < min(BASE[metric] * lift(metric), 1.0):
                event_record(event_id=f"sim-{sid}-{kind}", session_id=sid, kind=kind)
        done["sessions"] = i + 1
        if (i + 1) % check_every == 0 or i + 1 == sessions:
            flush()
            experiment.refresh_from_db()
            if experiment.status != Experiment.Status.RUNNING:
                break
            result = experiment_check(experiment)  # what the beat task does every 30 s
            done["checks"] += 1
            done["verdict"] = result["verdict"]
            experiment.refresh_from_db()
            done["status"] = experiment.status
            if progress:
                progress({"sessions": i + 1, "result": result, "status": experiment.status})
            if experiment.status != Experiment.Status.RUNNING:
                break
            if pause_s:
                time.sleep(pause_s)
    flush()
    return done
