"""Login and permission checks for console pages and APIs.

Every console view is wrapped by ``console_view`` and every DRF view declares
``required_permission``; both leave the requirement on the view so the URL-walking test
(tests/test_access_every_url.py) can check each pattern without a hand-kept list.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import Throttled
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from mangaconsole.roles import user_has_role


def console_view(*, permission: str | None = None, role: str | None = None):
    """Require a logged-in user holding ``permission`` (or belonging to ``role``).

    Anonymous visitors are redirected to the login page; logged-in users without the right get
    403. Exactly one of ``permission`` and ``role`` must be given.
    """
    if (permission is None) == (role is None):
        raise ValueError("console_view needs exactly one of permission= or role=")

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            allowed = user.has_perm(permission) if permission else user_has_role(user, role)
            if not allowed:
                raise PermissionDenied(
                    f"This page needs the {permission or role} {'permission' if permission else 'role'}."
                )
            return view(request, *args, **kwargs)

        wrapped.required_permission = permission
        wrapped.required_role = role
        return wrapped

    return decorator


def public_view(view):
    """Mark a view as deliberately open to anonymous visitors (login, health check)."""
    view.public = True
    return view


class HasRequiredPermission(BasePermission):
    """DRF: the user must hold the view's ``required_permission``; a view without one is closed."""

    message = "You do not have the permission this endpoint needs."

    def has_permission(self, request, view) -> bool:
        perm = getattr(view, "required_permission", None)
        if not perm:
            return False
        return bool(request.user and request.user.is_authenticated and request.user.has_perm(perm))


class TokenAttemptThrottle(SimpleRateThrottle):
    """Requests that present a token, counted per client address (rate ``token_attempt``)."""

    scope = "token_attempt"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ThrottledTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, throttled per address before the token is looked up.

    DRF runs throttles after authentication, so a request with a wrong token is refused (401)
    before any throttle counts it, and guessing tokens would be free. This counts every
    token-bearing request first and answers 429 with Retry-After past the rate."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if header and header[0].lower() == self.keyword.lower().encode():
            throttle = TokenAttemptThrottle()
            if not throttle.allow_request(request, None):
                raise Throttled(throttle.wait())
        return super().authenticate(request)
