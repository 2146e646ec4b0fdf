"""The deployment and canary pages: who may see and act, and what they show."""

from django.utils import timezone

from mangaconsole.roles import Role
from registry.models import Canary, Deployment
from tests.factories import candidate_release, make_user


def _candidate():
    return candidate_release(config={"provider": "local", "max_tokens": 300}, notes="short")


def test_deployments_page_starts_a_pipeline_and_shows_its_progress(
    client, serving, golden_small, django_capture_on_commit_callbacks
):
    candidate = _candidate()
    client.force_login(make_user("pm", Role.PRODUCT_MANAGER))
    assert client.get("/releases/deployments/").status_code == 200  # a PM follows their winner's deployment
    assert client.post("/releases/deployments/start/", {"release": candidate.number}).status_code == 403
    client.force_login(make_user("ml", Role.ML_ENGINEER))
    page = client.get("/releases/deployments/").content.decode()
    assert f'<option value="{candidate.number}">release {candidate.number}: short · gate passed</option>' in page
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/releases/deployments/start/", {"release": candidate.number})
    deployment = Deployment.objects.get()
    assert response.url == f"/releases/deployments/{deployment.pk}/"
    progress = client.get(f"/releases/deployments/{deployment.pk}/progress/").json()
    assert [s["name"] for s in progress["stages"]] == ["build", "evaluate", "staging", "smoke", "approve", "promote"]
    assert {s["status"] for s in progress["stages"]} == {"pending"}
    assert progress["finished"] is False
    # a second start of the same release is refused with the reason
    again = client.post("/releases/deployments/start/", {"release": candidate.number}, follow=True)
    assert "already in the pipeline" in again.content.decode()
    # approval is refused while the automatic stages have not passed
    refused = client.post(f"/releases/deployments/{deployment.pk}/approve/", follow=True)
    assert "not waiting for approval" in refused.content.decode()
    client.force_login(make_user("ann", Role.ANNOTATOR))
    assert client.get(f"/releases/deployments/{deployment.pk}/progress/").status_code == 403


def test_canary_page_starts_steps_and_shows_the_evidence_of_an_automatic_rollback(
    client, serving, django_capture_on_commit_callbacks
):
    candidate = _candidate()
    client.force_login(make_user("oc", Role.ONCALL_ENGINEER))
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/releases/canary/start/", {"release": candidate.number})
    page = client.get("/releases/canary/").content.decode()
    assert 'data-testid="canary-percent">1<' in page
    assert "collecting" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/releases/canary/step/", {"expected_percent": "1"})
        double = client.post("/releases/canary/step/", {"expected_percent": "1"}, follow=True)
    assert "at 10% now, not 1%" in double.content.decode()
    assert Canary.objects.get().percent == 10
    # evidence of a rollback decision is rendered from what the check stored
    evidence = {
        "at": timezone.now().isoformat(),
        "arms": [
            ["Canary", {"release": candidate.number, "turns": 310, "errors": 10, "error_pct": "3.23%"}],
            ["Production", {"release": 1, "turns": 2900, "errors": 0, "error_pct": "0.00%"}],
        ],
        "checks": {
            "error_rate": {"count": 10, "n": 310, "p_value": 0.0004, "breached": True},
            "p99_latency": {"count": 0, "n": 310, "p_value": 1.0, "breached": False},
            "escalation_rise": {
                "canary": {"count": 3, "n": 310},
                "baseline": {"count": 30, "n": 2900},
                "p_value": 0.9,
                "breached": False,
            },
        },
        "limits": {"min_samples": 200},
        "enough_samples": True,
    }
    Canary.objects.update(state=Canary.State.ROLLED_BACK, decision=evidence, finished_at=timezone.now())
    page = client.get("/releases/canary/").content.decode()
    assert "10 (3.23%)" in page
    assert 'data-testid="rule-error_rate">yes<' in page
    assert "10/310" in page
    client.force_login(make_user("pm", Role.PRODUCT_MANAGER))
    assert client.get("/releases/canary/").status_code == 403


def test_each_canary_and_deployment_decision_has_its_own_action(client, serving, django_capture_on_commit_callbacks):
    """Issue 17: one view per decision. A stop without a reason is refused and changes nothing; with one,
    every session goes back to production; a promotion with no canary is refused with the reason."""
    candidate = _candidate()
    client.force_login(make_user("oc2", Role.ONCALL_ENGINEER))
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/releases/canary/start/", {"release": candidate.number})
    refused = client.post("/releases/canary/stop/", {"reason": " "}, follow=True).content.decode()
    assert "Nothing changed" in refused
    assert Canary.objects.get().state == Canary.State.ACTIVE
    with django_capture_on_commit_callbacks(execute=True):
        stopped = client.post("/releases/canary/stop/", {"reason": "drill"}, follow=True).content.decode()
    assert "every session is on production" in stopped
    assert Canary.objects.get().state == Canary.State.STOPPED
    nothing = client.post("/releases/canary/promote/", {"expected_percent": "1"}, follow=True).content.decode()
    assert "Nothing changed" in nothing
    assert client.get("/releases/canary/action/").status_code == 404  # the one switch-on-a-field view is gone
