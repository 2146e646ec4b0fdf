from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mangaconsole.access import console_view
from registry.models import AliasName, Flag, Rollback
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


@console_view(permission="registry.view_flag")
@require_GET
def flags(request):
    from registry.models import FlagName
    from registry.selectors import flags_current

    current = flags_current()
    rows = {f.name: f for f in Flag.objects.all()}
    return render(
        request,
        "registry/flags.html",
        {"flags": [(name, label, current[name], rows.get(name)) for name, label in FlagName.choices]},
    )


@console_view(permission="registry.toggle_flag")
@require_POST
def flag_toggle(request, name):
    from registry.models import FlagName
    from registry.services import flag_set

    if name not in FlagName.values:
        messages.error(request, f"No flag {name!r}.")
        return redirect("registry:flags")
    enabled = request.POST.get("enabled") == "on"
    try:
        flag_set(name=name, enabled=enabled, actor=request.user, reason=request.POST.get("reason", ""))
    except RegistryError as exc:
        messages.error(request, f"Not changed: {exc}")
    else:
        messages.success(
            request, f"{FlagName(name).label}: {'on' if enabled else 'off'}. Every process follows within 1 s."
        )
    return redirect(request.POST.get("next") or "registry:flags")
