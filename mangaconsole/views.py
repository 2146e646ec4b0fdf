from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import IsAuthenticated

from mangaconsole.access import console_view, public_view
from mangaconsole.navigation import ROLE_FLOWS
from mangaconsole.roles import Role, user_roles
from mangaconsole.selectors import health_report
from registry.rollout.selectors import rollback_context


def home(request):
    """Send a user with one role straight to it; list the roles of a user with several."""
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    roles = user_roles(request.user)
    if len(roles) == 1:
        return redirect(f"landing_{roles[0]}")
    return render(request, "mangaconsole/home.html", {"roles": [(r, Role.LABELS[r]) for r in roles]})


# Open to any logged-in user: it only lists the landing pages of the roles the user holds.
home.required_permission = None
home.required_role = None
home.any_logged_in_user = True


def _flows_for(user, role: str) -> list[dict]:
    flows = []
    for flow in ROLE_FLOWS.get(role, []):
        if flow.permission and not user.has_perm(flow.permission):
            continue
        try:
            url = reverse(flow.url_name)
        except NoReverseMatch:
            continue
        flows.append({"label": flow.label, "url": url, "description": flow.description})
    return flows


def landing_view_for(role: str):
    @console_view(role=role)
    @require_GET
    def landing(request):
        return render(
            request,
            "mangaconsole/landing.html",
            {
                "role": role,
                "role_label": Role.LABELS[role],
                "flows": _flows_for(request.user, role),
                "other_roles": [(r, Role.LABELS[r]) for r in user_roles(request.user) if r != role],
                **(rollback_context() if role == Role.ONCALL_ENGINEER else {}),
            },
        )

    landing.__name__ = f"landing_{role}"
    return landing


HEALTH_DETAIL_PERMISSION = "mangaconsole.view_workerheartbeat"


@public_view
@never_cache
@require_GET
def healthz(request):
    """Public for load balancers and uptime probes: the status alone (200 or 503). The checks behind
    it (exception text, versions, worker host names) help an attacker more than a prober, so only a
    signed-in user who may see worker heartbeats (on-call) gets them."""
    report = health_report()
    status = 200 if report["ok"] else 503
    if request.user.is_authenticated and request.user.has_perm(HEALTH_DETAIL_PERMISSION):
        return JsonResponse(report, status=status)
    return JsonResponse({"ok": report["ok"], "status": "ok" if report["ok"] else "unavailable"}, status=status)


class ApiSchema(SpectacularAPIView):
    """GET /api/schema/ (``?format=json`` for JSON): the OpenAPI 3 schema of every API, for any
    signed-in user or token (it describes endpoints; each endpoint still checks its own permission)."""

    permission_classes = [IsAuthenticated]


api_schema = ApiSchema.as_view()
api_schema.any_logged_in_user = True  # for tests/test_access_every_url.py: login, no role


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' lockout page (AXES_LOCKOUT_CALLABLE): who is locked, after how many wrong
    passwords, and for how long, in words; 429 like axes' own."""
    from axes.helpers import get_client_username, get_cool_off, get_failure_limit

    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60) if cool_off else None
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "minutes": minutes,
        "seconds": int(cool_off.total_seconds()) if cool_off else None,
    }
    return render(request, "registration/locked_out.html", context, status=429)


@public_view
@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on pages that link no icon (the admin's): send them the console's."""
    from django.templatetags.static import static

    return redirect(static("mangaconsole/favicon.svg"), permanent=True)
