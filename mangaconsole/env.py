"""Read settings from the environment, failing loudly on a bad value.

One helper for every setting (habit from HackSoftware's ``config/env.py`` and healthchecks'
``hc/settings.py``): defaults work on a laptop with no server; a value that is present but
cannot be parsed raises ``ImproperlyConfigured`` naming the variable, instead of silently falling
back to a default.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env(name: str, default: Any = _MISSING, *, cast: type = str) -> Any:
    """Return environment variable ``name`` converted with ``cast`` (str, int, float, bool, list).

    Raises ImproperlyConfigured if the variable is missing and has no default, or if it is set to
    a value that ``cast`` cannot convert.
    """
    raw = os.environ.get(name)
    if raw is None:
        if default is _MISSING:
            raise ImproperlyConfigured(f"Set the {name} environment variable.")
        return default
    try:
        if cast is bool:
            lowered = raw.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(f"expected one of {sorted(_TRUE | _FALSE)}")
        if cast is list:
            return [item.strip() for item in raw.split(",") if item.strip()]
        return cast(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a valid {cast.__name__}: {exc}") from exc
