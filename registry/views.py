from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mangaconsole.access import console_view
from registry.models import AliasName, Rollback
from registry.selectors import release_for_alias, release_versions
from registry.services import RegistryError, release_rollback, rollback_target


def rollback_context() -> dict:
    production = release_for_alias(AliasName.PRODUCTION)
    return {
        "production": production,
        "rollback_to": rollback_target(production) if production else None,
    }


@console_view(permission="registry.view_release")
@require_GET
def production(request):
    ctx = rollback_context()
    release = ctx["production"]
    return render(
        request,
        "registry/production.html",
        {
            **ctx,
            "versions": sorted(release_versions(release).values(), key=lambda v: v.component.kind) if release else [],
            "staging": release_for_alias(AliasName.STAGING),
            "rollbacks": Rollback.objects.select_related("from_release", "to_release", "eval_run")[:20],
        },
    )


@console_view(permission="registry.rollback_release")
@require_POST
def rollback(request):
    expected = request.POST.get("expected_release")
    try:
        done = release_rollback(
            actor=request.user,
            reason=request.POST.get("reason", ""),
            expected_release=int(expected) if expected and expected.isdigit() else None,
        )
    except RegistryError as exc:
        messages.error(request, f"No rollback: {exc}")
    else:
        messages.success(
            request,
            f"Production now serves release {done.to_release.number} (was {done.from_release.number}); "
            "new turns use it within seconds. Its golden evaluation and the alert follow.",
        )
    return redirect(request.POST.get("next") or "registry:production")
