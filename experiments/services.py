"""Writes for experiments: create (validated), start, pause, stop, promote, archive; assignment at
serving time; storefront events. Every state change is audited in its own transaction."""

from __future__ import annotations

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from experiments import rollup
from experiments.analysis import analyse
from experiments.assignment import choose_arm, enrolled, matches_targeting
from experiments.models import Event, Experiment, Exposure, Metric, Variant
from experiments.regions import REGION_CODES
from mangaconsole.lib.actors import actor_label as _actor
from mangaconsole.lib.alerts import alert_send
from registry.models import AliasName
from registry.selectors import release_for_alias
from registry.services import release_eligibility

RUNNING_CACHE_KEY = "experiments:running"
RUNNING_CACHE_SECONDS = 1
USER_TYPES = ("prime", "signed_in", "guest")


class ExperimentError(ValueError):
    """The change cannot be made; ``problems`` lists every reason (the first is the message)."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


def _dropped() -> None:
    transaction.on_commit(lambda: cache.delete(RUNNING_CACHE_KEY))


# ----------------------------------------------------------------------------------- serving
def running_experiments() -> list[dict]:
    """The running experiments as plain data, cached ``RUNNING_CACHE_SECONDS`` like the aliases."""
    found = cache.get(RUNNING_CACHE_KEY)
    if found is None:
        found = [
            {
                "id": e.pk,
                "salt": e.salt,
                "enrolled_percent": e.enrolled_percent,
                "targeting": e.targeting,
                "arms": [(v.pk, v.release_id, v.weight) for v in e.variants.all()],
            }
            for e in Experiment.objects.filter(status=Experiment.Status.RUNNING).prefetch_related("variants")
        ]
        cache.set(RUNNING_CACHE_KEY, found, RUNNING_CACHE_SECONDS)
    return found


def experiment_release_for_session(session_id, attributes: dict) -> int | None:
    """The release id of the arm this session is in, logging its exposure the first time; None when
    no running experiment enrols it. A unit keeps the arm of its first exposure even if the split
    changes later."""
    for exp in running_experiments():
        if not matches_targeting(exp["targeting"], attributes) or not enrolled(
            exp["salt"], session_id, exp["enrolled_percent"]
        ):
            continue
        key = f"experiments:{exp['id']}:unit:{session_id}"
        arm = cache.get(key)
        if arm is None:
            exposure = Exposure.objects.filter(experiment_id=exp["id"], unit_id=session_id).first()
            if exposure is None:
                index = choose_arm(exp["salt"], session_id, [w for _, _, w in exp["arms"]])
                variant_id = exp["arms"][index][0]
                try:
                    with transaction.atomic():
                        exposure = Exposure.objects.create(
                            experiment_id=exp["id"],
                            variant_id=variant_id,
                            unit_id=session_id,
                            user_id=attributes.get("user_id"),
                            at=timezone.now(),
                        )
                except IntegrityError:  # another process logged it first: use theirs
                    exposure = Exposure.objects.get(experiment_id=exp["id"], unit_id=session_id)
            arm = exposure.variant_id
            cache.set(key, arm, 3600)
        for variant_id, release_id, _ in exp["arms"]:
            if variant_id == arm:
                return release_id
    return None


# ------------------------------------------------------------------------------------ setup
def validate(
    *,
    name: str,
    hypothesis: str,
    arms: list[dict],
    enrolled_percent: int,
    targeting: dict,
    primary_metric: str,
    guardrail_metrics: list[str],
    alpha: float,
    planned_days: int,
    exclude_pk: int | None = None,
) -> list[str]:
    problems = []
    if not name.strip():
        problems.append("Give the experiment a name.")
    elif Experiment.objects.filter(name=name.strip()).exclude(pk=exclude_pk).exists():
        problems.append(f"An experiment named {name.strip()!r} already exists.")
    if not hypothesis.strip():
        problems.append("State the hypothesis: what you expect to change, and why.")
    if len(arms) < 2:
        problems.append("An experiment needs at least two arms: the control and one variant.")
    releases = [a.get("release") for a in arms]
    if any(r is None for r in releases):
        problems.append("Every arm needs a release.")
    elif len({r.pk for r in releases}) != len(releases):
        problems.append("A release can be only one arm.")
    else:
        production = release_for_alias(AliasName.PRODUCTION)
        for release in releases:
            refused = release_eligibility(release, production)
            if refused:
                problems.append(f"Arm release refused: {refused}. Arms are production or releases whose gate passed.")
    keys = [a.get("key", "") for a in arms]
    if len(set(keys)) != len(keys) or any(not k for k in keys):
        problems.append("Each arm needs its own short key.")
    weights = [a.get("weight") for a in arms]  # None where the form could not read a number
    if any(not isinstance(w, int) or w <= 0 for w in weights):
        problems.append("Each arm's weight is a whole percent above 0.")
    elif sum(weights) != 100:
        problems.append(f"The weights must add up to 100 (they add up to {sum(weights)}).")
    if not 1 <= int(enrolled_percent) <= 100:
        problems.append("The enrolled share is between 1% and 100% of eligible sessions.")
    bad_types = set(targeting.get("user_types") or []) - set(USER_TYPES)
    if bad_types:
        problems.append(f"Unknown user types {sorted(bad_types)}; use {', '.join(USER_TYPES)}.")
    bad_regions = [r for r in targeting.get("regions") or [] if r not in REGION_CODES]
    if bad_regions:
        problems.append(f"Unknown region codes {bad_regions}: use ISO 3166 two-letter country codes, e.g. JP, US, GB.")
    if primary_metric not in Metric.values:
        problems.append(f"Unknown primary metric {primary_metric!r}.")
    unknown = [m for m in guardrail_metrics if m not in Metric.values]
    if unknown:
        problems.append(f"Unknown guardrail metrics {unknown}.")
    if primary_metric in guardrail_metrics:
        problems.append("The primary metric cannot also be a guardrail metric.")
    if not 0.001 <= float(alpha) <= 0.2:
        problems.append("The significance level is between 0.001 and 0.2.")
    if not 1 <= int(planned_days) <= 90:
        problems.append("The planned duration is between 1 and 90 days.")
    return problems


@transaction.atomic
def experiment_create(
    *,
    actor,
    name: str,
    hypothesis: str,
    arms: list[dict],
    enrolled_percent: int = 100,
    targeting: dict | None = None,
    primary_metric: str = Metric.THUMBS_UP,
    guardrail_metrics: list[str] | None = None,
    alpha: float = 0.05,
    planned_days: int = 14,
) -> Experiment:
    """``arms``: [{"key", "name", "release", "weight"}], the first is the control."""
    targeting = targeting or {}
    guardrail_metrics = list(guardrail_metrics or [])
    problems = validate(
        name=name,
        hypothesis=hypothesis,
        arms=arms,
        enrolled_percent=enrolled_percent,
        targeting=targeting,
        primary_metric=primary_metric,
        guardrail_metrics=guardrail_metrics,
        alpha=alpha,
        planned_days=planned_days,
    )
    if problems:
        raise ExperimentError(problems)
    experiment = Experiment.objects.create(
        name=name.strip(),
        hypothesis=hypothesis.strip(),
        enrolled_percent=int(enrolled_percent),
        targeting=targeting,
        primary_metric=primary_metric,
        guardrail_metrics=guardrail_metrics,
        alpha=float(alpha),
        planned_days=int(planned_days),
        created_by=_actor(actor),
    )
    Variant.objects.bulk_create(
        Variant(
            experiment=experiment,
            key=a["key"],
            name=a.get("name") or a["key"],
            release=a["release"],
            weight=a["weight"],
            is_control=i == 0,
            order=i,
        )
        for i, a in enumerate(arms)
    )
    audit_record(
        actor=actor,
        action=AuditAction.EXPERIMENT,
        target_type="experiments.experiment",
        target_id=experiment.pk,
        after=config_snapshot(experiment),
        reason=f"Experiment {experiment.name!r} created",
    )
    return experiment


def config_snapshot(experiment: Experiment) -> dict:
    return {
        "name": experiment.name,
        "hypothesis": experiment.hypothesis,
        "salt": experiment.salt,
        "enrolled_percent": experiment.enrolled_percent,
        "targeting": experiment.targeting,
        "primary_metric": experiment.primary_metric,
        "guardrail_metrics": experiment.guardrail_metrics,
        "alpha": experiment.alpha,
        "planned_days": experiment.planned_days,
        "arms": [
            {"key": v.key, "name": v.name, "release": v.release.number, "weight": v.weight, "control": v.is_control}
            for v in experiment.variants.select_related("release")
        ],
    }


def _transition(experiment: Experiment, *, frm: list[str], to: str, actor, reason: str, **fields) -> Experiment:
    locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if locked.status not in frm:
        raise ExperimentError(f"the experiment is {locked.get_status_display().lower()}; it cannot go to {to}")
    Experiment.objects.filter(pk=locked.pk).update(status=to, **fields)
    audit_record(
        actor=actor,
        action=AuditAction.EXPERIMENT,
        target_type="experiments.experiment",
        target_id=locked.pk,
        before={"status": locked.status},
        after={"status": to, **{k: v for k, v in fields.items() if k in ("stop_reason",)}},
        evidence=fields.get("decision") or None,
        reason=reason,
    )
    _dropped()
    locked.refresh_from_db()
    return locked


@transaction.atomic
def experiment_start(*, experiment: Experiment, actor) -> Experiment:
    control = experiment.variants.get(is_control=True)
    production = release_for_alias(AliasName.PRODUCTION)
    if production is None or control.release_id != production.pk:
        raise ExperimentError(
            f"the control arm must be production's release ({production.number if production else 'none'}) "
            "when the experiment starts"
        )
    refused = [release_eligibility(v.release, production) for v in experiment.variants.select_related("release")]
    if any(refused):
        raise ExperimentError([f"{r}: it cannot serve shoppers in an experiment" for r in refused if r])
    return _transition(
        experiment,
        frm=[Experiment.Status.DRAFT, Experiment.Status.PAUSED],
        to=Experiment.Status.RUNNING,
        actor=actor,
        reason=f"Started {experiment.name!r}",
        started_at=experiment.started_at or timezone.now(),
    )


@transaction.atomic
def experiment_pause(*, experiment: Experiment, actor) -> Experiment:
    return _transition(
        experiment, frm=[Experiment.Status.RUNNING], to=Experiment.Status.PAUSED, actor=actor, reason="Paused"
    )


@transaction.atomic
def experiments_pause_for_production(*, production, actor, reason: str) -> list[dict]:
    """Pause every running experiment that serves a release other than ``production`` (a rollback
    moved production back: an experiment's control and arms would keep serving what was rolled back).
    Runs inside the caller's transaction (the rollback's), audited per experiment. Returns
    [{"kind": "experiment", "id", "name"}] of the paused ones."""
    paused = []
    running = Experiment.objects.select_for_update().filter(status=Experiment.Status.RUNNING)
    for experiment in running:
        serves = set(experiment.variants.values_list("release_id", flat=True))
        if not serves - {production.pk}:
            continue
        Experiment.objects.filter(pk=experiment.pk).update(status=Experiment.Status.PAUSED, stop_reason=reason)
        audit_record(
            actor=actor,
            action=AuditAction.EXPERIMENT,
            target_type="experiments.experiment",
            target_id=experiment.pk,
            before={"status": "running"},
            after={"status": "paused", "stop_reason": reason},
            reason=reason,
        )
        paused.append({"kind": "experiment", "id": experiment.pk, "name": experiment.name})
    if paused:
        _dropped()
    return paused


@transaction.atomic
def experiment_stop(*, experiment: Experiment, actor, reason: str, decision: dict | None = None) -> Experiment:
    if not reason.strip():
        raise ExperimentError("say why the experiment stops: the reason goes into the audit log")
    fields = {"stopped_at": timezone.now(), "stop_reason": reason}
    if decision is not None:
        fields["decision"] = decision
    return _transition(
        experiment,
        frm=[Experiment.Status.RUNNING, Experiment.Status.PAUSED],
        to=Experiment.Status.STOPPED,
        actor=actor,
        reason=reason,
        **fields,
    )


@transaction.atomic
def experiment_winner_archive(
    *, experiment: Experiment, variant: Variant, actor, deployment_id: int | None
) -> Experiment:
    """Stop the experiment if it runs and archive it with its winner, configuration and result.
    ``deployment_id`` is the deployment that takes the winner's release to production (None when
    the winner is the control, which serves already). Called by the rollout's one path to
    production (``registry.rollout.deployments.experiment_winner_promote``), never on its own."""
    if variant.experiment_id != experiment.pk:
        raise ExperimentError("that arm belongs to another experiment")
    locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if locked.status == Experiment.Status.ARCHIVED:
        raise ExperimentError("the experiment is archived: its winner was already decided")
    if locked.status in (Experiment.Status.RUNNING, Experiment.Status.PAUSED):
        locked = experiment_stop(experiment=locked, actor=actor, reason=f"Promoted arm {variant.key}")
    snapshot = {
        "config": config_snapshot(locked),
        "result": locked.decision,
        "winner": {"key": variant.key, "release": variant.release.number},
        "deployment": deployment_id,
        "archived_at": timezone.now().isoformat(),
    }
    Experiment.objects.filter(pk=locked.pk).update(status=Experiment.Status.ARCHIVED, winner=variant, archive=snapshot)
    if deployment_id is None:
        reason = f"Arm {variant.key} (release {variant.release.number}) kept: it is production already"
    else:
        reason = (
            f"Arm {variant.key} (release {variant.release.number}) sent to production by deployment {deployment_id}"
        )
    audit_record(
        actor=actor,
        action=AuditAction.EXPERIMENT,
        target_type="experiments.experiment",
        target_id=locked.pk,
        before={"status": locked.status},
        after={"status": "archived", "winner": variant.key, "deployment": deployment_id},
        evidence=snapshot,
        reason=reason,
    )
    _dropped()
    locked.refresh_from_db()
    return locked


# ------------------------------------------------------------------------------------ events
def event_record(*, event_id: str, session_id, kind: str, value: float = 1.0, at=None) -> tuple[Event, bool]:
    """Store an event once: a repeat of the same ``event_id`` returns the stored one (created False)."""
    if kind not in Event.Kind.values:
        raise ExperimentError(f"unknown event kind {kind!r}; use {', '.join(Event.Kind.values)}")
    if kind == Event.Kind.CSAT and not 1 <= float(value) <= 5:
        raise ExperimentError("a CSAT score is between 1 and 5")

    delta = {
        Event.Kind.CONVERSION: {"conversions": 1},
        Event.Kind.RESOLUTION: {"resolutions": 1},
        Event.Kind.ESCALATION: {"escalations": 1},
        Event.Kind.CSAT: {"csat_sum": float(value), "csat_n": 1},
    }[kind]
    try:
        with transaction.atomic():
            event = Event.objects.create(
                event_id=event_id, session_id=session_id, kind=kind, value=float(value), at=at or timezone.now()
            )
            rollup.add({session_id: delta})
            return event, True
    except IntegrityError:
        return Event.objects.get(event_id=event_id), False


# ------------------------------------------------------------------------------- decisions
def experiment_check(experiment: Experiment) -> dict:
    """Analyse a running experiment, store the result, and stop it when the primary metric is
    significant or a guardrail metric shows significant harm (that one is alerted too)."""
    result = analyse(experiment)
    Experiment.objects.filter(pk=experiment.pk, status=Experiment.Status.RUNNING).update(decision=result)
    if result["verdict"] == "harm":
        harms = "; ".join(
            f"{h['metric']} in arm {h['arm']}: {h['effect']:+.1%} (p={h['p_value']:.3g})" for h in result["harms"]
        )
        reason = f"Stopped automatically: guardrail harm — {harms}"
        try:
            experiment_stop(experiment=experiment, actor="system:experiments", reason=reason, decision=result)
        except ExperimentError:  # a person stopped it meanwhile
            return result
        result["alerts"] = alert_send(
            subject=f"[MangaAssist] experiment {experiment.name!r} stopped: guardrail harm",
            body=reason,
            payload={"event": "experiment_harm", "experiment": experiment.pk, "harms": result["harms"]},
        )
    elif result["verdict"] == "significant":
        reason = f"Primary metric significant: arm {', '.join(result['winners'])} wins; promote it to finish"
        try:
            experiment_stop(experiment=experiment, actor="system:experiments", reason=reason, decision=result)
        except ExperimentError:
            return result
    return result


def experiments_check_running() -> list[int]:
    ids = list(Experiment.objects.filter(status=Experiment.Status.RUNNING).values_list("pk", flat=True))
    for pk in ids:
        experiment_check(Experiment.objects.get(pk=pk))
    return ids
