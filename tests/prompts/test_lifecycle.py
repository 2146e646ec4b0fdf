"""Draft → review → approved → evaluated → staging → production → rollback, each step audited."""

import uuid

import pytest

from audit.models import AuditAction, AuditEntry
from chat.serving import _serving_cache
from chat.turn import SessionState, run_turn
from evaluation.models import RunStatus
from evaluation.prompts import prompt_version_approve
from evaluation.services import eval_run_execute
from mangaconsole.roles import Role
from prompts_app.models import PromptStatus, PromptTemplate
from prompts_app.rendering import TemplateInvalid
from prompts_app.services import (
    PromptError,
    latest_run,
    prompt_version_create,
    prompt_version_reject,
    prompt_version_release,
    prompt_version_submit,
)
from registry.rollout.deployments import deployment_run_inline, staging_promote_request
from registry.rollout.rollback import release_rollback
from registry.selectors import release_for_alias
from tests.factories import make_user


@pytest.fixture
def people(db):
    return make_user("author", Role.PROMPT_ENGINEER), make_user("reviewer", Role.ML_ENGINEER)


def _faq_version(author, body=None, bump="minor"):
    template = PromptTemplate.objects.get(name="faq")
    latest = template.versions.order_by("-major", "-minor", "-patch").first()
    return prompt_version_create(
        template=template,
        body=body or latest.body.replace("in a few sentences", "in two or three sentences, quoting time limits"),
        few_shot=latest.few_shot,
        bump=bump,
        change_description="Ask for time limits to be quoted",
        changelog="faq: quote time limits",
        actor=author,
    )


def _approve_and_evaluate(version, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        prompt_version_approve(version=version, actor=reviewer, comment="looks right")
    assert len(queued) == 1  # the evaluation task, queued after commit
    version.refresh_from_db()
    run = latest_run(version)
    return eval_run_execute(run.pk)


def test_the_whole_lifecycle_ends_with_the_bot_serving_the_new_version_and_rolls_back(
    serving, golden_small, people, django_capture_on_commit_callbacks
):
    author, reviewer = people
    version = _faq_version(author)
    assert version.semver == "1.1.0"
    assert version.status == PromptStatus.DRAFT
    prompt_version_submit(version=version, actor=author)
    with pytest.raises(PromptError, match="cannot review their own"):
        prompt_version_approve(version=version, actor=author)
    run = _approve_and_evaluate(version, reviewer, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.PASSED, run.gates
    assert run.intent == "faq"
    assert "Only the 'faq' template changed" in run.scope_note
    assert run.baseline == serving["release"]

    with django_capture_on_commit_callbacks(execute=True):
        staging = prompt_version_release(version=version, actor=author)
    assert release_for_alias("staging") == staging
    with pytest.raises(PromptError):  # a double click releases once
        prompt_version_release(version=version, actor=author)
    with django_capture_on_commit_callbacks(execute=False):  # the chain runs in process below
        deployment = staging_promote_request(actor=reviewer, reason="gate passed")
    assert deployment.origin == {"kind": "prompt", "prompt": version.label}
    assert release_for_alias("production") == serving["release"]  # only the pipeline moves it
    with django_capture_on_commit_callbacks(execute=True):  # the alias cache is dropped on commit
        deployment_run_inline(deployment.pk, approver="oncall")
    promoted = deployment.release
    assert promoted == staging
    assert release_for_alias("production") == promoted

    _serving_cache.clear()
    turn = run_turn(SessionState(uuid.uuid4(), None, 10_000), "do you ship to Canada?", record=False)
    assert turn.turn.prompt.version.startswith("faq@1.1.0")
    assert turn.payload["release"] == promoted.number

    with django_capture_on_commit_callbacks(execute=True):
        previous = release_rollback(actor=reviewer, reason="demo rollback").to_release
    assert previous == serving["release"]
    assert release_for_alias("production") == previous
    turn = run_turn(SessionState(uuid.uuid4(), None, 10_000), "do you ship to Canada?", record=False)
    assert turn.turn.prompt.version.startswith("faq@1.0.0")
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        AuditAction.PROMPT_CREATE,
        AuditAction.PROMPT_SUBMIT,
        AuditAction.PROMPT_APPROVE,
        AuditAction.EVAL_RUN,
        AuditAction.PROMPT_RELEASE,
        AuditAction.DEPLOYMENT,
        AuditAction.RELEASE_ROLLBACK,
    } <= actions
    release_entry = AuditEntry.objects.filter(action=AuditAction.PROMPT_RELEASE).latest("sequence")
    assert release_entry.evidence["eval_run"] == run.pk


def test_a_template_that_drops_the_citation_rule_fails_the_gate_and_cannot_be_released(
    serving, golden_small, people, django_capture_on_commit_callbacks
):
    author, reviewer = people
    latest = PromptTemplate.objects.get(name="faq").versions.first()
    version = _faq_version(author, body=latest.body.replace(" Cite each source you use as [n].", ""))
    prompt_version_submit(version=version, actor=author)
    run = _approve_and_evaluate(version, reviewer, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.FAILED
    assert not next(g for g in run.gates if g["name"] == "format_compliance_min")["passed"]
    with pytest.raises(PromptError, match="gate failed.*Release is blocked"):
        prompt_version_release(version=version, actor=author)
    assert release_for_alias("staging") is None


def test_an_invalid_template_is_refused_at_save_with_line_and_reason(serving, people):
    author, _ = people
    with pytest.raises(TemplateInvalid) as exc:
        _faq_version(author, body="Answer.\nQuestion: {{ question }}\n{{ secret_notes }}")
    assert exc.value.line == 3
    assert "secret_notes" in exc.value.reason
    assert PromptTemplate.objects.get(name="faq").versions.count() == 1


def test_a_rejection_needs_a_comment_and_only_one_reviewer_wins(serving, people):
    author, reviewer = people
    other = make_user("other", Role.ML_ENGINEER)
    version = _faq_version(author)
    prompt_version_submit(version=version, actor=author)
    with pytest.raises(PromptError, match="comment"):
        prompt_version_reject(version=version, actor=reviewer, comment=" ")
    prompt_version_reject(version=version, actor=reviewer, comment="too long")
    with pytest.raises(PromptError, match="rejected"):
        prompt_version_reject(version=version, actor=other, comment="me too")
    version.refresh_from_db()
    assert version.status == PromptStatus.REJECTED
    assert version.review_comment == "too long"
