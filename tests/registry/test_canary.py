"""Canary (US-3.4) and the production guard (US-3.5): sticky traffic split, stepped approvals, and
automatic rollback on evidence, audited and alerted."""

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditAction, AuditEntry
from chat.generation import GenerationError
from chat.models import Trace
from chat.turn import SessionState, run_turn
from experiments.allocation import canary_bucket, release_for_session
from registry.models import Canary, ComponentKind, MonitorEvent
from registry.rollout.deployments import canary_promote_request, deployment_run_inline
from registry.rollout.monitoring import canary_check, canary_evaluate, production_guard
from registry.selectors import release_for_alias
from registry.services import (
    RegistryError,
    canary_start,
    canary_step,
    canary_stop,
    component_version_register,
    release_create,
)
from tests.factories import candidate_release, production_set


@pytest.fixture
def live(settings, serving):
    settings.CHAT_TRACE_WRITES_INLINE = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ALERT_EMAILS = ["oncall@example.test"]
    return serving


def _release_with_generator(config: dict, note: str):
    return candidate_release(framework="scripted", config=config, notes=note)


def _start(release, capture, steps: int = 0):
    with capture(execute=True):
        canary = canary_start(release=release, actor="mleng", reason="try it")
    for _ in range(steps):
        with capture(execute=True):
            canary = canary_step(actor="pm", expected_percent=canary.percent)
    return canary


def test_the_split_is_sticky_and_grows_with_each_approved_step(live, django_capture_on_commit_callbacks):
    candidate = _release_with_generator({"provider": "local", "model_id": "local-grounded-responder"}, "candidate")
    canary = _start(candidate, django_capture_on_commit_callbacks)
    sessions = [uuid.uuid5(uuid.NAMESPACE_URL, f"s{i}") for i in range(4000)]
    at_1 = {s for s in sessions if release_for_session(s).pk == candidate.pk}
    assert 10 <= len(at_1) <= 80  # 1% of 4,000 is 40
    assert all(release_for_session(s).pk == candidate.pk for s in list(at_1)[:20])  # sticky
    with django_capture_on_commit_callbacks(execute=True):
        canary = canary_step(actor="pm", expected_percent=1)
    at_10 = {s for s in sessions if release_for_session(s).pk == candidate.pk}
    assert at_1 <= at_10  # nobody in the canary at 1% leaves it at 10%
    assert 320 <= len(at_10) <= 480
    # a double click on the same step is refused, and the percent moves once
    with pytest.raises(RegistryError, match="at 10% now, not 1%"):
        canary_step(actor="pm", expected_percent=1)
    assert Canary.objects.get().percent == 10
    # the session id in a canary's bucket is tied to that canary: a new canary draws a new sample
    assert canary_bucket(sessions[0], canary.pk) != canary_bucket(sessions[0], canary.pk + 1)
    # a served turn names the release that served it
    s = next(iter(at_1))
    result = run_turn(SessionState(s, None, 10_000), "do you ship to Canada?")
    assert result.payload["release"] == candidate.number
    assert Trace.objects.get(trace_id=result.turn.trace_id).release == candidate.number


def test_the_steps_end_in_promotion_and_a_stop_sends_everyone_back(
    live, golden_small, django_capture_on_commit_callbacks
):
    baseline = release_for_alias("production")
    candidate = _release_with_generator({"provider": "local", "model_id": "local-grounded-responder"}, "candidate")
    canary = _start(candidate, django_capture_on_commit_callbacks, steps=3)
    assert canary.percent == 100
    assert [s["percent"] for s in canary.steps] == [1, 10, 50, 100]
    with pytest.raises(RegistryError, match="promote it"):
        canary_step(actor="pm", expected_percent=100)
    with django_capture_on_commit_callbacks(execute=False):  # the chain is run in process below
        deployment = canary_promote_request(actor="pm", expected_percent=100)
    assert deployment.origin == {"kind": "canary", "canary": canary.pk}
    assert release_for_alias("production").pk == baseline.pk  # nothing moves before the pipeline and approval
    assert Canary.objects.get().state == Canary.State.ACTIVE
    with django_capture_on_commit_callbacks(execute=True):
        deployment_run_inline(deployment.pk, approver="oncall")
    assert release_for_alias("production").pk == candidate.pk
    assert Canary.objects.get().state == Canary.State.PROMOTED
    assert release_for_session(uuid.uuid4()).pk == candidate.pk

    other = _release_with_generator({"provider": "local", "model_id": "local-grounded-responder"}, "another")
    _start(other, django_capture_on_commit_callbacks, steps=3)
    with pytest.raises(RegistryError, match="say why"):
        canary_stop(actor="pm", reason=" ")
    with django_capture_on_commit_callbacks(execute=True):
        canary_stop(actor="pm", reason="changed our mind")
    assert {release_for_session(uuid.uuid4()).pk for _ in range(50)} == {candidate.pk}
    assert baseline.pk != candidate.pk
    kinds = list(AuditEntry.objects.filter(action=AuditAction.CANARY).values_list("after", flat=True))
    assert {"state": "stopped"} in kinds


def _traffic(n: int, *, prefix: str) -> dict:
    """``n`` one-turn sessions, as the consumer would serve them; returns {release: [turns, errors]}."""
    served: dict[int, list[int]] = {}
    for i in range(n):
        state = SessionState(uuid.uuid5(uuid.NAMESPACE_URL, f"{prefix}{i}"), None, 10_000)
        arm = release_for_session(state.session_id).number
        row = served.setdefault(arm, [0, 0])
        row[0] += 1
        try:
            run_turn(state, f"hello there, tell me something fun about manga number {i}")
        except GenerationError:
            row[1] += 1
    return served


def test_a_canary_with_a_3_percent_error_rate_is_rolled_back_with_its_evidence(
    live, settings, django_capture_on_commit_callbacks
):
    settings.CANARY_MIN_SAMPLES = 200
    baseline = release_for_alias("production")
    flaky = _release_with_generator(
        {"provider": "scripted", "model_id": "flaky-model", "default": "Manga is fun!", "fail_rate": 0.03}, "flaky"
    )
    _start(flaky, django_capture_on_commit_callbacks, steps=2)  # 50%: enough traffic for a test
    served = _traffic(160, prefix="early-")
    early = canary_check()
    assert early["verdict"] == "collecting"  # too few canary turns to decide anything yet
    assert Canary.objects.get().state == Canary.State.ACTIVE

    served2 = _traffic(400, prefix="late-")
    turns, errors = (served.get(flaky.number, [0, 0])[k] + served2[flaky.number][k] for k in (0, 1))
    assert turns >= 200
    assert 0.015 < errors / turns < 0.06
    assert served2[baseline.number][1] == 0  # and not on production

    with django_capture_on_commit_callbacks(execute=True):
        result = canary_check()
    assert result["verdict"] == "rollback"
    assert result["breached"] == ["error_rate"]
    canary = Canary.objects.get()
    assert canary.state == Canary.State.ROLLED_BACK
    evidence = canary.decision["checks"]["error_rate"]
    assert evidence["count"] == errors
    assert evidence["n"] == turns
    assert evidence["threshold"] == 0.01
    assert evidence["p_value"] < 0.05
    assert canary.decision["baseline"]["errors"] == 0
    # every session is back on production, the decision is audited and alerted with the evidence
    assert {release_for_session(uuid.uuid4()).number for _ in range(40)} == {baseline.number}
    entry = AuditEntry.objects.filter(action=AuditAction.CANARY, actor="system:canary").get()
    assert entry.evidence["checks"]["error_rate"]["count"] == errors
    assert f"error rate {errors}/{turns}" in entry.reason
    event = MonitorEvent.objects.get(kind=MonitorEvent.Kind.CANARY_ROLLBACK)
    assert event.alert_result["email"].startswith("sent")
    assert mail.outbox[-1].subject == f"[MangaAssist] canary of release {flaky.number} rolled back"


def test_a_healthy_canary_with_the_same_traffic_is_not_rolled_back(live, settings, django_capture_on_commit_callbacks):
    settings.CANARY_MIN_SAMPLES = 200
    steady = _release_with_generator(
        {"provider": "scripted", "model_id": "steady-model", "default": "Manga is fun!"}, "steady"
    )
    _start(steady, django_capture_on_commit_callbacks, steps=2)
    _traffic(560, prefix="late-")
    result = canary_check()
    assert result["verdict"] == "healthy"
    assert result["breached"] == []
    assert Canary.objects.get().state == Canary.State.ACTIVE
    assert Canary.objects.get().decision["canary"]["turns"] >= 200


def _traces(release: int, n: int, *, start, **every_kth):
    """``n`` traces of ``release``; ``every_kth`` = {field: (k, value)} sets field on every k-th."""
    rows = []
    for i in range(n):
        fields = {"intent": "faq", "latency_ms": 400.0, "error": "", "guardrail_reason": ""}
        for name, (count, value) in every_kth.items():
            if i < count:
                fields[name] = value
        rows.append(
            Trace(
                trace_id=uuid.uuid4(),
                session_id=uuid.uuid4(),
                release=release,
                versions={},
                user_text="q",
                started_at=start + timedelta(milliseconds=i),
                **fields,
            )
        )
    Trace.objects.bulk_create(rows)


def test_escalation_and_p99_rules_use_their_tests(live, django_capture_on_commit_callbacks):
    baseline = release_for_alias("production")
    candidate = _release_with_generator({"provider": "local", "model_id": "local-grounded-responder"}, "candidate")
    canary = _start(candidate, django_capture_on_commit_callbacks)
    now = timezone.now()
    _traces(baseline.number, 1000, start=now, intent=(20, "escalation"))  # 2.0%
    _traces(candidate.number, 250, start=now, intent=(15, "escalation"), latency_ms=(5, 4200.0))  # 6.0%, 2% slow
    result = canary_evaluate(Canary.objects.get(pk=canary.pk))
    esc = result["checks"]["escalation_rise"]
    assert esc["canary"]["rate"] == pytest.approx(0.06)
    assert esc["baseline"]["rate"] == pytest.approx(0.02)
    assert esc["breached"]
    assert esc["p_value"] < 0.05
    slow = result["checks"]["p99_latency"]
    assert slow["count"] == 5
    assert not slow["breached"]
    assert slow["p99_ms"] == 4200.0
    assert result["breached"] == ["escalation_rise"]


def test_the_production_guard_rolls_back_on_a_hard_threshold_and_pages_on_a_soft_one(
    live, django_capture_on_commit_callbacks
):
    first = release_for_alias("production")
    second = _release_with_generator({"provider": "local", "model_id": "local-grounded-responder"}, "second")
    with django_capture_on_commit_callbacks(execute=True):
        production_set(second)
    now = timezone.now()
    # soft: hallucination 28/600 = 4.7% (over 3%, under 5%) pages once, no rollback
    _traces(second.number, 600, start=now, guardrail_reason=(28, "faithfulness"))
    with django_capture_on_commit_callbacks(execute=True):
        soft = production_guard()
    assert soft["soft_breached"] == ["hallucination_rate"]
    assert soft["hard_breached"] == []
    assert release_for_alias("production").pk == second.pk
    assert MonitorEvent.objects.filter(kind=MonitorEvent.Kind.GUARD_PAGE).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        production_guard()
    assert MonitorEvent.objects.filter(kind=MonitorEvent.Kind.GUARD_PAGE).count() == 1  # paged once, not every minute
    # hard: error rate 3% rolls production back to the previous release
    _traces(second.number, 400, start=now + timedelta(seconds=1), error=(24, "model_error: boom"))
    with django_capture_on_commit_callbacks(execute=True):
        hard = production_guard()
    assert "error_rate" in hard["hard_breached"]
    assert hard["rolled_back_to"] == first.number
    assert release_for_alias("production").pk == first.pk
    event = MonitorEvent.objects.get(kind=MonitorEvent.Kind.GUARD_ROLLBACK)
    assert event.evidence["hard"]["error_rate"]["count"] == 24
    entry = AuditEntry.objects.get(action=AuditAction.GUARD, after__production=first.number)
    assert "error rate 24/1000" in entry.reason
    assert AuditEntry.objects.filter(action=AuditAction.RELEASE_ROLLBACK, actor="system:production-guard").exists()


def test_a_canary_below_100_percent_or_of_an_ungated_release_is_refused(live, django_capture_on_commit_callbacks):
    version = component_version_register(kind=ComponentKind.GENERATOR, actor="mleng", framework="local", config={})
    ungated = release_create(actor="mleng", versions=[version], based_on=release_for_alias("production"))
    with pytest.raises(RegistryError, match="has not been evaluated"):
        canary_start(release=ungated, actor="mleng")
    from registry.services import release_gate_record

    release_gate_record(release=ungated, run_id=7, passed=False)
    ungated.refresh_from_db()
    with pytest.raises(RegistryError, match="failed its evaluation gate"):
        canary_start(release=ungated, actor="mleng")
    with django_capture_on_commit_callbacks(execute=True):  # canary_drill's waiver is recorded, not silent
        drill = canary_start(release=ungated, actor="system:canary-drill", gate_waiver="drill")
    entry = AuditEntry.objects.filter(action=AuditAction.CANARY, target_id=str(drill.pk)).get()
    assert entry.evidence == {
        "gate_waived": "drill",
        "gate": f"release {ungated.number} failed its evaluation gate (run 7)",
    }
    with django_capture_on_commit_callbacks(execute=True):
        canary_stop(actor="mleng", reason="drill over")
    candidate = _release_with_generator({"provider": "local", "model_id": "local-grounded-responder"}, "candidate")
    _start(candidate, django_capture_on_commit_callbacks, steps=1)
    with pytest.raises(RegistryError, match="serves 10%: step it up to 100%"):
        canary_promote_request(actor="pm")


def test_a_canary_rolled_back_while_its_promotion_waits_is_not_promoted(
    live, golden_small, django_capture_on_commit_callbacks
):
    baseline = release_for_alias("production")
    candidate = _release_with_generator({"provider": "local", "model_id": "local-grounded-responder"}, "candidate")
    _start(candidate, django_capture_on_commit_callbacks, steps=3)
    with django_capture_on_commit_callbacks(execute=False):
        deployment = canary_promote_request(actor="pm")
    with django_capture_on_commit_callbacks(execute=True):
        canary_stop(actor="oncall", reason="errors on the canary")
    from registry.rollout.targets import DeploymentError

    with pytest.raises(DeploymentError, match="was not promoted"), django_capture_on_commit_callbacks(execute=True):
        deployment_run_inline(deployment.pk, approver="oncall")
    deployment.refresh_from_db()
    assert "the canary this deployment promotes is stopped by a person" in deployment.failure
    assert release_for_alias("production").pk == baseline.pk
