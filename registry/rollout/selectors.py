"""Reads of the rollout layer that several pages show."""

from __future__ import annotations

from mangaconsole.lib.getters import get_for_user
from registry.models import AliasName, Deployment
from registry.rollout.rollback import rollback_target
from registry.selectors import release_for_alias


def rollback_context() -> dict:
    production = release_for_alias(AliasName.PRODUCTION)
    return {
        "production": production,
        "rollback_to": rollback_target(production) if production else None,
    }


def get_deployment_for_user(request, pk) -> Deployment:
    return get_for_user(
        request,
        Deployment.objects.select_related("release", "eval_run"),
        permission="registry.view_deployment",
        pk=pk,
    )
