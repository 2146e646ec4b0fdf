from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mangaconsole.access import console_view
from mangaconsole.lib.redirects import redirect_back
from registry.models import (
    CANARY_STEPS,
    AliasName,
    Canary,
    Deployment,
    Flag,
    GateStatus,
    MonitorEvent,
    Release,
    Rollback,
)
from registry.rollout.charts import canary_arms
from registry.rollout.deployments import (
    canary_promote_request,
    deployment_approve,
    deployment_cancel,
    deployment_retry,
    deployment_start,
)
from registry.rollout.flags import flag_set, known_flags
from registry.rollout.monitoring import canary_evaluate, canary_limits
from registry.rollout.rollback import release_rollback
from registry.rollout.selectors import get_deployment_for_user, rollback_context
from registry.rollout.targets import DeploymentError
from registry.selectors import flags_current, release_for_alias, release_versions
from registry.services import RegistryError, canary_start, canary_step, canary_stop


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
            "guard_events": MonitorEvent.objects.select_related("release").exclude(kind="canary_rollback")[:20],
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
        paused = "; ".join(f"{p['name']} paused" for p in done.paused)
        messages.success(
            request,
            f"Production now serves release {done.to_release.number} (was {done.from_release.number}); "
            "new turns use it within seconds. Its golden evaluation and the alert follow."
            + (f" Every allocation that served another release stopped: {paused}." if paused else ""),
        )
    return redirect_back(request, "registry:production")


@console_view(permission="registry.view_flag")
@require_GET
def flags(request):
    current = flags_current()
    rows = {f.name: f for f in Flag.objects.all()}
    return render(
        request,
        "registry/flags.html",
        {
            "flags": [
                (name, label, current.get(name, default), rows.get(name)) for name, label, default in known_flags()
            ]
        },
    )


@console_view(permission="registry.toggle_flag")
@require_POST
def flag_toggle(request, name):
    labels = {n: label for n, label, _ in known_flags()}
    if name not in labels:
        messages.error(request, f"No flag {name!r}.")
        return redirect("registry:flags")
    enabled = request.POST.get("enabled") == "on"
    try:
        flag_set(name=name, enabled=enabled, actor=request.user, reason=request.POST.get("reason", ""))
    except RegistryError as exc:
        messages.error(request, f"Not changed: {exc}")
    else:
        messages.success(request, f"{labels[name]}: {'on' if enabled else 'off'}. Every process follows within 1 s.")
    return redirect_back(request, "registry:flags")


# ------------------------------------------------------------------------ deployments (US-1.2)
def _deployable_releases():
    production = release_for_alias(AliasName.PRODUCTION)
    qs = Release.objects.order_by("-number")
    return qs.exclude(pk=production.pk)[:30] if production else qs[:30]


@console_view(permission="registry.view_deployment")
@require_GET
def deployments(request):
    return render(
        request,
        "registry/deployments.html",
        {
            "deployments": Deployment.objects.select_related("release")[:50],
            "releases": _deployable_releases(),
            "production": release_for_alias(AliasName.PRODUCTION),
        },
    )


@console_view(permission="registry.deploy_release")
@require_POST
def deployment_start_view(request):
    release = Release.objects.filter(number=request.POST.get("release") or 0).first()
    if release is None:
        messages.error(request, "Choose a release to deploy.")
        return redirect("registry:deployments")
    try:
        deployment = deployment_start(release=release, actor=request.user)
    except DeploymentError as exc:
        messages.error(request, f"Not started: {exc}")
        return redirect("registry:deployments")
    messages.success(request, f"Release {release.number} entered the pipeline; the stages run now.")
    return redirect("registry:deployment", pk=deployment.pk)


def _deployment_state(deployment) -> dict:
    return {
        "id": deployment.pk,
        "state": deployment.state,
        "state_label": deployment.get_state_display(),
        "failure": deployment.failure,
        "eval_run": deployment.eval_run_id,
        "finished": deployment.state in ("promoted", "failed", "cancelled"),
        "stages": [
            {
                "name": s.name,
                "label": s.get_name_display(),
                "status": s.status,
                "status_label": s.get_status_display(),
                "log": s.log,
                "seconds": s.detail.get("seconds"),
            }
            for s in deployment.stages.all()
        ],
    }


@console_view(permission="registry.view_deployment")
@require_GET
def deployment(request, pk):
    found = get_deployment_for_user(request, pk)
    is_requester = found.requested_by == request.user.get_username()
    return render(
        request,
        "registry/deployment.html",
        {
            "d": found,
            "state": _deployment_state(found),
            "is_requester": is_requester,
            "can_approve": request.user.has_perm("registry.approve_deployment") and not is_requester,
        },
    )


@console_view(permission="registry.view_deployment")
@require_GET
def deployment_progress(request, pk):
    from django.http import JsonResponse

    return JsonResponse(_deployment_state(get_deployment_for_user(request, pk)))


# One view per decision, each calling one service.
@console_view(permission="registry.deploy_release")
@require_POST
def deployment_retry_view(request, pk):
    found = get_deployment_for_user(request, pk)
    try:
        deployment_retry(deployment=found, actor=request.user)
        messages.success(request, "Retrying from the failed stage.")
    except DeploymentError as exc:
        messages.error(request, f"Nothing changed: {exc}")
    return redirect("registry:deployment", pk=found.pk)


@console_view(permission="registry.approve_deployment")
@require_POST
def deployment_approve_view(request, pk):
    found = get_deployment_for_user(request, pk)
    try:
        deployment_approve(deployment=found, actor=request.user)
        messages.success(request, f"Approved: release {found.release.number} is being promoted.")
    except DeploymentError as exc:
        messages.error(request, f"Nothing changed: {exc}")
    return redirect("registry:deployment", pk=found.pk)


@console_view(permission="registry.approve_deployment")
@require_POST
def deployment_decline_view(request, pk):
    found = get_deployment_for_user(request, pk)
    try:
        deployment_cancel(deployment=found, actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, "Declined: production stays where it is.")
    except DeploymentError as exc:
        messages.error(request, f"Nothing changed: {exc}")
    return redirect("registry:deployment", pk=found.pk)


# ------------------------------------------------------------------------------ canary (US-3.4)
@console_view(permission="registry.view_canary")
@require_GET
def canary(request):
    active = Canary.objects.select_related("release", "baseline").filter(state=Canary.State.ACTIVE).first()
    live = canary_evaluate(active) if active else None
    nxt = next((p for p in CANARY_STEPS if active and p > active.percent), None)
    return render(
        request,
        "registry/canary.html",
        {
            "active": active,
            "live": live,
            "chart": canary_arms(live) if live else "",
            "next_step": nxt,
            "limits": canary_limits(),
            "releases": [r for r in _deployable_releases() if r.gate_status == GateStatus.PASSED],
            "history": Canary.objects.select_related("release", "baseline").exclude(state=Canary.State.ACTIVE)[:20],
            "events": MonitorEvent.objects.select_related("release")[:20],
        },
    )


def _expected_percent(request) -> int | None:
    expected = request.POST.get("expected_percent", "")
    return int(expected) if expected.isdigit() else None


def _canary_step(request, do) -> object:
    """Run one canary service; its refusal becomes the page's message and nothing changes."""
    try:
        do()
    except (RegistryError, DeploymentError) as exc:
        messages.error(request, f"Nothing changed: {exc}")
    return redirect("registry:canary")


@console_view(permission="registry.manage_canary")
@require_POST
def canary_start_view(request):
    def do():
        release = Release.objects.filter(number=request.POST.get("release") or 0).first()
        if release is None:
            raise RegistryError("choose a release")
        done = canary_start(release=release, actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, f"Release {release.number} serves {done.percent}% of sessions.")

    return _canary_step(request, do)


@console_view(permission="registry.manage_canary")
@require_POST
def canary_step_view(request):
    def do():
        done = canary_step(actor=request.user, expected_percent=_expected_percent(request))
        messages.success(request, f"Approved: the canary serves {done.percent}% of sessions.")

    return _canary_step(request, do)


@console_view(permission="registry.manage_canary")
@require_POST
def canary_promote_view(request):
    def do():
        deployment = canary_promote_request(actor=request.user, expected_percent=_expected_percent(request))
        messages.success(
            request,
            f"Release {deployment.release.number} entered the deployment pipeline as deployment "
            f"{deployment.pk}; the canary keeps serving until a second engineer approves its promotion.",
        )

    return _canary_step(request, do)


@console_view(permission="registry.manage_canary")
@require_POST
def canary_stop_view(request):
    def do():
        canary_stop(actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, "Canary stopped: every session is on production.")

    return _canary_step(request, do)
