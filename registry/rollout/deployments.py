"""The deployment pipeline (US-1.2): build → evaluate → staging → smoke → approve → promote.

Each stage is a ``DeploymentStage`` row. A stage runs only from ``pending`` (claimed with a
conditional UPDATE) and only after every earlier stage passed, so a duplicate delivery or a re-run of
a finished stage does nothing; a failed stage stops the chain with its reason and marks the later
stages "not run". Its log is appended line by line as it runs (the page polls it). The approval is a
person's click; promotion shifts the deployment targets and then moves ``production`` in one
transaction, so a target failure leaves the alias where it was.

The chain is Celery's ``chain`` of one ``deployment_stage_task`` per automatic stage (after MLflow's
model-version stages and GitHub Actions' environments with required reviewers: automatic checks up
to a human gate).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from chat.serving import serving_context
from chat.turn import SessionState, run_turn
from evaluation.models import EvalRun
from evaluation.services import EvalError, eval_run_create, eval_run_execute
from experiments.services import experiment_winner_archive
from mangaconsole.lib.actors import actor_label as _actor_label
from prompts_app.models import PromptVersion
from registry.models import STAGE_ORDER, AliasName, Canary, Deployment, DeploymentStage, Release, StageName
from registry.rollout import tasks as rollout_tasks  # the stage task; tasks imports this module back
from registry.rollout.targets import DeploymentError, targets_for_release
from registry.selectors import release_for_alias, release_versions
from registry.services import (
    alias_move,
    canary_for_promotion,
    canary_promoted,
    release_cut_from_production,
    release_eligibility,
)

log_ = logging.getLogger(__name__)
Status = DeploymentStage.Status
AUTOMATIC = [StageName.BUILD, StageName.EVALUATE, StageName.STAGING, StageName.SMOKE]

# Real turns the smoke test sends through the release (one per kind of route).
SMOKE_QUERIES = [
    "do you ship to Canada?",
    "how much is Berserk Vol. 1?",
    "recommend a dark fantasy manga",
    "where is my order?",
    "hi there!",
]


class StageFailed(Exception):
    """A stage's check did not hold; the message is the reason shown on the page."""


# ----------------------------------------------------------------------------------- starting
@transaction.atomic
def deployment_start(
    *,
    release: Release,
    actor,
    clients: dict | None = None,
    origin: dict | None = None,
    reason: str = "",
    queue: bool = True,
) -> Deployment:
    """Open a deployment of ``release`` and queue its chain (after commit; ``queue=False`` leaves the
    stages to ``deployment_run_inline``). ``origin`` says what asked for it (an experiment's winner,
    a canary at 100%, a prompt on staging, a retrained model)."""
    production = release_for_alias(AliasName.PRODUCTION)
    if production is not None and production.pk == release.pk:
        raise DeploymentError(f"release {release.number} already serves production")
    busy = Deployment.objects.select_for_update().filter(
        release=release, state__in=[Deployment.State.RUNNING, Deployment.State.WAITING]
    )
    if busy.exists():
        raise DeploymentError(f"release {release.number} is already in the pipeline (deployment {busy.first().pk})")
    origin = origin or {"kind": "manual"}
    deployment = Deployment.objects.create(
        release=release,
        requested_by=_actor_label(actor),
        requested_at=timezone.now(),
        targets=[t.label() for t in targets_for_release(release, clients=clients)],
        origin=origin,
    )
    DeploymentStage.objects.bulk_create(
        DeploymentStage(deployment=deployment, name=name, order=i) for i, name in enumerate(STAGE_ORDER)
    )
    audit_record(
        actor=actor,
        action=AuditAction.DEPLOYMENT,
        target_type="registry.deployment",
        target_id=deployment.pk,
        after={"release": release.number, "state": "running", "targets": deployment.targets, "origin": origin},
        reason=reason or f"Deploy release {release.number} through the pipeline",
    )
    if queue:
        transaction.on_commit(lambda: pipeline_queue(deployment.pk))
    return deployment


def pipeline_queue(deployment_id: int) -> None:
    from celery import chain

    chain(*(rollout_tasks.deployment_stage_task.si(deployment_id, name.value) for name in AUTOMATIC)).delay()


# ------------------------------------------------------------------------------------- stages
def stage_logger(stage: DeploymentStage):
    """A function that appends one timestamped line to the stage's log, committed at once so the
    page shows it while the stage runs."""

    def write(line: str) -> None:
        stamp = timezone.localtime().strftime("%H:%M:%S")
        DeploymentStage.objects.filter(pk=stage.pk).update(log=Concat(F("log"), Value(f"{stamp} {line}\n")))

    return write


def stage_run(deployment_id: int, name: str, *, clients: dict | None = None) -> str:
    """Run one stage if it is pending and every earlier stage passed; returns its status after."""
    stage = DeploymentStage.objects.get(deployment_id=deployment_id, name=name)
    earlier = DeploymentStage.objects.filter(deployment_id=deployment_id, order__lt=stage.order)
    if earlier.exclude(status=Status.PASSED).exists():
        return stage.status
    claimed = DeploymentStage.objects.filter(pk=stage.pk, status=Status.PENDING).update(
        status=Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:  # a re-run of a started or finished stage: nothing to do
        return stage.status
    deployment = Deployment.objects.select_related("release").get(pk=deployment_id)
    write = stage_logger(stage)
    started = time.perf_counter()
    write(f"{StageName(name).label}: started")
    try:
        detail = STAGES[name](deployment, write, clients or {})
    except (StageFailed, DeploymentError) as exc:
        write(f"FAILED: {exc}")
        _stage_fail(deployment, stage, str(exc))
        return Status.FAILED
    except Exception as exc:  # a bug or an outage: the stage fails with its reason, the worker survives
        log_.exception("deployment %s stage %s crashed", deployment_id, name)
        write(f"FAILED: {type(exc).__name__}: {exc}")
        _stage_fail(deployment, stage, f"{type(exc).__name__}: {exc}")
        return Status.FAILED
    seconds = round(time.perf_counter() - started, 2)
    write(f"passed in {seconds} s")
    with transaction.atomic():
        DeploymentStage.objects.filter(pk=stage.pk).update(
            status=Status.PASSED, finished_at=timezone.now(), detail={**(detail or {}), "seconds": seconds}
        )
        audit_record(
            actor="system:deploy",
            action=AuditAction.DEPLOYMENT,
            target_type="registry.deployment",
            target_id=deployment.pk,
            before={"stage": name, "status": "running"},
            after={"stage": name, "status": "passed"},
            evidence=detail or {},
            reason=f"Release {deployment.release.number}: {StageName(name).label} passed",
        )
        if name == StageName.SMOKE:  # the automatic part is done: a person approves the promotion
            DeploymentStage.objects.filter(deployment=deployment, name=StageName.APPROVE).update(
                status=Status.WAITING, started_at=timezone.now()
            )
            Deployment.objects.filter(pk=deployment.pk).update(state=Deployment.State.WAITING)
        if name == StageName.PROMOTE:
            Deployment.objects.filter(pk=deployment.pk).update(
                state=Deployment.State.PROMOTED, finished_at=timezone.now()
            )
    return Status.PASSED


def _stage_fail(deployment: Deployment, stage: DeploymentStage, reason: str) -> None:
    with transaction.atomic():
        DeploymentStage.objects.filter(pk=stage.pk).update(
            status=Status.FAILED, finished_at=timezone.now(), detail={"reason": reason}
        )
        DeploymentStage.objects.filter(deployment=deployment, order__gt=stage.order).update(status=Status.SKIPPED)
        Deployment.objects.filter(pk=deployment.pk).update(
            state=Deployment.State.FAILED,
            failure=f"{StageName(stage.name).label}: {reason}",
            finished_at=timezone.now(),
        )
        audit_record(
            actor="system:deploy",
            action=AuditAction.DEPLOYMENT,
            target_type="registry.deployment",
            target_id=deployment.pk,
            before={"stage": stage.name, "status": "running"},
            after={"stage": stage.name, "status": "failed", "state": "failed"},
            reason=f"Release {deployment.release.number}: {StageName(stage.name).label} failed: {reason}",
        )


def _build(deployment: Deployment, write, clients) -> dict:
    """Every component the release names is registered, and every artifact is on disk with the
    checksum the registry recorded."""
    versions = release_versions(deployment.release)
    checked = {}
    for kind, version in sorted(versions.items()):
        if version.artifact_uri:
            path = Path(version.artifact_uri)
            if not path.exists():
                raise StageFailed(f"{version.version_id}: artifact {path} is missing")
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
            if actual != version.artifact_sha256:
                raise StageFailed(
                    f"{version.version_id}: artifact checksum {actual[:12]}… is not the registered "
                    f"{version.artifact_sha256[:12]}…"
                )
            write(f"{version.version_id}: artifact {path.name} sha256 {actual[:12]}… verified")
            checked[kind] = actual
        else:
            write(f"{version.version_id}: configuration only ({version.framework})")
    targets = targets_for_release(deployment.release, clients=clients)
    write(f"targets: {', '.join(t.label() for t in targets)}")
    return {"components": {k: v.version_id for k, v in versions.items()}, "artifacts": checked}


def _evaluate(deployment: Deployment, write, clients) -> dict:
    """The golden-dataset evaluation of the release against production, run in this worker."""
    production = release_for_alias(AliasName.PRODUCTION)
    try:
        run = eval_run_create(release=deployment.release, actor="system:deploy", baseline=production, queue=False)
    except EvalError as exc:
        raise StageFailed(str(exc)) from exc
    Deployment.objects.filter(pk=deployment.pk).update(eval_run=run)
    against = production.number if production else "-"
    write(f"evaluation run {run.pk}: {run.total} golden entries against release {against}")
    eval_run_execute(run.pk)
    run = EvalRun.objects.get(pk=run.pk)
    for gate in run.gates:
        write(
            f"  {'PASS' if gate['passed'] else 'FAIL'} {gate['label']}: {gate['value']} (threshold {gate['threshold']})"
        )
    if not run.gate_passed:
        failed = [g["label"] for g in run.gates if not g["passed"]] or [run.error or run.status]
        raise StageFailed(f"evaluation run {run.pk} failed its gate: {', '.join(failed)}")
    return {"eval_run": run.pk, "gates": {g["name"]: g["passed"] for g in run.gates}}


def _staging(deployment: Deployment, write, clients) -> dict:
    result = {}
    for target in targets_for_release(deployment.release, clients=clients):
        result[target.label()] = target.stage(deployment.release, write)
    with transaction.atomic():
        alias_move(
            alias=AliasName.STAGING,
            release=deployment.release,
            actor="system:deploy",
            reason=f"Deployment {deployment.pk}: staging",
        )
    write(f"staging → release {deployment.release.number}")
    return {"targets": result}


def _smoke(deployment: Deployment, write, clients) -> dict:
    """Real turns through the release's own pipeline (not recorded as production traffic)."""
    ctx = serving_context(deployment.release)
    queries = getattr(settings, "DEPLOY_SMOKE_QUERIES", SMOKE_QUERIES)
    turns = []
    for query in queries:
        state = SessionState(uuid.uuid4(), None, 10_000)
        result = run_turn(state, query, ctx=ctx, record=False)
        latency = result.payload["latency_ms"]
        write(f"  {query!r} → {result.turn.intent}, {latency:.0f} ms: {result.answer[:70]!r}")
        if not result.answer.strip():
            raise StageFailed(f"{query!r} got an empty answer")
        if result.payload["release"] != deployment.release.number:
            raise StageFailed(f"{query!r} was served by release {result.payload['release']}")
        if latency > float(getattr(settings, "DEPLOY_SMOKE_MAX_MS", 10_000)):
            raise StageFailed(f"{query!r} took {latency:.0f} ms")
        turns.append({"query": query, "intent": result.turn.intent, "latency_ms": latency})
    return {"turns": turns}


def _promote(deployment: Deployment, write, clients) -> dict:
    """Shift every target, then move production (one transaction). A failed target shift undoes
    the targets already shifted and leaves the alias where it was."""
    origin = deployment.origin or {}
    if origin.get("kind") == "canary":
        canary = Canary.objects.filter(pk=origin.get("canary")).first()
        if canary is None or canary.state != Canary.State.ACTIVE or canary.release_id != deployment.release_id:
            state = canary.get_state_display().lower() if canary else "gone"
            raise StageFailed(f"the canary this deployment promotes is {state}: production stays where it is")
    done, result = [], {}
    targets = targets_for_release(deployment.release, clients=clients)
    try:
        for target in targets:
            result[target.label()] = target.promote(deployment.release, write)
            done.append(target)
    except DeploymentError:
        for target in reversed(done):
            if target.name == "sagemaker":
                write(f"undoing the shift on {target.label()}")
                target.rollback(deployment.release, write)
        write("production alias left where it was")
        raise
    with transaction.atomic():
        alias_move(
            alias=AliasName.PRODUCTION,
            release=deployment.release,
            actor=deployment.approved_by or "system:deploy",
            reason=f"Deployment {deployment.pk}: promoted after approval by {deployment.approved_by}",
            evidence={"deployment": deployment.pk, "eval_run": deployment.eval_run_id, "origin": origin},
            deployment=deployment,
        )
        ended = canary_promoted(release=deployment.release, deployment=deployment, actor="system:deploy")
    write(f"production → release {deployment.release.number}")
    if ended is not None:
        write(f"canary {ended.pk} ended: its release is production")
    return {"targets": result}


STAGES = {
    StageName.BUILD: _build,
    StageName.EVALUATE: _evaluate,
    StageName.STAGING: _staging,
    StageName.SMOKE: _smoke,
    StageName.PROMOTE: _promote,
}


# ----------------------------------------------------------------------------------- the gate
@transaction.atomic
def deployment_approve(*, deployment: Deployment, actor, queue: bool = True) -> Deployment:
    """A person approves the promotion; a double click or a second approver finds it done. Four
    eyes: whoever started the deployment cannot approve it."""
    requested_by = Deployment.objects.filter(pk=deployment.pk).values_list("requested_by", flat=True).first()
    waiting = DeploymentStage.objects.filter(deployment=deployment, name=StageName.APPROVE, status=Status.WAITING)
    if not waiting.exists():
        raise DeploymentError("this deployment is not waiting for approval (already approved, failed or cancelled)")
    if requested_by == _actor_label(actor):
        raise DeploymentError(
            f"four-eyes rule: {requested_by} started this deployment and cannot also approve it; "
            "another ML or on-call engineer must"
        )
    moved = DeploymentStage.objects.filter(deployment=deployment, name=StageName.APPROVE, status=Status.WAITING).update(
        status=Status.PASSED,
        finished_at=timezone.now(),
        detail={"by": _actor_label(actor)},
        log=f"{timezone.localtime():%H:%M:%S} approved by {_actor_label(actor)}\n",
    )
    if not moved:
        raise DeploymentError("this deployment is not waiting for approval (already approved, failed or cancelled)")
    Deployment.objects.filter(pk=deployment.pk).update(state=Deployment.State.RUNNING, approved_by=_actor_label(actor))
    audit_record(
        actor=actor,
        action=AuditAction.DEPLOYMENT,
        target_type="registry.deployment",
        target_id=deployment.pk,
        before={"stage": "approve", "status": "waiting"},
        after={"stage": "approve", "status": "passed"},
        reason=f"Approved the promotion of release {deployment.release.number}",
    )

    if queue:
        transaction.on_commit(lambda: rollout_tasks.deployment_stage_task.delay(deployment.pk, StageName.PROMOTE.value))
    deployment.refresh_from_db()
    return deployment


def deployment_run_inline(deployment_id: int, *, approver, clients: dict | None = None) -> Deployment:
    """Run a deployment opened with ``queue=False`` in this process: the automatic stages, the
    approval by ``approver`` (four eyes apply), then the promotion. For benchmarks and drills that
    must take the one real path to production without a worker. Raises ``DeploymentError`` with the
    failure when a stage fails."""
    for name in AUTOMATIC:
        stage_run(deployment_id, name, clients=clients)
    deployment = Deployment.objects.select_related("release").get(pk=deployment_id)
    if deployment.state != Deployment.State.WAITING:
        raise DeploymentError(f"deployment {deployment_id} stopped: {deployment.failure or deployment.state}")
    deployment_approve(deployment=deployment, actor=approver, queue=False)
    stage_run(deployment_id, StageName.PROMOTE, clients=clients)
    deployment.refresh_from_db()
    if deployment.state != Deployment.State.PROMOTED:
        raise DeploymentError(f"deployment {deployment_id} was not promoted: {deployment.failure or deployment.state}")
    return deployment


@transaction.atomic
def deployment_cancel(*, deployment: Deployment, actor, reason: str) -> Deployment:
    if not reason.strip():
        raise DeploymentError("say why you stop this deployment: the reason goes into the audit log")
    moved = DeploymentStage.objects.filter(deployment=deployment, name=StageName.APPROVE, status=Status.WAITING).update(
        status=Status.FAILED, finished_at=timezone.now(), detail={"by": _actor_label(actor), "reason": reason}
    )
    if not moved:
        raise DeploymentError("only a deployment waiting for approval can be declined")
    DeploymentStage.objects.filter(deployment=deployment, name=StageName.PROMOTE).update(status=Status.SKIPPED)
    Deployment.objects.filter(pk=deployment.pk).update(
        state=Deployment.State.CANCELLED,
        failure=f"Declined by {_actor_label(actor)}: {reason}",
        finished_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action=AuditAction.DEPLOYMENT,
        target_type="registry.deployment",
        target_id=deployment.pk,
        before={"stage": "approve", "status": "waiting"},
        after={"state": "cancelled"},
        reason=reason,
    )
    deployment.refresh_from_db()
    return deployment


# ------------------------------------------------------------------------------ recovery
@transaction.atomic
def deployment_retry(*, deployment: Deployment, actor) -> Deployment:
    """Run a failed deployment again from its failed stage (a throttled AWS call, a worker lost
    mid-stage). Stages that passed stay passed; the approval, once given, stands."""
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if deployment.state != Deployment.State.FAILED:
        raise DeploymentError("only a failed deployment can be retried")
    failed = deployment.stages.filter(status=Status.FAILED).order_by("order").first()
    if failed is None or failed.name == StageName.APPROVE:
        raise DeploymentError("nothing to retry: no automatic stage failed")

    production = release_for_alias(AliasName.PRODUCTION)
    if production is not None and production.pk == deployment.release_id:
        raise DeploymentError(f"release {deployment.release.number} already serves production")
    DeploymentStage.objects.filter(deployment=deployment, order__gte=failed.order).exclude(
        name=StageName.APPROVE, status=Status.PASSED
    ).update(status=Status.PENDING, started_at=None, finished_at=None, detail={})
    DeploymentStage.objects.filter(pk=failed.pk).update(
        log=Concat(F("log"), Value(f"{timezone.localtime():%H:%M:%S} retried by {_actor_label(actor)}\n"))
    )
    Deployment.objects.filter(pk=deployment.pk).update(state=Deployment.State.RUNNING, failure="", finished_at=None)
    audit_record(
        actor=actor,
        action=AuditAction.DEPLOYMENT,
        target_type="registry.deployment",
        target_id=deployment.pk,
        before={"state": "failed", "stage": failed.name, "failure": deployment.failure},
        after={"state": "running", "stage": failed.name},
        reason=f"Retry release {deployment.release.number} from {StageName(failed.name).label}",
    )
    from celery import chain

    remaining = [s for s in STAGE_ORDER[STAGE_ORDER.index(failed.name) :] if s != StageName.APPROVE]
    approved = deployment.stages.filter(name=StageName.APPROVE, status=Status.PASSED).exists()
    if not approved:
        remaining = [s for s in remaining if s != StageName.PROMOTE]
    transaction.on_commit(
        lambda: chain(*(rollout_tasks.deployment_stage_task.si(deployment.pk, s) for s in remaining)).delay()
    )
    deployment.refresh_from_db()
    return deployment


def deployments_unstick(*, older_than_s: int | None = None) -> list[int]:
    """A stage still "running" long after any stage could take (its worker was killed) is failed
    with that reason, so the deployment can be retried. Returns the stage ids."""
    from datetime import timedelta

    limit = older_than_s or int(getattr(settings, "DEPLOY_STAGE_TIMEOUT_S", 1800))
    stale = DeploymentStage.objects.filter(
        status=Status.RUNNING, started_at__lt=timezone.now() - timedelta(seconds=limit)
    ).select_related("deployment__release")
    ids = []
    for stage in stale:
        reason = f"no result after {limit // 60} min: its worker was lost; retry the deployment"
        stage_logger(stage)(f"FAILED: {reason}")
        _stage_fail(stage.deployment, stage, reason)
        ids.append(stage.pk)
    return ids


# ------------------------------------------------------------------ the one way to production
# Every forward move of production starts here or at the deployments page: the release enters the
# pipeline (build, evaluation gate, staging, smoke), waits for a second person's approval, and the
# promote stage shifts the targets and moves the alias (``registry.services.alias_move`` refuses
# anything else). Rollback is the one exception: it restores what served before, in one click.
@transaction.atomic
def experiment_winner_promote(*, experiment, variant, actor) -> Deployment | None:
    """A product manager's one action on a winning arm: its release enters the pipeline and the
    experiment is archived with the deployment. The control arm is production already, so nothing
    moves. Refused when the arm's release failed its gate or was never evaluated."""
    production = release_for_alias(AliasName.PRODUCTION)
    deployment = None
    if production is None or variant.release_id != production.pk:
        refused = release_eligibility(variant.release, production)
        if refused:
            raise DeploymentError(f"{refused}, so arm {variant.key} cannot be promoted")
        deployment = deployment_start(
            release=variant.release,
            actor=actor,
            origin={"kind": "experiment", "experiment": experiment.pk, "arm": variant.key},
            reason=f"Experiment {experiment.name!r}: arm {variant.key} won; promote release {variant.release.number}",
        )
    experiment_winner_archive(
        experiment=experiment, variant=variant, actor=actor, deployment_id=deployment.pk if deployment else None
    )
    return deployment


@transaction.atomic
def canary_promote_request(*, actor, expected_percent: int | None = None) -> Deployment:
    """The canary serves 100%: its release enters the pipeline. The canary keeps serving until the
    promote stage ends it; a canary rolled back or stopped meanwhile fails that stage."""
    canary = canary_for_promotion(expected_percent=expected_percent)
    return deployment_start(
        release=canary.release,
        actor=actor,
        origin={"kind": "canary", "canary": canary.pk},
        reason=f"Canary {canary.pk} at {canary.percent}%: promote release {canary.release.number}",
    )


@transaction.atomic
def staging_promote_request(*, actor, reason: str = "") -> Deployment:
    """Promote what ``staging`` holds (a released prompt version's candidate) through the pipeline."""
    staging = release_for_alias(AliasName.STAGING)
    production = release_for_alias(AliasName.PRODUCTION)
    if staging is None:
        raise DeploymentError("nothing is on staging: release an evaluated version first")
    if production is not None and staging.pk == production.pk:
        raise DeploymentError(f"release {staging.number} is already in production")
    refused = release_eligibility(staging, production)
    if refused:
        raise DeploymentError(refused)
    version = PromptVersion.objects.filter(candidate_release=staging).select_related("template").first()
    label = version.label if version else None
    return deployment_start(
        release=staging,
        actor=actor,
        origin={"kind": "prompt", "prompt": label},
        reason=reason or f"Promote staging release {staging.number}" + (f" ({label})" if label else ""),
    )


@transaction.atomic
def version_promote_request(*, version, actor, notes: str, reason: str) -> Deployment:
    """A newly registered version (a retrained intent model or injection classifier): cut a release
    from production with it and send that through the pipeline."""
    release = release_cut_from_production(version=version, actor=actor, notes=notes)
    return deployment_start(
        release=release, actor=actor, origin={"kind": "retrain", "version": version.version_id}, reason=reason
    )
