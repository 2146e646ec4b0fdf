"""Permission-checked object lookups for views: the one way a view turns an id from the URL or a form
into an object. The permission is checked again here (not only by the view's decorator), an id out of
the database's range is a 404 rather than a 500, and a missing object is a 404 that names its kind."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

_BIGINT = 2**63


def get_for_user(request, source: type[Model] | QuerySet, *, permission: str, pk, **lookup):
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"This needs the {permission} permission.")
    queryset = source if isinstance(source, QuerySet) else source._default_manager.all()
    name = queryset.model._meta.verbose_name
    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise Http404(f"No such {name}.") from None
    if not 0 < key < _BIGINT:
        raise Http404(f"No such {name}.")
    found = queryset.filter(pk=key, **lookup).first()
    if found is None:
        raise Http404(f"No such {name}.")
    return found
