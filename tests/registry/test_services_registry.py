"""Versions, releases, aliases and their history (registry.services / selectors)."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from audit.models import AuditAction, AuditEntry
from registry.models import AliasEvent, AliasName, ComponentKind, ComponentVersion
from registry.selectors import alias_previous_release, release_for_alias, release_served_at, release_versions
from registry.services import RegistryError, alias_move, component_version_register, release_create
from tests.factories import production_set


def _v(kind, **kw):
    return component_version_register(kind=kind, actor="system:test", framework="f", **kw)


def test_versions_are_numbered_per_component_and_audited(db):
    a, b = _v(ComponentKind.GENERATOR), _v(ComponentKind.GENERATOR, metrics={"accuracy": 0.93})
    e = _v(ComponentKind.EMBEDDER)
    assert (a.version, b.version, e.version) == (1, 2, 1)
    assert b.version_id == "generator:v2"
    entry = AuditEntry.objects.filter(action=AuditAction.VERSION_REGISTER, target_id="generator:v2").get()
    assert entry.evidence == {"metrics": {"accuracy": 0.93}}


def test_a_release_based_on_another_replaces_only_the_given_component(db):
    gen1, emb1, gen2 = _v(ComponentKind.GENERATOR), _v(ComponentKind.EMBEDDER), _v(ComponentKind.GENERATOR)
    first = release_create(actor="system:test", versions=[gen1, emb1])
    second = release_create(actor="system:test", versions=[gen2], based_on=first)
    assert {k: v.version_id for k, v in release_versions(second).items()} == {
        "generator": "generator:v2",
        "embedder": "embedder:v1",
    }
    assert (first.number, second.number) == (1, 2)


def test_a_release_refuses_two_versions_of_one_component(db):
    with pytest.raises(RegistryError, match="one version per component"):
        release_create(actor="system:test", versions=[_v(ComponentKind.GENERATOR), _v(ComponentKind.GENERATOR)])


def test_alias_moves_keep_a_history_that_answers_what_served_when(db):
    gen1, gen2 = _v(ComponentKind.GENERATOR), _v(ComponentKind.GENERATOR)
    r1 = release_create(actor="system:test", versions=[gen1])
    r2 = release_create(actor="system:test", versions=[gen2], based_on=r1)
    alias_move(alias=AliasName.PRODUCTION, release=r1, actor="system:test", reason="first", bootstrap=True)
    between = timezone.now()
    deployment = production_set(r2)
    assert release_for_alias(AliasName.PRODUCTION) == r2
    assert alias_previous_release(AliasName.PRODUCTION) == r1
    assert release_served_at(AliasName.PRODUCTION, between) == r1
    assert release_served_at(AliasName.PRODUCTION, between - timedelta(days=1)) is None
    events = list(AliasEvent.objects.filter(alias="production").order_by("at", "id"))
    upgrade = f"Deployment {deployment.pk}: promoted after approval by oncall"
    assert [(e.from_release, e.to_release, e.reason) for e in events] == [(None, r1, "first"), (r1, r2, upgrade)]
    assert ComponentVersion.objects.get(pk=gen2.pk).status == "production"
    assert ComponentVersion.objects.get(pk=gen1.pk).status == "archived"
    moves = AuditEntry.objects.filter(action=AuditAction.ALIAS_MOVE).order_by("sequence")
    assert [(m.before, m.after) for m in moves] == [
        ({"release": None}, {"release": 1}),
        ({"release": 1}, {"release": 2}),
    ]


def _deployment(release, *, passed, requested_by="pm", approved_by="oncall"):
    from registry.models import STAGE_ORDER, Deployment, DeploymentStage

    deployment = Deployment.objects.create(
        release=release, requested_by=requested_by, approved_by=approved_by, requested_at=timezone.now()
    )
    for i, name in enumerate(STAGE_ORDER):
        status = "passed" if name in passed else "pending"
        DeploymentStage.objects.create(deployment=deployment, name=name, order=i, status=status)
    return deployment


def test_production_moves_forward_only_through_a_gated_approved_deployment(db):
    r1 = release_create(actor="system:test", versions=[_v(ComponentKind.GENERATOR)])
    r2 = release_create(actor="system:test", versions=[_v(ComponentKind.GENERATOR)], based_on=r1)
    alias_move(alias=AliasName.PRODUCTION, release=r1, actor="system:test", bootstrap=True)
    with pytest.raises(RegistryError, match="only for an empty registry"):
        alias_move(alias=AliasName.PRODUCTION, release=r2, actor="system:test", bootstrap=True)
    with pytest.raises(RegistryError, match="only through the deployment pipeline"):
        alias_move(alias=AliasName.PRODUCTION, release=r2, actor="pm", reason="winner")
    every = ["build", "evaluate", "staging", "smoke", "approve"]
    with pytest.raises(RegistryError, match="has not passed offline evaluation gate"):
        alias_move(alias=AliasName.PRODUCTION, release=r2, actor="pm", deployment=_deployment(r2, passed=["build"]))
    with pytest.raises(RegistryError, match="has not passed approval"):
        gated = _deployment(r2, passed=["build", "evaluate", "staging", "smoke"])
        alias_move(alias=AliasName.PRODUCTION, release=r2, actor="pm", deployment=gated)
    with pytest.raises(RegistryError, match="four-eyes"):
        own = _deployment(r2, passed=every, requested_by="pm", approved_by="pm")
        alias_move(alias=AliasName.PRODUCTION, release=r2, actor="pm", deployment=own)
    with pytest.raises(RegistryError, match="not of release 1"):
        alias_move(alias=AliasName.PRODUCTION, release=r1, actor="pm", deployment=_deployment(r2, passed=every))
    with pytest.raises(RegistryError, match="never did"):
        alias_move(alias=AliasName.PRODUCTION, release=r2, actor="oncall", rollback=True)
    assert release_for_alias(AliasName.PRODUCTION) == r1
    alias_move(alias=AliasName.PRODUCTION, release=r2, actor="oncall", deployment=_deployment(r2, passed=every))
    cache.clear()  # the move drops the cached alias on commit, which a test transaction never reaches
    assert release_for_alias(AliasName.PRODUCTION) == r2
    # staging and canary are not production: they move freely
    alias_move(alias=AliasName.STAGING, release=r1, actor="pm")
