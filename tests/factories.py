"""Factories for the data many tests build: users with roles, a candidate release cut from
production, a passed gate, production moved by the real promote stage, a two-arm experiment, and for
the human evaluation a week of traces, a sampled batch and annotators scoring it.

Each builds through the project's own services (so audit rows, aliases and caches are what the
product makes), never by writing rows the services would refuse; the services' own tests exercise
them with edge cases. factory_boy's habit of keyword overrides with sensible defaults, without the
dependency: these are plain functions.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.utils import timezone

from chat.models import Trace
from evaluation.annotation import rubric
from evaluation.annotation import services as svc
from evaluation.models import AnnotationBatch, AnnotationItem
from experiments.services import experiment_create, experiment_start
from registry.models import STAGE_ORDER, ComponentKind, Deployment, DeploymentStage, StageName
from registry.rollout.deployments import stage_run
from registry.selectors import ALIAS_CACHE_KEY, release_for_alias
from registry.services import component_version_register, release_create, release_gate_record

PASSWORD = "correct-horse-battery"


def make_user(username: str, *roles: str, **extra):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True, **extra)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


def gate_passed(release):
    """Test setup: the release's evaluation gate passed, as a finished run records it (the
    evaluation's own tests run real gates: tests/evaluation, tests/registry/test_pipeline.py)."""
    release_gate_record(release=release, run_id=None, passed=True)
    release.refresh_from_db()
    return release


def production_set(release, *, requested_by: str = "mleng", approved_by: str = "oncall"):
    """Test setup: production → ``release`` by the pipeline's real promote stage (target shift,
    gated alias move), on a deployment whose earlier stages are recorded as passed. The stages
    themselves run for real in tests/registry/test_pipeline.py."""
    deployment = Deployment.objects.create(
        release=release,
        requested_by=requested_by,
        approved_by=approved_by,
        requested_at=timezone.now(),
        origin={"kind": "test"},
    )
    DeploymentStage.objects.bulk_create(
        DeploymentStage(
            deployment=deployment,
            name=name,
            order=i,
            status=DeploymentStage.Status.PENDING if name == StageName.PROMOTE else DeploymentStage.Status.PASSED,
        )
        for i, name in enumerate(STAGE_ORDER)
    )
    status = stage_run(deployment.pk, StageName.PROMOTE)
    assert status == DeploymentStage.Status.PASSED, DeploymentStage.objects.get(
        deployment=deployment, name="promote"
    ).log
    cache.delete(ALIAS_CACHE_KEY.format(name="production"))
    return deployment


def candidate_release(
    *,
    actor: str = "mleng",
    kind: str = ComponentKind.GENERATOR,
    framework: str = "local",
    config: dict | None = None,
    based_on=None,
    notes: str = "",
    gated: bool = True,
    **version,
):
    """A release that differs from production (or ``based_on``) by one new component version;
    its evaluation gate recorded as passed unless ``gated=False``."""
    cv = component_version_register(kind=kind, actor=actor, framework=framework, config=config or {}, **version)
    release = release_create(
        actor=actor, versions=[cv], based_on=based_on if based_on is not None else release_for_alias(), notes=notes
    )
    return gate_passed(release) if gated else release


def two_arm_experiment(
    candidate,
    *,
    actor: str = "pm",
    name: str = "shorter answers",
    hypothesis: str = "h",
    control=None,
    weights: tuple[int, int] = (50, 50),
    arm_key: str = "arm1",
    arm_name: str = "Arm",
    start: bool = False,
    **kw,
):
    """Production (or ``control``) against ``candidate``; started when ``start=True``."""
    arms = [
        {"key": "control", "name": "Production", "release": control or release_for_alias(), "weight": weights[0]},
        {"key": arm_key, "name": arm_name, "release": candidate, "weight": weights[1]},
    ]
    experiment = experiment_create(actor=actor, name=name, hypothesis=hypothesis, arms=arms, **kw)
    return experiment_start(experiment=experiment, actor=actor) if start else experiment


# ------------------------------------------------------------------ human evaluation (annotation)
WEEK = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday


INTENTS = {
    "recommendation": 120,
    "faq": 80,
    "order_tracking": 50,
    "product_question": 40,
    "chitchat": 9,
    "escalation": 1,
}


def traces_make(counts: dict[str, int] = INTENTS, *, start: datetime = WEEK, **extra) -> list[Trace]:
    rows = []
    i = 0
    for intent, n in counts.items():
        for _ in range(n):
            rows.append(
                Trace(
                    trace_id=uuid.uuid4(),
                    session_id=uuid.uuid4(),
                    intent=intent,
                    release=1,
                    user_text=f"question {i} about {intent}",
                    answer=f"answer {i}",
                    started_at=start + timedelta(minutes=7 * i),
                    guardrail_verdict="pass",
                    **extra,
                )
            )
            i += 1
    return Trace.objects.bulk_create(rows)


def batch_make(size=200, overlap=0.2, **kw) -> AnnotationBatch:
    return svc.batch_create(
        actor="system:test", start=WEEK, end=WEEK + timedelta(days=7), size=size, overlap_share=overlap, **kw
    )


SCORES = {"factual": "4", "helpful": "4", "tone": "5", "format": "4", "purchase": "yes", "comment": ""}


# ------------------------------------------------------------------------------------ agreement
def score_pairs(batch, a, b, rng, *, noise=0.15):
    """a and b both score every overlap item; b agrees with a except for some noise."""
    first, second = [], []
    while True:
        task = svc.task_next(a)
        if task is None:
            break
        sa = {d: str(rng.randint(1, 5)) for d in rubric.SCALES} | {"purchase": rng.choice(["yes", "no"])}
        svc.task_submit(a, task.pk, sa)
        item = AnnotationItem.objects.get(pk=task.item_id)
        if item.needed == 2:
            t2 = svc.task_next(b)
            assert t2.item_id == item.pk  # the overlap slot is next in line for b
            sb = {
                d: (v if rng.random() > noise else str(min(5, int(v) + rng.choice([1, 2]))))
                for d, v in sa.items()
                if d in rubric.SCALES
            }
            sb["purchase"] = sa["purchase"] if rng.random() > noise else ("no" if sa["purchase"] == "yes" else "yes")
            svc.task_submit(b, t2.pk, sb)
            first.append(sa)
            second.append(sb)
    return first, second


# ------------------------------------------------------------------------------------- flywheel
def annotate_all(batch, annotator, scores_by_position):
    while True:
        task = svc.task_next(annotator)
        if task is None:
            break
        pos = AnnotationItem.objects.get(pk=task.item_id).position
        svc.task_submit(annotator, task.pk, scores_by_position.get(pos, SCORES))
