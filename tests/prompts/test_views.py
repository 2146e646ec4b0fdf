"""The prompt and evaluation pages and the CI API, through Django's test client."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditEntry
from evaluation.models import EvalRun
from mangaconsole.roles import Role
from prompts_app.models import PromptTemplate, PromptVersion
from tests.factories import make_user


@pytest.fixture
def engineer(db, serving):
    return make_user("pe", Role.PROMPT_ENGINEER)


def test_the_editor_refuses_an_invalid_template_with_its_line_and_keeps_the_text(client, engineer):
    client.force_login(engineer)
    body = "Answer.\nQuestion: {{ question }}\n{% if context %}no end"
    response = client.post(
        "/prompts/faq/",
        {"body": body, "few_shot": "[]", "bump": "patch", "change_description": "x", "changelog": "x"},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Line 3: syntax error" in text
    assert "no end</textarea>" in text  # nothing the engineer typed is lost
    assert PromptTemplate.objects.get(name="faq").versions.count() == 1


def test_bad_few_shot_json_is_reported_with_its_position(client, engineer):
    client.force_login(engineer)
    response = client.post(
        "/prompts/faq/",
        {
            "body": "Q: {{ question }}",
            "few_shot": '[{"user": "a",}]',
            "bump": "patch",
            "change_description": "x",
            "changelog": "x",
        },
    )
    assert "not valid JSON" in response.content.decode()


def test_a_saved_draft_shows_its_diff_against_the_parent(client, engineer):
    client.force_login(engineer)
    latest = PromptTemplate.objects.get(name="faq").versions.first()
    body = latest.body.replace("in a few sentences", "in two sentences")
    response = client.post(
        "/prompts/faq/",
        {"body": body, "few_shot": "[]", "bump": "minor", "change_description": "shorter", "changelog": "faq: shorter"},
        follow=True,
    )
    version = PromptVersion.objects.get(changelog="faq: shorter")
    assert response.redirect_chain[-1][0] == f"/prompts/versions/{version.pk}/"
    html = response.content.decode()
    assert '<span class="add">+' in html
    assert "two sentences" in html
    assert '<span class="del">-' in html
    assert "a few sentences" in html


def test_thresholds_are_edited_from_the_page_and_audited(client, golden_small):
    ml = make_user("ml", Role.ML_ENGINEER)
    client.force_login(ml)
    data = {
        "intent_accuracy_min": 0.92,
        "bertscore_min": 0.8,
        "rouge_l_drop_max": 0.1,
        "guardrail_pass_rate_min": 0.95,
        "prohibited_max": 0,
        "format_compliance_min": 0.95,
        "reason": "tighter routing gate",
    }
    client.post("/evaluation/thresholds/", data)
    entry = AuditEntry.objects.filter(action=AuditAction.THRESHOLDS_CHANGE).latest("sequence")
    assert entry.after["intent_accuracy_min"] == 0.92
    assert entry.reason == "tighter routing gate"
    pe = make_user("pe2", Role.PROMPT_ENGINEER)
    client.force_login(pe)
    assert client.post("/evaluation/thresholds/", data).status_code == 403


def test_the_ci_api_starts_a_run_and_reports_it(serving, golden_small, django_capture_on_commit_callbacks):
    from evaluation.services import eval_run_execute

    api = APIClient()
    assert api.post("/api/eval/runs/", {"release": "production"}, format="json").status_code == 401
    api.force_authenticate(make_user("ci", Role.ML_ENGINEER))
    assert api.post("/api/eval/runs/", {"release": "nope"}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=False):
        created = api.post("/api/eval/runs/", {"release": "production"}, format="json")
    assert created.status_code == 201
    run_id = created.json()["run"]
    assert created.json()["url"].endswith(f"/api/eval/runs/{run_id}/")
    assert api.get(f"/api/eval/runs/{run_id}/").json()["finished"] is False
    eval_run_execute(run_id)
    body = api.get(f"/api/eval/runs/{run_id}/").json()
    assert body["finished"] is True
    assert body["passed"] is True
    assert "gate passed" in body["report_markdown"]
    assert EvalRun.objects.get(pk=run_id).triggered_by == "ci"


def test_the_run_page_shows_gates_and_the_report_downloads(client, serving, golden_small):
    from evaluation.services import eval_run_create, eval_run_execute

    run = eval_run_create(release=serving["release"], actor="t", queue=False)
    client.force_login(make_user("viewer", Role.COMPLIANCE_OFFICER))
    queued = client.get(f"/evaluation/runs/{run.pk}/").content.decode()
    assert 'data-testid="progress-bar"' in queued
    assert client.get(f"/evaluation/runs/{run.pk}/progress/").json()["finished"] is False
    eval_run_execute(run.pk)
    html = client.get(f"/evaluation/runs/{run.pk}/").content.decode()
    assert "Intent accuracy at least" in html
    assert "Gate passed" in html
    report = client.get(f"/evaluation/runs/{run.pk}/report.md")
    assert report["Content-Disposition"].endswith(f'eval-run-{run.pk}.md"')
    assert b"| Gate | Result | Value |" in report.content
    index = client.get("/evaluation/").content.decode()
    assert "Metrics across evaluation runs" in index
