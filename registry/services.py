"""Writes to the registry: register versions, cut releases, move aliases. Each one audited."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from mangaconsole.lib.actors import actor_label as _actor_label
from mangaconsole.lib.secret_refs import literal_secrets
from registry.models import (
    CANARY_STEPS,
    Alias,
    AliasEvent,
    AliasName,
    Canary,
    Component,
    ComponentKind,
    ComponentVersion,
    Deployment,
    DeploymentStage,
    GateStatus,
    Release,
    ReleaseComponent,
    StageName,
)
from registry.selectors import (
    ALIAS_CACHE_KEY,
    CANARY_CACHE_KEY,
)


class RegistryError(ValueError):
    """A registry change that cannot be made; the message says why."""


@transaction.atomic
def component_version_register(
    *,
    kind: ComponentKind | str,
    actor,
    framework: str,
    hosting_target: str = "local",
    artifact_uri: str = "",
    artifact_sha256: str = "",
    training_date=None,
    dataset_hash: str = "",
    metrics: dict | None = None,
    config: dict | None = None,
    notes: str = "",
) -> ComponentVersion:
    """Register the next version of a component (1, 2, 3…). Locks the component row so two
    registrations at once get different numbers."""
    leaked = literal_secrets(config or {})
    if leaked:
        raise RegistryError(
            f"the config holds a literal secret at {', '.join(leaked)}: a registered config is copied into the "
            "append-only audit log for ever, so name the secret by reference instead, e.g. "
            '"api_key_ref": "env:OPENAI_API_KEY" or "api_key_ref": "aws-secretsmanager:<secret id>"'
        )
    component, _ = Component.objects.get_or_create(kind=ComponentKind(kind))
    component = Component.objects.select_for_update().get(pk=component.pk)
    latest = component.versions.aggregate(m=Max("version"))["m"] or 0
    version = ComponentVersion.objects.create(
        component=component,
        version=latest + 1,
        framework=framework,
        hosting_target=hosting_target,
        artifact_uri=artifact_uri,
        artifact_sha256=artifact_sha256,
        training_date=training_date,
        dataset_hash=dataset_hash,
        metrics=metrics or {},
        config=config or {},
        registered_by=_actor_label(actor),
        notes=notes,
    )
    audit_record(
        actor=actor,
        action=AuditAction.VERSION_REGISTER,
        target_type="registry.componentversion",
        target_id=version.version_id,
        after={
            "framework": framework,
            "hosting_target": hosting_target,
            "artifact_uri": artifact_uri,
            "artifact_sha256": artifact_sha256,
            "dataset_hash": dataset_hash,
            "config": config or {},
        },
        evidence={"metrics": metrics or {}},
        reason=notes or f"Registered {version.version_id}",
    )
    return version


@transaction.atomic
def release_create(
    *, actor, versions: list[ComponentVersion], based_on: Release | None = None, notes: str = ""
) -> Release:
    """Cut a release: ``versions`` replace their components in ``based_on`` (or stand alone).

    Every component the release names must be registered; two versions of one component are refused.
    """
    chosen: dict[int, ComponentVersion] = {}
    if based_on is not None:
        for rc in based_on.components.select_related("version"):
            chosen[rc.component_id] = rc.version
    kinds = [v.component_id for v in versions]
    if len(kinds) != len(set(kinds)):
        raise RegistryError("A release names one version per component; two were given for the same component.")
    for v in versions:
        if v.pk is None:
            raise RegistryError("Only registered versions can go into a release.")
        chosen[v.component_id] = v
    if not chosen:
        raise RegistryError("A release needs at least one component version.")
    number = (Release.objects.select_for_update().aggregate(m=Max("number"))["m"] or 0) + 1
    release = Release.objects.create(number=number, based_on=based_on, notes=notes, created_by=_actor_label(actor))
    ReleaseComponent.objects.bulk_create(
        ReleaseComponent(release=release, component_id=cid, version=v) for cid, v in chosen.items()
    )
    audit_record(
        actor=actor,
        action=AuditAction.RELEASE_CREATE,
        target_type="registry.release",
        target_id=release.number,
        after={
            "components": sorted(v.version_id for v in chosen.values()),
            "based_on": based_on.number if based_on else None,
        },
        reason=notes or f"Release {number}",
    )
    return release


@transaction.atomic
def alias_move(
    *,
    alias: AliasName | str,
    release: Release,
    actor,
    reason: str = "",
    evidence=None,
    rollback: bool = False,
    deployment: Deployment | None = None,
    bootstrap: bool = False,
) -> AliasEvent:
    """Point ``alias`` at ``release``, record the move, audit it, and mark versions in production.

    ``production`` has one way forward (seed 000 US-1.2: no model reaches production without its
    gate): the promote stage of a deployment whose evaluation gate passed and whose promotion a
    second person approved (``deployment``). The exceptions are a rollback (``rollback=True``, to a
    release production served before) and the first release of an empty registry (``bootstrap``).
    Anything else is refused with ``RegistryError``.

    Locks the alias row (select_for_update) so two moves of one alias are serialised. The cached
    lookup is dropped after commit so every process sees the new release on its next turn.
    """
    name = AliasName(alias)
    now = timezone.now()
    current = Alias.objects.select_for_update().filter(name=name).first()
    previous = current.release if current else None
    if name == AliasName.PRODUCTION:
        _production_move_check(release, current=current, rollback=rollback, deployment=deployment, bootstrap=bootstrap)
    if current is None:
        Alias.objects.create(name=name, release=release, moved_at=now, moved_by=_actor_label(actor))
    else:
        Alias.objects.filter(pk=current.pk).update(release=release, moved_at=now, moved_by=_actor_label(actor))
    event = AliasEvent.objects.create(
        alias=name,
        from_release=previous,
        to_release=release,
        actor=_actor_label(actor),
        reason=reason,
        at=now,
        is_rollback=rollback,
    )
    if name == AliasName.PRODUCTION:
        # Versions that leave production are archived; the ones the new release names serve.
        ComponentVersion.objects.filter(status=ComponentVersion.Status.PRODUCTION).exclude(releases=release).update(
            status=ComponentVersion.Status.ARCHIVED
        )
        ComponentVersion.objects.filter(releases=release).update(status=ComponentVersion.Status.PRODUCTION)
    audit_record(
        actor=actor,
        action=AuditAction.ALIAS_MOVE,
        target_type="registry.alias",
        target_id=name.value,
        before={"release": previous.number if previous else None},
        after={"release": release.number},
        reason=reason,
        evidence=evidence,
    )
    transaction.on_commit(lambda: cache.delete(ALIAS_CACHE_KEY.format(name=name.value)))
    return event


def _production_move_check(
    release: Release, *, current: Alias | None, rollback: bool, deployment: Deployment | None, bootstrap: bool
) -> None:
    """Refuse a move of ``production`` that is not a gated, approved deployment, a rollback or the
    bootstrap of an empty registry; the message names what is missing."""
    if bootstrap:
        if current is not None:
            raise RegistryError("production already serves a release: the bootstrap is only for an empty registry")
        return
    if rollback:
        served = AliasEvent.objects.filter(alias=AliasName.PRODUCTION, to_release=release).exists()
        if not served:
            raise RegistryError(
                f"a rollback restores a release production served before; release {release.number} never did"
            )
        return
    if deployment is None:
        raise RegistryError(
            f"production moves forward only through the deployment pipeline (evaluation gate, approval by a "
            f"second person, target shift): start a deployment of release {release.number} instead"
        )
    if deployment.release_id != release.pk:
        raise RegistryError(f"deployment {deployment.pk} is not of release {release.number}")
    passed = set(
        DeploymentStage.objects.filter(deployment=deployment, status=DeploymentStage.Status.PASSED).values_list(
            "name", flat=True
        )
    )
    missing = [s for s in (StageName.EVALUATE, StageName.SMOKE, StageName.APPROVE) if s not in passed]
    if missing:
        raise RegistryError(
            f"deployment {deployment.pk} has not passed {', '.join(StageName(s).label.lower() for s in missing)}"
        )
    approved_by = Deployment.objects.filter(pk=deployment.pk).values_list("approved_by", "requested_by").first()
    if not approved_by or not approved_by[0] or approved_by[0] == approved_by[1]:
        raise RegistryError(f"deployment {deployment.pk} was not approved by a second person (four-eyes rule)")


@transaction.atomic
def release_gate_record(*, release: Release, run_id: int, passed: bool) -> None:
    """Record the verdict of ``release``'s latest finished evaluation gate. Called by the evaluation
    inside the transaction that finishes the run, whose audit entry carries the verdict."""
    Release.objects.filter(pk=release.pk).update(
        gate_status=GateStatus.PASSED if passed else GateStatus.FAILED, gate_run_id=run_id, gate_at=timezone.now()
    )


def release_eligibility(release: Release, production: Release | None) -> str:
    """Why ``release`` may not serve shoppers in an experiment or canary ('' when it may): it must be
    production itself or a release whose latest evaluation gate passed."""
    if production is not None and release.pk == production.pk:
        return ""
    if release.gate_status == GateStatus.PASSED:
        return ""
    if release.gate_status == GateStatus.FAILED:
        return f"release {release.number} failed its evaluation gate (run {release.gate_run_id})"
    return f"release {release.number} has not been evaluated: run its evaluation on /evaluation/ first"


@transaction.atomic
def release_cut_from_production(*, version: ComponentVersion, actor, notes: str) -> Release:
    """A candidate release: production's release with ``version`` swapped in. It serves nobody
    until the deployment pipeline promotes it."""
    current = Alias.objects.filter(name=AliasName.PRODUCTION).select_related("release").first()
    if current is None:
        raise RegistryError("nothing is in production yet: run seed_demo first")
    return release_create(actor=actor, versions=[version], based_on=current.release, notes=notes)


# ------------------------------------------------------------------------------ flags (S29)


# ----------------------------------------------------------------------------- canary (US-3.4)
def canary_cache_drop() -> None:
    transaction.on_commit(lambda: cache.delete(CANARY_CACHE_KEY))


@transaction.atomic
def canary_start(*, release: Release, actor, reason: str = "", gate_waiver: str = "") -> Canary:
    """Serve ``release`` to 1% of sessions beside production (sticky per session). One canary at a time.

    Only a release whose evaluation gate passed may serve shoppers. ``gate_waiver`` (the
    ``canary_drill`` command's injected-error release, never a page) starts it anyway and records
    the waiver in the audit entry."""
    production = Alias.objects.select_for_update().filter(name=AliasName.PRODUCTION).first()
    if production is None:
        raise RegistryError("nothing is in production yet")
    if production.release_id == release.pk:
        raise RegistryError(f"release {release.number} already serves production")
    refused = release_eligibility(release, production.release)
    if refused and not gate_waiver.strip():
        raise RegistryError(f"{refused}; a canary serves real shoppers, so only a release whose gate passed may run")
    if Canary.objects.select_for_update().filter(state=Canary.State.ACTIVE).exists():
        raise RegistryError("a canary is already running: promote or stop it first")
    now = timezone.now()
    canary = Canary.objects.create(
        release=release,
        baseline=production.release,
        percent=CANARY_STEPS[0],
        started_by=_actor_label(actor),
        started_at=now,
        steps=[{"percent": CANARY_STEPS[0], "by": _actor_label(actor), "at": now.isoformat()}],
    )
    alias_move(alias=AliasName.CANARY, release=release, actor=actor, reason=reason or "Canary started")
    audit_record(
        actor=actor,
        action=AuditAction.CANARY,
        target_type="registry.canary",
        target_id=canary.pk,
        after={"release": release.number, "baseline": production.release.number, "percent": canary.percent},
        evidence={"gate_waived": gate_waiver, "gate": refused} if refused else None,
        reason=reason or f"Canary of release {release.number} at {canary.percent}%",
    )
    canary_cache_drop()
    return canary


def _active_canary_locked(expected_percent: int | None) -> Canary:
    canary = Canary.objects.select_for_update().filter(state=Canary.State.ACTIVE).first()
    if canary is None:
        raise RegistryError("no canary is running (it may have been rolled back automatically: see its evidence)")
    if expected_percent is not None and canary.percent != expected_percent:
        raise RegistryError(f"the canary is at {canary.percent}% now, not {expected_percent}%: reload the page")
    return canary


@transaction.atomic
def canary_step(*, actor, expected_percent: int | None = None, reason: str = "") -> Canary:
    """A person's approval of the next step, 1% → 10% → 50% → 100%. At 100% the next approval is
    ``canary_promote``. A double click is refused by ``expected_percent``."""
    canary = _active_canary_locked(expected_percent)
    if canary.percent >= CANARY_STEPS[-1]:
        raise RegistryError("the canary serves 100%: promote it to production")
    nxt = next(p for p in CANARY_STEPS if p > canary.percent)
    steps = [*canary.steps, {"percent": nxt, "by": _actor_label(actor), "at": timezone.now().isoformat()}]
    Canary.objects.filter(pk=canary.pk).update(percent=nxt, steps=steps)
    audit_record(
        actor=actor,
        action=AuditAction.CANARY,
        target_type="registry.canary",
        target_id=canary.pk,
        before={"percent": canary.percent},
        after={"percent": nxt},
        evidence={"last_check": canary.decision},
        reason=reason or f"Approved the canary step {canary.percent}% → {nxt}%",
    )
    canary_cache_drop()
    canary.refresh_from_db()
    return canary


def canary_for_promotion(*, expected_percent: int | None = None) -> Canary:
    """The active canary, locked, if it serves 100% and may now go to production through the
    deployment pipeline; otherwise ``RegistryError`` says why."""
    canary = _active_canary_locked(expected_percent)
    if canary.percent < CANARY_STEPS[-1]:
        raise RegistryError(f"the canary serves {canary.percent}%: step it up to 100% before promoting it")
    return canary


@transaction.atomic
def canary_promoted(*, release: Release, deployment: Deployment, actor) -> Canary | None:
    """The pipeline moved production to ``release``: an active canary of that release ends as
    promoted (inside the promote stage's transaction). Returns it, or None when there was none."""
    canary = Canary.objects.select_for_update().filter(state=Canary.State.ACTIVE, release=release).first()
    if canary is None:
        return None
    Canary.objects.filter(pk=canary.pk).update(state=Canary.State.PROMOTED, finished_at=timezone.now())
    audit_record(
        actor=actor,
        action=AuditAction.CANARY,
        target_type="registry.canary",
        target_id=canary.pk,
        before={"state": "active", "percent": canary.percent},
        after={"state": "promoted", "production": release.number},
        evidence={"deployment": deployment.pk, "last_check": canary.decision},
        reason=f"Canary of release {release.number} promoted by deployment {deployment.pk}",
    )
    canary_cache_drop()
    canary.refresh_from_db()
    return canary


@transaction.atomic
def canary_stop(*, actor, reason: str) -> Canary:
    """A person ends the canary; every session goes back to production at once."""
    if not reason.strip():
        raise RegistryError("say why you stop the canary: the reason goes into the audit log")
    canary = _active_canary_locked(None)
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
    canary.refresh_from_db()
    return canary
