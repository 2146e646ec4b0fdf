"""Evaluating prompt versions: approval queues the candidate release's evaluation, and "Evaluate again"
re-runs it. Here, one layer above prompts_app, because a prompt's lifecycle step that runs the golden
dataset depends on evaluation (README "Architecture")."""

from __future__ import annotations

from django.db import transaction

from evaluation.services import eval_run_create
from prompts_app.models import PromptVersion
from prompts_app.services import prompt_candidate_cut, prompt_version_mark_approved


@transaction.atomic
def prompt_version_evaluate(*, version: PromptVersion, actor):
    """Queue the evaluation of the version's candidate release against production: the template's
    intent subset plus the cross-intent canary, or the whole dataset for the base prompt. Evaluating
    again re-runs the same candidate while production has not moved."""
    candidate, production = prompt_candidate_cut(version=version, actor=actor)
    return eval_run_create(
        release=candidate,
        baseline=production,
        actor=actor,
        intent="" if version.template.is_base else version.template.name,
        prompt_version=version,
    )


@transaction.atomic
def prompt_version_approve(*, version: PromptVersion, actor, comment: str = "") -> PromptVersion:
    """Approve (reviewer ≠ author) and queue the evaluation of a candidate release after commit."""
    prompt_version_mark_approved(version=version, actor=actor, comment=comment)
    prompt_version_evaluate(version=version, actor=actor)
    return version
