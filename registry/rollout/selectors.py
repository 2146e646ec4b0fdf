"""Reads of the rollout layer that several pages show."""

from __future__ import annotations

from registry.models import AliasName
from registry.rollout.rollback import rollback_target
from registry.selectors import release_for_alias


def rollback_context() -> dict:
    production = release_for_alias(AliasName.PRODUCTION)
    return {
        "production": production,
        "rollback_to": rollback_target(production) if production else None,
    }
