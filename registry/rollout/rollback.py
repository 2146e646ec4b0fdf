"""Rollback: production back to the release it served before, in one locked transaction that also pauses
every experiment and canary serving another release, then a follow-up (targets shifted back, golden
evaluation, alert, audit) that a beat task resumes if a worker dies."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from evaluation.services import EvalError, eval_run_create
from experiments.services import experiments_pause_for_production
from mangaconsole.lib.actors import actor_label as _actor_label
from mangaconsole.lib.alerts import alert_send
from registry.models import Alias, AliasEvent, AliasName, Canary, Release, Rollback
from registry.rollout import tasks as rollout_tasks  # the follow-up's task; tasks imports this module back
from registry.rollout.targets import targets_restore
from registry.services import RegistryError, alias_move, canary_cache_drop


def rollback_target(current: Release) -> Release | None:
    """The release ``production`` served before ``current`` arrived by a forward move. Rollback
    moves are skipped, so two rollbacks in a row walk back two releases instead of flip-flopping."""
    event = (
        AliasEvent.objects.filter(alias=AliasName.PRODUCTION, to_release=current, is_rollback=False)
        .exclude(from_release=None)
        .order_by("-at", "-id")
        .select_related("from_release")
        .first()
    )
    return event.from_release if event else None


@transaction.atomic
def release_rollback(*, actor, reason: str, expected_release: int | None = None) -> Rollback:
    """Move ``production`` back to the release before it, record the rollback and queue its follow-up.

    Locks the production alias row (select_for_update, no join: PostgreSQL re-checks a joined row
    after the wait and would drop the moved alias): of two requests made against the same
    release (two people, or a double click), the second finds production already moved and is
    refused with ``RegistryError``; exactly one alias move happens. ``expected_release`` is the
    release number the requester saw as production.
    """
    if not reason.strip():
        raise RegistryError("say why you roll back: the reason goes into the audit log and the alert")
    alias = Alias.objects.select_for_update().filter(name=AliasName.PRODUCTION).first()
    if alias is None:
        raise RegistryError("nothing is in production yet")
    current = alias.release
    if expected_release is not None and current.number != expected_release:
        raise RegistryError(
            f"production is release {current.number} now, not {expected_release}: "
            "someone has already rolled back or promoted; reload the page"
        )
    target = rollback_target(current)
    if target is None:
        raise RegistryError(f"release {current.number} has no earlier production release to roll back to")
    alias_move(
        alias=AliasName.PRODUCTION,
        release=target,
        actor=actor,
        reason=f"Rollback: {reason}",
        rollback=True,
    )
    # A rollback takes precedence over every allocation: experiments and a canary that would keep
    # serving other releases are paused in this same transaction (each audited).
    why = f"Paused by the rollback of production from release {current.number} to {target.number}: {reason}"
    paused = experiments_pause_for_production(production=target, actor=actor, reason=why)
    paused += _canary_stop_for_production(production=target, actor=actor, reason=why)
    rollback = Rollback.objects.create(
        from_release=current,
        to_release=target,
        requested_by=_actor_label(actor),
        reason=reason,
        requested_at=timezone.now(),
        paused=paused,
    )
    audit_record(
        actor=actor,
        action=AuditAction.RELEASE_ROLLBACK,
        target_type="registry.rollback",
        target_id=rollback.pk,
        before={"production": current.number},
        after={"production": target.number, "state": "alias_moved", "paused": paused},
        reason=reason,
    )
    transaction.on_commit(lambda: rollout_tasks.rollback_followup_task.delay(rollback.pk))
    return rollback


def _canary_stop_for_production(*, production: Release, actor, reason: str) -> list[dict]:
    """Stop the active canary unless it serves ``production`` itself (inside the caller's transaction)."""
    canary = Canary.objects.select_for_update().filter(state=Canary.State.ACTIVE).exclude(release=production).first()
    if canary is None:
        return []
    Canary.objects.filter(pk=canary.pk).update(state=Canary.State.STOPPED, finished_at=timezone.now())
    audit_record(
        actor=actor,
        action=AuditAction.CANARY,
        target_type="registry.canary",
        target_id=canary.pk,
        before={"state": "active", "percent": canary.percent},
        after={"state": "stopped"},
        reason=reason,
    )
    canary_cache_drop()
    return [{"kind": "canary", "id": canary.pk, "name": f"canary of release {canary.release.number}"}]


def _advance(rollback: Rollback, frm: int, to: int, **fields) -> bool:
    return Rollback.objects.filter(pk=rollback.pk, state=frm).update(state=to, **fields) == 1


def rollback_followup(rollback_id: int, *, clients: dict | None = None) -> Rollback:
    """Advance a rollback through its follow-up: queue the golden evaluation of the restored
    release, alert on-call, write the result to the audit log. Each step runs only from its state,
    so running this twice, or after a crash between steps, completes the rollback exactly once
    (an alert may repeat if the worker died after sending it and before recording it)."""
    rollback = Rollback.objects.select_related("from_release", "to_release").get(pk=rollback_id)
    State = Rollback.State
    if rollback.state == State.ALIAS_MOVED:
        # SageMaker blue/green: traffic goes back to the old variant (idempotent; outside any transaction)
        shifted = targets_restore(rollback.from_release, clients=clients)
        if shifted:
            Rollback.objects.filter(pk=rollback.pk).update(targets_result=shifted)
            rollback.targets_result = shifted
        with transaction.atomic():
            try:
                run = eval_run_create(
                    release=rollback.to_release, actor="system:rollback", baseline=rollback.from_release
                )
            except EvalError:  # no golden dataset loaded: the rollback still completes, and says so
                run = None
            if not _advance(rollback, State.ALIAS_MOVED, State.EVAL_QUEUED, eval_run=run):
                transaction.set_rollback(True)
        rollback.refresh_from_db()
    if rollback.state == State.EVAL_QUEUED:
        result = alert_send(
            subject=f"[MangaAssist] production rolled back to release {rollback.to_release.number}",
            body=(
                f"{rollback.requested_by} rolled production back from release {rollback.from_release.number} "
                f"to release {rollback.to_release.number} at {rollback.requested_at:%Y-%m-%d %H:%M:%S %Z}.\n"
                f"Reason: {rollback.reason}\n"
                f"Post-rollback evaluation: run {rollback.eval_run_id or 'not started (no golden dataset)'}."
                + "".join(f"\n{target}: {outcome}" for target, outcome in rollback.targets_result.items())
                + "".join(f"\nPaused: {p['kind']} {p['id']} ({p['name']})" for p in rollback.paused)
            ),
            payload={
                "event": "rollback",
                "from_release": rollback.from_release.number,
                "to_release": rollback.to_release.number,
                "by": rollback.requested_by,
                "reason": rollback.reason,
                "eval_run": rollback.eval_run_id,
                "targets": rollback.targets_result,
                "paused": rollback.paused,
            },
        )
        _advance(rollback, State.EVAL_QUEUED, State.ALERTED, alert_result=result)
        rollback.refresh_from_db()
    if rollback.state == State.ALERTED:
        with transaction.atomic():
            if _advance(rollback, State.ALERTED, State.DONE, finished_at=timezone.now()):
                audit_record(
                    actor="system:rollback",
                    action=AuditAction.RELEASE_ROLLBACK,
                    target_type="registry.rollback",
                    target_id=rollback.pk,
                    before={"state": "alerted"},
                    after={"production": rollback.to_release.number, "state": "done"},
                    evidence={
                        "eval_run": rollback.eval_run_id,
                        "alerts": rollback.alert_result,
                        "targets": rollback.targets_result,
                    },
                    reason=f"Rollback by {rollback.requested_by} completed: {rollback.reason}",
                )
        rollback.refresh_from_db()
    return rollback


def rollbacks_resume(*, older_than_s: int = 30) -> list[int]:
    """Finish rollbacks left unfinished (a worker died mid-follow-up). Returns their ids."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    ids = list(
        Rollback.objects.filter(state__lt=Rollback.State.DONE, requested_at__lt=cutoff).values_list("pk", flat=True)
    )
    for pk in ids:
        rollback_followup(pk)
    return ids
