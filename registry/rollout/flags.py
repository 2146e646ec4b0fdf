"""The kill switch and feature flags (S29): what changes what serves at once, audited."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from guardrails.policy import DEFAULT_POLICY
from mangaconsole.lib.actors import actor_label as _actor_label
from registry.models import Flag, FlagName
from registry.selectors import FLAG_DEFAULTS, FLAGS_CACHE_KEY, GUARDRAIL_FLAG_PREFIX
from registry.services import RegistryError


def known_flags() -> list[tuple[str, str, bool]]:
    """(name, label, default) of every switch: the three capability flags, then one per guardrail
    check (on by default; off skips that check in every release's policy)."""
    rows = [(name.value, name.label, FLAG_DEFAULTS[name]) for name in FlagName]
    rows += [
        (f"{GUARDRAIL_FLAG_PREFIX}{check}", f"Guardrail check: {check}", True) for check in DEFAULT_POLICY["checks"]
    ]
    return rows


@transaction.atomic
def flag_set(*, name: FlagName | str, enabled: bool, actor, reason: str) -> Flag:
    """Turn a switch on or off (audited); every process sees it on its next turn after the cache
    (1 s) expires, the changing process at once."""
    defaults = {n: d for n, _, d in known_flags()}
    name = str(getattr(name, "value", name))
    if name not in defaults:
        raise RegistryError(f"no flag {name!r}; known: {', '.join(defaults)}")
    if not reason.strip():
        raise RegistryError("say why: the reason goes into the audit log")
    current = Flag.objects.select_for_update().filter(name=name).first()
    before = current.enabled if current else defaults[name]
    values = {"enabled": enabled, "updated_by": _actor_label(actor), "updated_at": timezone.now(), "reason": reason}
    if current is None:
        flag = Flag.objects.create(name=name, **values)
    else:
        Flag.objects.filter(pk=current.pk).update(**values)
        flag = Flag.objects.get(pk=current.pk)
    audit_record(
        actor=actor,
        action=AuditAction.FLAG_CHANGE,
        target_type="registry.flag",
        target_id=name,
        before={"enabled": before},
        after={"enabled": enabled},
        reason=reason,
    )
    transaction.on_commit(lambda: cache.delete(FLAGS_CACHE_KEY))
    return flag
