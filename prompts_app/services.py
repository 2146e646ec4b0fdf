"""The prompt lifecycle: draft → in review → approved → (evaluated) → released to staging →
promoted to production, or rejected with comments; rollback moves production back.

Each step is one function, one transaction, one audit entry; the evaluation run is the evidence of
release and promotion. State moves are claimed with a conditional UPDATE on the current status, so
a double click or two reviewers at once produce one move (the second gets ``PromptError``).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from mangaconsole.lib.actors import actor_label as _label
from prompts_app.bundle import PromptBundle, TemplateSpec, bundle_from_version, content_sha256, default_bundle
from prompts_app.models import PromptStatus, PromptTemplate, PromptVersion
from prompts_app.rendering import kind_of, template_check
from registry.models import AliasName, ComponentKind, ComponentVersion
from registry.selectors import release_for_alias, release_versions
from registry.services import alias_move, component_version_register, release_create

BUMPS = ("patch", "minor", "major")


class PromptError(ValueError):
    """A lifecycle step that cannot be taken; the message says why."""


def _move(version: PromptVersion, *, frm: str, to: str, **fields) -> None:
    """Claim the transition ``frm`` → ``to``: exactly one caller wins."""
    changed = PromptVersion.objects.filter(pk=version.pk, status=frm).update(status=to, **fields)
    if changed != 1:
        version.refresh_from_db(fields=["status"])
        raise PromptError(
            f"{version.label} is {version.get_status_display().lower()}, not {PromptStatus(frm).label.lower()}: "
            "someone else may have acted on it already"
        )
    version.refresh_from_db()


def bundle_for_release(release) -> PromptBundle:
    version = release_versions(release).get(ComponentKind.PROMPT_BUNDLE) if release else None
    return bundle_from_version(version) if version else default_bundle()


@transaction.atomic
def prompts_seed(*, actor) -> ComponentVersion | None:
    """Register prompts/ (version 1.0.0 of every template) and the first prompt bundle. Idempotent."""
    for spec in default_bundle().templates.values():
        template, _ = PromptTemplate.objects.get_or_create(name=spec.name)
        if not template.versions.exists():
            major, minor, patch = (int(x) for x in spec.semver.split("."))
            PromptVersion.objects.create(
                template=template,
                major=major,
                minor=minor,
                patch=patch,
                body=spec.body,
                few_shot=list(spec.few_shot),
                content_sha256=content_sha256(spec.body, spec.few_shot),
                author_name="system:prompts_seed",
                change_description="Initial version, from prompts_app/prompts/.",
                changelog=f"{spec.semver}: from prompts_app/prompts/",
                status=PromptStatus.RELEASED,
                released_at=timezone.now(),
            )
    if ComponentVersion.objects.filter(component__kind=ComponentKind.PROMPT_BUNDLE).exists():
        return None
    return component_version_register(
        kind=ComponentKind.PROMPT_BUNDLE,
        actor=actor,
        framework="Jinja2 sandboxed templates (prompts_app)",
        config=default_bundle().to_config(),
        notes="prompts/ version 1.0.0",
    )


@transaction.atomic
def prompt_version_create(
    *,
    template: PromptTemplate,
    body: str,
    few_shot: list,
    bump: str,
    change_description: str,
    changelog: str,
    actor,
) -> PromptVersion:
    """Save a new draft version (validated: ``TemplateInvalid`` names the line and reason)."""
    if bump not in BUMPS:
        raise PromptError(f"bump must be one of {', '.join(BUMPS)}")
    if not change_description.strip() or not changelog.strip():
        raise PromptError("a change description and a changelog line are required")
    if not isinstance(few_shot, list) or not all(
        isinstance(x, dict) and set(x) == {"user", "assistant"} for x in few_shot
    ):
        raise PromptError('few-shot examples must be a JSON list of {"user": ..., "assistant": ...} objects')
    template_check(body, kind=kind_of(template.name))
    template = PromptTemplate.objects.select_for_update().get(pk=template.pk)
    latest = template.versions.order_by("-major", "-minor", "-patch").first()
    sha = content_sha256(body, few_shot)
    if latest is not None and latest.content_sha256 == sha:
        raise PromptError(f"nothing changed: this is {latest.label}")
    major, minor, patch = (latest.major, latest.minor, latest.patch) if latest else (1, 0, 0)
    major, minor, patch = {
        "major": (major + 1, 0, 0),
        "minor": (major, minor + 1, 0),
        "patch": (major, minor, patch + 1),
    }[bump]
    version = PromptVersion.objects.create(
        template=template,
        major=major,
        minor=minor,
        patch=patch,
        body=body,
        few_shot=few_shot,
        content_sha256=sha,
        parent=latest,
        author=None if isinstance(actor, str) else actor,
        author_name=_label(actor),
        change_description=change_description.strip(),
        changelog=changelog.strip()[:300],
    )
    audit_record(
        actor=actor,
        action=AuditAction.PROMPT_CREATE,
        target_type="prompts_app.promptversion",
        target_id=version.label,
        before={"version": latest.label} if latest else None,
        after={"version": version.label, "sha256": sha, "changelog": version.changelog},
        reason=version.change_description,
    )
    return version


@transaction.atomic
def prompt_version_submit(*, version: PromptVersion, actor) -> PromptVersion:
    if version.author_name != _label(actor):
        raise PromptError("only the author submits a draft for review")
    _move(version, frm=PromptStatus.DRAFT, to=PromptStatus.IN_REVIEW, submitted_at=timezone.now())
    audit_record(
        actor=actor,
        action=AuditAction.PROMPT_SUBMIT,
        target_type="prompts_app.promptversion",
        target_id=version.label,
        before={"status": "draft"},
        after={"status": "in_review"},
        reason=version.changelog,
    )
    return version


def _check_reviewer(version: PromptVersion, actor) -> None:
    if version.author_name == _label(actor):
        raise PromptError("the author cannot review their own version: ask a second person")


@transaction.atomic
def prompt_version_mark_approved(*, version: PromptVersion, actor, comment: str = "") -> PromptVersion:
    """Approve (reviewer ≠ author). ``evaluation.prompts.prompt_version_approve`` calls this and
    queues the candidate's evaluation in the same transaction (evaluation is the layer above)."""
    _check_reviewer(version, actor)
    _move(
        version,
        frm=PromptStatus.IN_REVIEW,
        to=PromptStatus.APPROVED,
        reviewer=actor,
        review_comment=comment,
        reviewed_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action=AuditAction.PROMPT_APPROVE,
        target_type="prompts_app.promptversion",
        target_id=version.label,
        before={"status": "in_review"},
        after={"status": "approved"},
        reason=comment or "approved",
    )
    return version


@transaction.atomic
def prompt_version_reject(*, version: PromptVersion, actor, comment: str) -> PromptVersion:
    _check_reviewer(version, actor)
    if not comment.strip():
        raise PromptError("say what should change: a rejection needs a comment")
    _move(
        version,
        frm=PromptStatus.IN_REVIEW,
        to=PromptStatus.REJECTED,
        reviewer=actor,
        review_comment=comment,
        reviewed_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action=AuditAction.PROMPT_REJECT,
        target_type="prompts_app.promptversion",
        target_id=version.label,
        before={"status": "in_review"},
        after={"status": "rejected"},
        reason=comment,
    )
    return version


@transaction.atomic
def prompt_candidate_cut(*, version: PromptVersion, actor):
    """The version's candidate release: production with this template swapped in, the other
    components unchanged. The same candidate again while production has not moved (so pages that
    offer it keep one choice per version), a new one when it has. Returns (candidate, production)."""
    if version.status != PromptStatus.APPROVED:
        raise PromptError(f"{version.label} is {version.get_status_display().lower()}: only approved versions run")
    production = release_for_alias(AliasName.PRODUCTION)
    if production is None:
        raise PromptError("nothing is in production yet: run seed_demo first")
    candidate = version.candidate_release
    if candidate is not None and candidate.based_on_id == production.pk:
        return candidate, production
    bundle = bundle_for_release(production).replaced(
        TemplateSpec(version.template.name, version.semver, version.body, tuple(version.few_shot))
    )
    bundle_version = component_version_register(
        kind=ComponentKind.PROMPT_BUNDLE,
        actor=actor,
        framework="Jinja2 sandboxed templates (prompts_app)",
        config=bundle.to_config(),
        notes=f"{version.label} on release {production.number}",
    )
    candidate = release_create(
        actor=actor, versions=[bundle_version], based_on=production, notes=f"Candidate: {version.label}"
    )
    PromptVersion.objects.filter(pk=version.pk).update(candidate_release=candidate)
    version.candidate_release = candidate
    return candidate, production


def latest_run(version: PromptVersion):
    if version.candidate_release_id is None:
        return None
    return version.eval_runs.filter(release_id=version.candidate_release_id).order_by("-created_at").first()


@transaction.atomic
def prompt_version_release(*, version: PromptVersion, actor, reason: str = ""):
    """Move ``staging`` to the version's evaluated candidate release. Refused unless approved and
    its evaluation gate passed (the failing gates are named)."""
    run = latest_run(version)
    if version.status != PromptStatus.APPROVED:
        raise PromptError(f"{version.label} is {version.get_status_display().lower()}: only approved versions release")
    if run is None or not run.finished:
        raise PromptError(f"{version.label} has no finished evaluation yet: wait for it, or start one")
    if not run.gate_passed:
        failed = ", ".join(g["label"].lower() + f" ({g['detail']})" for g in run.gates if not g["passed"])
        raise PromptError(f"the evaluation gate failed (run {run.pk}): {failed or run.error}. Release is blocked.")
    production = release_for_alias(AliasName.PRODUCTION)
    if production is not None and version.candidate_release.based_on_id != production.pk:
        raise PromptError(
            "production has moved since this version was evaluated: re-run the evaluation on the current production"
        )
    _move(version, frm=PromptStatus.APPROVED, to=PromptStatus.RELEASED, released_at=timezone.now())
    alias_move(
        alias=AliasName.STAGING,
        release=version.candidate_release,
        actor=actor,
        reason=reason or f"{version.label} released to staging",
        evidence={"eval_run": run.pk, "gates": {g["name"]: g["passed"] for g in run.gates}},
    )
    audit_record(
        actor=actor,
        action=AuditAction.PROMPT_RELEASE,
        target_type="prompts_app.promptversion",
        target_id=version.label,
        before={"status": "approved"},
        after={"status": "released", "staging_release": version.candidate_release.number},
        evidence={"eval_run": run.pk, "metrics": {k: run.metrics.get(k) for k in ("intent_accuracy", "bertscore")}},
        reason=reason or version.changelog,
    )
    return version.candidate_release


def next_semvers(template: PromptTemplate) -> dict[str, str]:
    agg = template.versions.aggregate(m=Max("major"))
    latest = template.versions.order_by("-major", "-minor", "-patch").first()
    if latest is None or agg["m"] is None:
        return {"patch": "1.0.0", "minor": "1.0.0", "major": "1.0.0"}
    return {
        "patch": f"{latest.major}.{latest.minor}.{latest.patch + 1}",
        "minor": f"{latest.major}.{latest.minor + 1}.0",
        "major": f"{latest.major + 1}.0.0",
    }
