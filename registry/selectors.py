"""Reads of the registry: which release serves, what it contains, and what served when."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache

from registry.models import Alias, AliasEvent, AliasName, Canary, ComponentVersion, Flag, FlagName, Release
from registry.services import ALIAS_CACHE_KEY, CANARY_CACHE_KEY, FLAG_DEFAULTS, FLAGS_CACHE_KEY

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


def canary_bucket(session_id, canary_id: int) -> float:
    """Where a session falls in [0, 100) for a canary: the experiments' hash (experiments.assignment)
    of the canary's salt and the session, so a session stays in its arm for the canary's life
    (sticky), a session in the canary at 1% stays in at 10%, 50%, 100% (the share only grows), and a
    new canary draws a fresh sample."""
    from experiments.assignment import hash_bucket

    return hash_bucket(f"canary:{canary_id}", session_id) * 100


def release_for_session(session_id=None, attributes: dict | None = None) -> Release | None:
    """The release that serves this session: the canary's for the sessions in its share, else the
    arm of a running experiment the session is enrolled in (its exposure logged once), else production.
    The global kill switch takes precedence over every allocation: everyone gets production."""
    if session_id is not None and not flags_current().get(FlagName.KILL_SWITCH.value, False):
        canary = canary_current()
        if canary is not None:
            canary_id, release_id, percent = canary
            if canary_bucket(session_id, canary_id) < percent:
                return Release.objects.filter(pk=release_id).first()
        from experiments.services import experiment_release_for_session

        release_id = experiment_release_for_session(session_id, attributes or {})
        if release_id is not None:
            return Release.objects.filter(pk=release_id).first()
    return release_for_alias(AliasName.PRODUCTION)


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
