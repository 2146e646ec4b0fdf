"""Where a form may send its user back to: only a path on this site (no open redirect)."""

from __future__ import annotations

from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme


def redirect_back(request, default: str, *, field: str = "next"):
    """Redirect to ``request.POST[field]`` when it is a same-site path, else to ``default`` (a URL
    name or path). Django's ``url_has_allowed_host_and_scheme`` refuses other hosts, schemes and the
    ``//evil.example`` and ``\\\\evil`` tricks; a relative path is required on top of it."""
    target = request.POST.get(field) or request.GET.get(field) or ""
    safe = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if safe else default)
