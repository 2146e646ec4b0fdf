"""What serves a turn: a release turned into runnable parts (intent artifact, embedder, reranker and
generator configs, guardrail policy, prompt bundle), for the session's allocation or a given release."""

from __future__ import annotations

from dataclasses import dataclass

from experiments.allocation import release_for_session
from guardrails.policy import Policy, default_policy, policy_from_version
from prompts_app.bundle import PromptBundle, bundle_from_version, default_bundle
from registry.selectors import release_versions


class NotServing(Exception):
    """No production release, or it names no intent classifier."""


@dataclass
class ServingContext:
    release: int
    versions: dict[str, str]
    intent_artifact: tuple[str, str]
    embedder_version: str
    reranker_config: dict
    generator_config: dict
    policy: Policy
    prompts: PromptBundle


_serving_cache: dict[int, ServingContext] = {}


def serving_context(release=None, *, session_id=None, attributes: dict | None = None) -> ServingContext:
    """What serves a turn: the production release's components (or the canary's, for a session in
    the canary's share), or ``release``'s (an offline evaluation runs a candidate release through
    exactly this path). Cached per release: releases are immutable."""
    if release is None:
        release = release_for_session(session_id, attributes)
    if release is None:
        raise NotServing("no release is in production yet: run `manage.py seed_demo`")
    cached = _serving_cache.get(release.pk)
    if cached is not None:
        return cached
    versions = release_versions(release)
    intent_v = versions.get("intent_classifier")
    if intent_v is None or not intent_v.artifact_uri:
        raise NotServing(f"release {release.number} has no trained intent classifier")
    ctx = ServingContext(
        release=release.number,
        versions={kind: v.version_id for kind, v in versions.items()},
        intent_artifact=(intent_v.artifact_uri, intent_v.artifact_sha256),
        embedder_version=versions["embedder"].version_id,
        reranker_config=versions["reranker"].config if "reranker" in versions else {},
        generator_config=versions["generator"].config if "generator" in versions else {"provider": "local"},
        # A release cut before guardrail policies existed still runs the built-in default policy.
        policy=policy_from_version(versions["guardrail_policy"])
        if "guardrail_policy" in versions
        else default_policy(),
        # A release cut before prompt bundles existed serves prompts/ version 1.0.0.
        prompts=bundle_from_version(versions["prompt_bundle"]) if "prompt_bundle" in versions else default_bundle(),
    )
    _serving_cache[release.pk] = ctx
    return ctx
