"""One-click rollback (US-1.3): one alias move however many clicks, the restored release serves the
next turn, its golden evaluation is queued, on-call is alerted, and a half-finished follow-up resumes."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from audit.models import AuditAction, AuditEntry
from chat.turn import SessionState, run_turn
from evaluation.models import EvalRun
from mangaconsole.roles import Role
from registry.models import AliasEvent, AliasName, ComponentKind, Rollback
from registry.rollout.rollback import release_rollback, rollback_followup, rollbacks_resume
from registry.selectors import release_for_alias
from registry.services import RegistryError, component_version_register, release_cut_from_production
from tests.factories import candidate_release, make_user, production_set


def _promote_new(actor="system:test"):
    version = component_version_register(
        kind=ComponentKind.GENERATOR, actor=actor, framework="local", config={"provider": "local", "max_tokens": 300}
    )
    release = release_cut_from_production(version=version, actor=actor, notes="new generator")
    production_set(release)
    return release


@pytest.fixture
def two_releases(serving, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        second = _promote_new()
    return serving["release"], second


def test_a_rollback_restores_the_previous_release_for_the_next_turn(two_releases, django_capture_on_commit_callbacks):
    first, second = two_releases
    with django_capture_on_commit_callbacks(execute=False) as queued:
        rollback = release_rollback(actor="oncall", reason="answers got worse", expected_release=second.number)
    assert len(queued) == 2  # the alias cache drop and the follow-up task, after commit
    assert rollback.from_release == second
    assert rollback.to_release == first
    assert rollback.state == Rollback.State.ALIAS_MOVED
    for callback in queued:
        callback()
    turn = run_turn(SessionState(uuid.uuid4(), None, 10_000), "do you ship to Canada?", record=False)
    assert turn.payload["release"] == first.number
    event = AliasEvent.objects.filter(alias=AliasName.PRODUCTION).latest("at", "id")
    assert event.is_rollback
    assert AuditEntry.objects.filter(action=AuditAction.RELEASE_ROLLBACK, actor="oncall").exists()


def test_a_second_click_against_the_same_release_is_refused(two_releases):
    _, second = two_releases
    release_rollback(actor="a", reason="first", expected_release=second.number)
    with pytest.raises(RegistryError, match="already rolled back"):
        release_rollback(actor="b", reason="second", expected_release=second.number)
    assert Rollback.objects.count() == 1


def test_two_rollbacks_in_a_row_walk_back_instead_of_flip_flopping(serving, django_capture_on_commit_callbacks):
    first = serving["release"]
    with django_capture_on_commit_callbacks(execute=True):
        second = _promote_new()
        third = _promote_new()
        assert release_rollback(actor="a", reason="r", expected_release=third.number).to_release == second
        assert release_rollback(actor="a", reason="r", expected_release=second.number).to_release == first
    with pytest.raises(RegistryError, match="no earlier production release"):
        release_rollback(actor="a", reason="r")


def test_a_rollback_needs_a_reason(two_releases):
    with pytest.raises(RegistryError, match="say why"):
        release_rollback(actor="a", reason="  ")


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        _Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_follow_up_evaluates_alerts_and_audits_once_even_when_run_twice(
    two_releases, golden_small, settings, django_capture_on_commit_callbacks
):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/hook"
    settings.ALERT_EMAILS = ["oncall@example.com"]
    _Hook.received.clear()
    first, second = two_releases
    with django_capture_on_commit_callbacks(execute=False):
        rollback = release_rollback(actor="oncall", reason="p99 doubled", expected_release=second.number)
        done = rollback_followup(rollback.pk)
        again = rollback_followup(rollback.pk)
    server.shutdown()
    assert done.state == again.state == Rollback.State.DONE
    run = EvalRun.objects.get(pk=done.eval_run_id)
    assert run.release == first
    assert run.baseline == second
    assert len(mail.outbox) == 1
    assert "rolled back to release" in mail.outbox[0].subject
    assert "p99 doubled" in mail.outbox[0].body
    assert len(_Hook.received) == 1
    assert _Hook.received[0]["to_release"] == first.number
    assert done.alert_result["webhook"].startswith("sent (200)")
    final = AuditEntry.objects.filter(action=AuditAction.RELEASE_ROLLBACK, after__state="done")
    assert final.count() == 1
    assert final.get().evidence["eval_run"] == run.pk


def test_a_follow_up_left_half_done_by_a_dead_worker_is_finished_by_the_resume_task(two_releases, settings):
    settings.ALERT_WEBHOOK_URL = ""
    _, second = two_releases
    rollback = release_rollback(actor="oncall", reason="x", expected_release=second.number)
    # the worker died after queueing the evaluation and before alerting
    Rollback.objects.filter(pk=rollback.pk).update(
        state=Rollback.State.EVAL_QUEUED, requested_at=rollback.requested_at.replace(year=2020)
    )
    assert rollbacks_resume() == [rollback.pk]
    rollback.refresh_from_db()
    assert rollback.state == Rollback.State.DONE
    assert len(mail.outbox) == 1
    assert rollbacks_resume() == []


def test_oncall_rolls_back_from_the_landing_page_and_a_double_click_moves_once(client, two_releases):
    _, second = two_releases
    client.force_login(make_user("oc", Role.ONCALL_ENGINEER))
    landing = client.get("/home/oncall_engineer/").content.decode()
    assert 'data-testid="rollback-button"' in landing
    form = {"reason": "bad answers", "expected_release": str(second.number), "next": "/home/oncall_engineer/"}
    first_click = client.post("/releases/rollback/", form, follow=True)
    assert "Production now serves release" in first_click.content.decode()
    second_click = client.post("/releases/rollback/", form, follow=True)
    assert "No rollback: production is release" in second_click.content.decode()
    assert AliasEvent.objects.filter(alias=AliasName.PRODUCTION, is_rollback=True).count() == 1
    page = client.get("/releases/production/").content.decode()
    assert "bad answers" in page


def test_a_product_manager_cannot_roll_back(client, two_releases):
    client.force_login(make_user("pm", Role.PRODUCT_MANAGER))
    assert client.post("/releases/rollback/", {"reason": "x"}).status_code == 403
    assert release_for_alias("production") == two_releases[1]


def test_two_people_clicking_at_once_produce_exactly_one_alias_move(transactional_db, serving):
    """Two real clients in two threads, released together by a barrier: one rollback, one refusal."""
    from django.db import connection
    from django.test import Client

    second = _promote_new()
    users = [make_user("oc1", Role.ONCALL_ENGINEER), make_user("oc2", Role.ONCALL_ENGINEER)]
    barrier = threading.Barrier(2)
    answers, errors = [], []

    def click(user):
        try:
            client = Client()
            client.force_login(user)
            barrier.wait()
            response = client.post(
                "/releases/rollback/",
                {"reason": f"{user.username} saw errors", "expected_release": second.number},
                follow=True,
            )
            answers.append(response.content.decode())
        except Exception as exc:  # a thread's exception would otherwise vanish
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert AliasEvent.objects.filter(alias=AliasName.PRODUCTION, is_rollback=True).count() == 1
    assert Rollback.objects.count() == 1
    assert sum("Production now serves release" in a for a in answers) == 1
    assert sum("No rollback: production is release" in a for a in answers) == 1
    assert release_for_alias("production") == serving["release"]


def test_a_rollback_pauses_every_experiment_and_canary_that_serves_another_release(
    two_releases, settings, django_capture_on_commit_callbacks
):
    from django.core import mail

    from experiments.allocation import release_for_session
    from experiments.models import Experiment
    from experiments.services import experiment_create, experiment_start
    from registry.models import Canary
    from registry.services import canary_start

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    first, second = two_releases
    third = candidate_release(actor="m", based_on=second)
    other = candidate_release(actor="m", based_on=first)
    arms = [
        {"key": "control", "name": "Production", "release": second, "weight": 50},
        {"key": "arm1", "name": "Third", "release": third, "weight": 50},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        experiment = experiment_create(actor="pm", name="during a rollback", hypothesis="h", arms=arms)
        experiment_start(experiment=experiment, actor="pm")
        canary_start(release=other, actor="oncall")
    sessions = [uuid.uuid4() for _ in range(60)]
    before = {release_for_session(s).number for s in sessions}
    assert {second.number, third.number} <= before  # both arms serve before the rollback
    with django_capture_on_commit_callbacks(execute=True):
        rollback = release_rollback(actor="oncall", reason="bad answers", expected_release=second.number)
        rollback_followup(rollback.pk)
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.PAUSED
    assert experiment.stop_reason.startswith(f"Paused by the rollback of production from release {second.number}")
    assert Canary.objects.get().state == Canary.State.STOPPED
    assert [p["kind"] for p in Rollback.objects.get().paused] == ["experiment", "canary"]
    assert {release_for_session(s).number for s in [uuid.uuid4() for _ in range(60)] + sessions} == {first.number}
    alert = next(m for m in mail.outbox if "rolled back" in m.subject)
    assert f"Paused: experiment {experiment.pk} (during a rollback)" in alert.body
    paused_entry = AuditEntry.objects.filter(action=AuditAction.EXPERIMENT, after__status="paused").get()
    assert paused_entry.actor == "oncall"
    with pytest.raises(Exception, match="control arm must be production"):
        experiment_start(experiment=experiment, actor="pm")  # it cannot resume serving the rolled-back release


def test_the_kill_switch_takes_precedence_over_experiment_arms(two_releases, django_capture_on_commit_callbacks):
    from experiments.allocation import release_for_session
    from experiments.services import experiment_create, experiment_start
    from registry.rollout.flags import flag_set

    _, second = two_releases
    third = candidate_release(actor="m", based_on=second)
    arms = [
        {"key": "control", "name": "Production", "release": second, "weight": 10},
        {"key": "arm1", "name": "Third", "release": third, "weight": 90},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=experiment_create(actor="pm", name="k", hypothesis="h", arms=arms), actor="pm")
        flag_set(name="kill_switch", enabled=True, actor="oncall", reason="incident")
    assert {release_for_session(uuid.uuid4()).number for _ in range(40)} == {second.number}
