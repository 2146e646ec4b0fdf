"""Experiments: validation, sticky assignment through the chat pipeline, events, analysis, automatic
stop on guardrail harm, one-action promotion and the archive."""

import uuid
from collections import Counter

import pytest
from django.utils import timezone

from audit.models import AuditAction, AuditEntry
from chat.models import Feedback, Trace
from chat.turn import SessionState, run_turn
from experiments import rollup
from experiments.allocation import release_for_session
from experiments.analysis import analyse, metric_summaries, timeline
from experiments.assignment import choose_arm, enrolled, hash_bucket, matches_targeting
from experiments.models import Event, Experiment, Exposure, Metric
from experiments.services import (
    ExperimentError,
    event_record,
    experiment_check,
    experiment_create,
    experiment_pause,
    experiment_start,
    experiment_stop,
)
from experiments.tasks import experiments_check_task
from mangaconsole.roles import Role
from registry.rollout.deployments import deployment_approve, deployment_run_inline, experiment_winner_promote
from registry.rollout.targets import DeploymentError
from registry.selectors import release_for_alias
from tests.factories import candidate_release, make_user, two_arm_experiment


def _release(note):
    return candidate_release(config={"provider": "local", "max_tokens": 300}, notes=note)


def _experiment(name="shorter answers", weights=(50, 50), **kw):
    return two_arm_experiment(
        _release(name),
        name=name,
        hypothesis="Shorter answers get more thumbs up.",
        weights=weights,
        arm_key="short",
        arm_name="Shorter",
        **kw,
    )


def test_assignment_is_deterministic_sticky_and_follows_the_weights():
    units = [uuid.uuid5(uuid.NAMESPACE_URL, f"u{i}") for i in range(20_000)]
    arms = Counter(choose_arm("salt-a", u, [90, 10]) for u in units)
    assert 0.885 < arms[0] / len(units) < 0.915
    assert all(choose_arm("salt-a", u, [90, 10]) == choose_arm("salt-a", u, [90, 10]) for u in units[:100])
    assert hash_bucket("salt-a", units[0]) != hash_bucket("salt-b", units[0])
    share = sum(enrolled("salt-a", u, 25) for u in units) / len(units)
    assert 0.24 < share < 0.26
    # three arms, any weights
    three = Counter(choose_arm("s3", u, [20, 30, 50]) for u in units)
    assert [round(three[i] / len(units), 2) for i in range(3)] == [0.2, 0.3, 0.5]
    assert matches_targeting({"user_types": ["prime"], "regions": ["jp"]}, {"user_type": "prime", "region": "JP"})
    assert not matches_targeting({"user_types": ["prime"]}, {"user_type": "guest"})
    assert not matches_targeting({"regions": ["US"]}, {"user_type": "guest", "region": "JP"})


def test_setup_is_validated_with_every_problem_listed(serving):
    production = release_for_alias("production")
    with pytest.raises(ExperimentError) as caught:
        experiment_create(
            actor="pm",
            name="",
            hypothesis="",
            arms=[
                {"key": "a", "release": production, "weight": 60},
                {"key": "b", "release": production, "weight": 60},
            ],
            primary_metric="thumbs_up",
            guardrail_metrics=["thumbs_up", "nonsense"],
            alpha=0.5,
        )
    problems = caught.value.problems
    assert "Give the experiment a name." in problems
    assert "A release can be only one arm." in problems
    assert "The weights must add up to 100 (they add up to 120)." in problems
    assert "Unknown guardrail metrics ['nonsense']." in problems
    assert "The primary metric cannot also be a guardrail metric." in problems
    assert "The significance level is between 0.001 and 0.2." in problems
    assert not Experiment.objects.exists()


def test_a_running_experiment_serves_each_session_its_arm_and_logs_one_exposure(
    serving, settings, django_capture_on_commit_callbacks
):
    settings.CHAT_TRACE_WRITES_INLINE = True
    experiment = _experiment()
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=experiment, actor="pm")
    control, short = experiment.variants.order_by("order")
    served = Counter()
    for i in range(40):
        state = SessionState(uuid.uuid5(uuid.NAMESPACE_URL, f"chat{i}"), None, 10_000)
        first = run_turn(state, "hi there!").payload["release"]
        second = run_turn(state, "do you ship to Canada?").payload["release"]
        assert first == second  # sticky within the session
        served[first] += 1
    assert set(served) == {control.release.number, short.release.number}
    assert Exposure.objects.filter(experiment=experiment).count() == 40  # once per session, not per turn
    # changing the split does not move units already assigned
    before = dict(Exposure.objects.values_list("unit_id", "variant_id"))
    short.weight, control.weight = 90, 10
    short.save()
    control.save()
    for i in range(40):
        state = SessionState(uuid.uuid5(uuid.NAMESPACE_URL, f"chat{i}"), None, 10_000)
        arm = release_for_session(state.session_id)
        assert arm.pk == (short.release_id if before[state.session_id] == short.pk else control.release_id)
    # a paused experiment serves production again
    with django_capture_on_commit_callbacks(execute=True):
        experiment_pause(experiment=experiment, actor="pm")
    assert release_for_session(uuid.uuid5(uuid.NAMESPACE_URL, "chat1")).pk == release_for_alias("production").pk


def test_targeting_keeps_other_sessions_out(serving, django_capture_on_commit_callbacks):
    experiment = _experiment(targeting={"user_types": ["prime"], "regions": ["JP"]})
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=experiment, actor="pm")
    sid = uuid.uuid4()
    assert release_for_session(sid, {"user_type": "guest", "region": "JP"}).pk == release_for_alias("production").pk
    assert not Exposure.objects.exists()
    release_for_session(sid, {"user_type": "prime", "region": "jp"})
    assert Exposure.objects.filter(unit_id=sid).exists()


def test_events_are_idempotent_and_the_api_checks_a_batch_whole(client, serving):
    sid = uuid.uuid4()
    _, created = event_record(event_id="order-1", session_id=sid, kind="conversion")
    _, again = event_record(event_id="order-1", session_id=sid, kind="conversion")
    assert (created, again) == (True, False)
    client.force_login(make_user("pm", Role.PRODUCT_MANAGER))
    ok = client.post(
        "/api/events/",
        [
            {"event_id": "csat-1", "session_id": str(sid), "kind": "csat", "value": 4},
            {"event_id": "order-1", "session_id": str(sid), "kind": "conversion"},
        ],
        content_type="application/json",
    )
    assert ok.status_code == 201
    assert ok.json() == [{"event_id": "csat-1", "created": True}, {"event_id": "order-1", "created": False}]
    bad = client.post(
        "/api/events/",
        [
            {"event_id": "x-2", "session_id": str(sid), "kind": "conversion"},
            {"event_id": "x-3", "session_id": "nope", "kind": "conversion"},
            {"event_id": "x-4", "session_id": str(sid), "kind": "csat", "value": 9},
        ],
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert [e["index"] for e in bad.json()["events"]] == [1, 2]
    assert not Event.objects.filter(event_id="x-2").exists()  # nothing of a bad batch is stored
    client.force_login(make_user("ann", Role.ANNOTATOR))
    assert client.post("/api/events/", {}, content_type="application/json").status_code == 403


def _units(experiment, variant, n, *, thumbs_up=0, escalations=0):
    now = timezone.now()
    ids = [uuid.uuid4() for _ in range(n)]
    Exposure.objects.bulk_create(Exposure(experiment=experiment, variant=variant, unit_id=u, at=now) for u in ids)
    Feedback.objects.bulk_create(
        Feedback(session_id=u, message_id=uuid.uuid4(), trace_id=uuid.uuid4(), value="up", created_at=now)
        for u in ids[:thumbs_up]
    )
    Trace.objects.bulk_create(
        Trace(
            trace_id=uuid.uuid4(),
            session_id=u,
            intent="escalation" if i < escalations else "faq",
            versions={},
            user_text="q",
            answer="an answer of some length",
            started_at=now,
            latency_ms=100 + i % 50,
        )
        for i, u in enumerate(ids)
    )
    # what the trace writer and the feedback path keep: per-session totals
    deltas = rollup.from_traces(Trace.objects.filter(session_id__in=ids))
    for u in ids[:thumbs_up]:
        deltas[u]["thumbs_up"] += 1
    rollup.add(deltas)
    return ids


def test_analysis_reads_each_metric_and_stops_on_guardrail_harm(serving, settings, django_capture_on_commit_callbacks):
    settings.EXPERIMENT_MIN_UNITS_PER_ARM = 500
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    experiment = _experiment(guardrail_metrics=[Metric.ESCALATION, Metric.LATENCY])
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=experiment, actor="pm")
    control, short = experiment.variants.order_by("order")
    _units(experiment, control, 1000, thumbs_up=600, escalations=50)
    _units(experiment, short, 1000, thumbs_up=610, escalations=150)  # escalation 5% → 15%: harm
    summaries = metric_summaries(experiment.pk, Metric.THUMBS_UP)
    assert (summaries[control.pk].n, summaries[control.pk].sum) == (1000, 600)
    latency = metric_summaries(experiment.pk, Metric.LATENCY)
    assert latency[short.pk].mean == pytest.approx(124.5)
    with django_capture_on_commit_callbacks(execute=True):
        result = experiment_check(experiment)
    assert result["verdict"] == "harm"
    assert result["harms"][0]["metric"] == "escalation"
    assert result["harms"][0]["arm"] == "short"
    assert result["srm_warning"] is False
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.STOPPED
    assert "guardrail harm" in experiment.stop_reason
    entry = AuditEntry.objects.filter(action=AuditAction.EXPERIMENT, actor="system:experiments").get()
    assert entry.evidence["harms"][0]["metric"] == "escalation"
    assert result["alerts"]["email"].startswith("sent")


@pytest.mark.parametrize(
    ("control_ups", "arm_ups", "note"),
    [
        (3, 0, "the treatment's metric has not varied yet (all 500 units have the value 0)"),  # 3/500 vs 0/500
        (0, 4, "the control's mean is 0, so a relative change is undefined"),
    ],
)
def test_zero_counts_are_not_enough_information_and_the_beat_check_takes_no_action(
    serving, settings, django_capture_on_commit_callbacks, control_ups, arm_ups, note
):
    """Issue 18 item 8: 3/500 against 0/500 passes the 500-unit floor; the old test said effect −100%,
    p = 0, and the beat check stopped the experiment for guardrail harm. Now: no verdict, still running."""
    settings.EXPERIMENT_MIN_UNITS_PER_ARM = 500
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    experiment = _experiment(primary_metric=Metric.CONVERSION, guardrail_metrics=[Metric.THUMBS_UP])
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=experiment, actor="pm")
    control, short = experiment.variants.order_by("order")
    _units(experiment, control, 500, thumbs_up=control_ups)
    _units(experiment, short, 500, thumbs_up=arm_ups)
    with django_capture_on_commit_callbacks(execute=True):
        experiments_check_task.apply()  # what beat runs every 30 s
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING
    decision = experiment.decision
    assert decision["verdict"] == "continue"
    assert decision["harms"] == []
    assert decision["winners"] == []
    row = decision["metrics"]["thumbs_up"]["short"]
    assert row["enough"] is True
    assert row["significant"] is False
    assert row["test"]["informative"] is False
    assert row["test"]["note"] == f"not enough information: {note}"
    conversion = decision["metrics"]["conversion"]["short"]["test"]  # no conversions in either arm
    assert conversion["informative"] is False
    points = timeline(experiment)  # the chart: a gap with the reason, not an effect of 0
    assert points
    assert all(p["arms"]["short"]["effect"] is None for p in points)
    assert points[-1]["arms"]["short"]["note"].startswith("not enough information")
    assert not AuditEntry.objects.filter(action=AuditAction.EXPERIMENT, actor="system:experiments").exists()


def test_too_few_units_decide_nothing_and_a_win_goes_to_production_through_the_pipeline(
    serving, golden_small, settings, django_capture_on_commit_callbacks
):
    settings.EXPERIMENT_MIN_UNITS_PER_ARM = 500
    experiment = _experiment()
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=experiment, actor="pm")
    control, short = experiment.variants.order_by("order")
    _units(experiment, control, 300, thumbs_up=90)
    _units(experiment, short, 300, thumbs_up=200)  # a huge lift, but too few sessions yet
    assert analyse(experiment)["verdict"] == "continue"
    _units(experiment, control, 2000, thumbs_up=1100)
    _units(experiment, short, 2000, thumbs_up=1400)
    with django_capture_on_commit_callbacks(execute=True):
        result = experiment_check(experiment)
    assert result["verdict"] == "significant"
    assert result["winners"] == ["short"]
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.STOPPED
    production = release_for_alias("production")
    with django_capture_on_commit_callbacks(execute=False):  # the pipeline's chain runs in process below
        deployment = experiment_winner_promote(experiment=experiment, variant=short, actor="pm")
    archived = Experiment.objects.get(pk=experiment.pk)
    assert release_for_alias("production").pk == production.pk  # not before its gate and a second person
    assert archived.status == Experiment.Status.ARCHIVED
    assert archived.archive["winner"] == {"key": "short", "release": short.release.number}
    assert archived.archive["deployment"] == deployment.pk
    assert deployment.origin == {"kind": "experiment", "experiment": experiment.pk, "arm": "short"}
    assert archived.archive["config"]["salt"] == experiment.salt
    assert archived.archive["result"]["metrics"]["thumbs_up"]["short"]["significant"] is True
    with pytest.raises(ExperimentError, match="archived"):
        experiment_winner_promote(experiment=archived, variant=control, actor="pm")
    with pytest.raises(DeploymentError, match="four-eyes"):
        deployment_run_inline(deployment.pk, approver="pm")  # the gate, staging and smoke pass; pm may not approve
    with pytest.raises(DeploymentError, match="four-eyes rule: pm started this deployment"):
        deployment_approve(deployment=deployment, actor="pm")
    with django_capture_on_commit_callbacks(execute=True):
        deployment_approve(deployment=deployment, actor="mleng", queue=False)
        from registry.rollout.deployments import stage_run

        assert stage_run(deployment.pk, "promote") == "passed"
    assert release_for_alias("production").pk == short.release_id
    with pytest.raises(ExperimentError, match="say why"):
        experiment_stop(experiment=_experiment(name="another"), actor="pm", reason="")


def test_the_real_paths_keep_the_session_totals(serving, settings):
    from chat.sessions import feedback_save
    from experiments.models import SessionStat

    settings.CHAT_TRACE_WRITES_INLINE = True
    state = SessionState(uuid.uuid4(), None, 10_000)
    first = run_turn(state, "do you ship to Canada?")
    run_turn(state, "I want to talk to a human")
    message_id = uuid.UUID(first.payload["message_id"])
    assert feedback_save(state, message_id, "up", "", {})
    assert feedback_save(state, message_id, "down", "changed my mind", {})  # a changed thumb moves
    event_record(event_id="o-1", session_id=state.session_id, kind="conversion")
    event_record(event_id="o-1", session_id=state.session_id, kind="conversion")  # a repeat adds nothing
    event_record(event_id="c-1", session_id=state.session_id, kind="csat", value=4)
    stat = SessionStat.objects.get(session_id=state.session_id)
    traces = Trace.objects.filter(session_id=state.session_id)
    assert stat.turns == 2
    assert stat.latency_sum == pytest.approx(sum(t.latency_ms for t in traces))
    assert stat.length_sum == sum(len(t.answer) for t in traces)
    assert stat.escalations == 1
    assert (stat.thumbs_up, stat.thumbs_down) == (0, 1)
    assert (stat.conversions, stat.csat_sum, stat.csat_n) == (1, 4.0, 1)


def test_an_arm_must_be_production_or_a_release_whose_gate_passed(serving, django_capture_on_commit_callbacks):
    from registry.services import release_gate_record

    failed = candidate_release(gated=False)
    release_gate_record(release=failed, run_id=41, passed=False)
    failed.refresh_from_db()
    arms = [
        {"key": "control", "name": "Production", "release": release_for_alias("production"), "weight": 50},
        {"key": "bad", "name": "Failed gate", "release": failed, "weight": 50},
    ]
    with pytest.raises(ExperimentError, match=r"release \d+ failed its evaluation gate \(run 41\)"):
        experiment_create(actor="pm", name="bad arm", hypothesis="h", arms=arms)
    assert not Experiment.objects.filter(name="bad arm").exists()
    # an arm whose gate failed after the experiment was drafted cannot start, nor be promoted
    experiment = _experiment(name="later")
    short = experiment.variants.get(key="short")
    release_gate_record(release=short.release, run_id=42, passed=False)
    with pytest.raises(ExperimentError, match="failed its evaluation gate"):
        experiment_start(experiment=experiment, actor="pm")
    short.release.refresh_from_db()
    with pytest.raises(DeploymentError, match="failed its evaluation gate .run 42., so arm short cannot be promoted"):
        experiment_winner_promote(experiment=experiment, variant=short, actor="pm")
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.DRAFT  # nothing archived on refusal
