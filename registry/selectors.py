"""Reads of the registry: which release serves, what it contains, and what served when."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache

from registry.models import Alias, AliasEvent, AliasName, Canary, ComponentVersion, Flag, FlagName, Release

# Cache keys of what the turn reads on every message; the writes in registry.services drop them.
ALIAS_CACHE_KEY = "registry:alias:{name}"
CANARY_CACHE_KEY = "registry:canary"
FLAGS_CACHE_KEY = "registry:flags"
FLAG_DEFAULTS = {FlagName.KILL_SWITCH: False, FlagName.RETRIEVAL: True, FlagName.LLM_GENERATION: True}
GUARDRAIL_FLAG_PREFIX = "guardrail:"

# Per-process caches (local memory by default) may hold a moved alias this long at most, so a
# move or rollback reaches every process within seconds; the moving process drops it at once.
ALIAS_CACHE_SECONDS = 1


def release_for_alias(name: AliasName | str = AliasName.PRODUCTION) -> Release | None:
    """The release ``name`` points at now, or None if the alias was never set."""
    key = ALIAS_CACHE_KEY.format(name=AliasName(name).value)
    release_id = cache.get(key)
    if release_id is None:
        release_id = Alias.objects.filter(name=name).values_list("release_id", flat=True).first() or 0
        cache.set(key, release_id, ALIAS_CACHE_SECONDS)
    return Release.objects.filter(pk=release_id).first() if release_id else None


def canary_current() -> tuple[int, int, int] | None:
    """(canary id, release id, percent) of the active canary, or None; cached like the aliases."""
    found = cache.get(CANARY_CACHE_KEY)
    if found is None:
        row = Canary.objects.filter(state=Canary.State.ACTIVE).values_list("pk", "release_id", "percent").first()
        found = list(row) if row else []
        cache.set(CANARY_CACHE_KEY, found, ALIAS_CACHE_SECONDS)
    return tuple(found) if found else None


def release_versions(release: Release) -> dict[str, ComponentVersion]:
    """{component kind: version} for a release."""
    return {
        rc.component.kind: rc.version
        for rc in release.components.select_related("component", "version", "version__component")
    }


def release_served_at(name: AliasName | str, when: datetime) -> Release | None:
    """The release ``name`` pointed at, at time ``when``: one query on the alias history."""
    event = AliasEvent.objects.filter(alias=name, at__lte=when).order_by("-at", "-id").select_related("to_release")
    first = event.first()
    return first.to_release if first else None


def alias_previous_release(name: AliasName | str = AliasName.PRODUCTION) -> Release | None:
    """The release ``name`` pointed at before its current one (what a rollback returns to)."""
    latest = AliasEvent.objects.filter(alias=name).order_by("-at", "-id").first()
    return latest.from_release if latest else None


def current_embedder_version() -> str:
    """The embedder the production release names, or the newest registered one."""
    release = release_for_alias(AliasName.PRODUCTION)
    if release is not None:
        version = release_versions(release).get("embedder")
        if version is not None:
            return version.version_id
    latest = ComponentVersion.objects.filter(component__kind="embedder").order_by("-version").first()
    if latest is None:
        raise LookupError("no embedder is registered: run `manage.py seed_demo` first")
    return latest.version_id


def flags_current() -> dict[str, bool]:
    """{flag name: enabled} with the defaults for flags never set (``guardrail:<check>`` flags are
    listed only once set); cached for ALIAS_CACHE_SECONDS."""
    flags = cache.get(FLAGS_CACHE_KEY)
    if flags is None:
        flags = {name.value: default for name, default in FLAG_DEFAULTS.items()}
        flags.update(dict(Flag.objects.values_list("name", "enabled")))
        cache.set(FLAGS_CACHE_KEY, flags, ALIAS_CACHE_SECONDS)
    return flags
