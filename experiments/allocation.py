"""Allocation: which release serves a session. The canary's share first, then the arm of a running
experiment the session is enrolled in (its exposure written once by experiments.services), else
production; the global kill switch outranks every allocation. The chat turn asks this module."""

from __future__ import annotations

from experiments.assignment import hash_bucket
from experiments.services import experiment_release_for_session
from registry.models import AliasName, FlagName, Release
from registry.selectors import canary_current, flags_current, release_for_alias


def canary_bucket(session_id, canary_id: int) -> float:
    """Where a session falls in [0, 100) for a canary: the experiments' hash (experiments.assignment)
    of the canary's salt and the session, so a session stays in its arm for the canary's life
    (sticky), a session in the canary at 1% stays in at 10%, 50%, 100% (the share only grows), and a
    new canary draws a fresh sample."""
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
        release_id = experiment_release_for_session(session_id, attributes or {})
        if release_id is not None:
            return Release.objects.filter(pk=release_id).first()
    return release_for_alias(AliasName.PRODUCTION)
