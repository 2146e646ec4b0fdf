"""Writes to the audit log. The only code that creates AuditEntry rows."""

from __future__ import annotations

import orjson
from django.db import connection, transaction
from django.utils import timezone

from audit import chain
from audit.models import AuditAction, AuditChainHead, AuditEntry

_ENTRY = AuditEntry._meta.db_table
_HEAD = AuditChainHead._meta.db_table

# One statement on PostgreSQL: the UPDATE takes the head row's lock (writers queue here until the
# previous append's transaction ends; READ COMMITTED then re-reads the newest head), claims the next
# sequence number and finishes the hash in SQL; the INSERT writes the entry from what it returns.
# Every SET expression sees the old row, so prev_hash = the old hash.
# Table names come from the models; every value is a bound parameter.
_PG_APPEND = f"""
WITH head AS (
    UPDATE {_HEAD}
       SET prev_hash = hash,
           sequence = sequence + 1,
           hash = encode(sha256(convert_to(%(body)s || '|' || (sequence + 1)::text || '|' || hash, 'UTF8')), 'hex')
     WHERE id = 1
 RETURNING sequence, prev_hash, hash
)
INSERT INTO {_ENTRY} (sequence, timestamp, actor, actor_user_id, action, target_type, target_id,
                      before, after, reason, ticket, evidence, prev_hash, hash)
SELECT head.sequence, %(timestamp)s, %(actor)s, %(actor_user_id)s, %(action)s, %(target_type)s, %(target_id)s,
       %(before)s::jsonb, %(after)s::jsonb, %(reason)s, %(ticket)s, %(evidence)s::jsonb, head.prev_hash, head.hash
  FROM head
RETURNING sequence, prev_hash, hash
"""  # noqa: S608


def _actor_fields(actor) -> tuple[str, int | None]:
    if isinstance(actor, str):
        if not actor:
            raise ValueError("audit_record needs an actor: a user or 'system:<component>'")
        return actor, None
    if getattr(actor, "is_authenticated", False):
        return actor.get_username(), actor.pk
    raise ValueError(f"audit_record needs an authenticated user or a 'system:<component>' string, got {actor!r}")


def _head_rebuild() -> None:
    """Create the head row from the newest entry (first append, or after a test flush)."""
    newest = AuditEntry.objects.order_by("-sequence").values_list("sequence", "prev_hash", "hash").first()
    seq, prev, digest = newest if newest else (0, chain.GENESIS_HASH, chain.GENESIS_HASH)
    AuditChainHead.objects.get_or_create(id=1, defaults={"sequence": seq, "prev_hash": prev, "hash": digest})


def _json_param(value) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _append_postgresql(fields: dict, body: bytes) -> tuple[int, str, str]:
    params = {
        **fields,
        "body": body.decode(),
        "before": _json_param(fields["before"]),
        "after": _json_param(fields["after"]),
        "evidence": _json_param(fields["evidence"]),
    }
    with connection.cursor() as cursor:
        cursor.execute(_PG_APPEND, params)
        row = cursor.fetchone()
        if row is None:  # no head row yet
            _head_rebuild()
            cursor.execute(_PG_APPEND, params)
            row = cursor.fetchone()
    return row


def _append_generic(fields: dict, body: bytes) -> tuple[int, str, str]:
    # SQLite runs every transaction in IMMEDIATE mode (settings), so the enclosing transaction
    # already holds the database's write lock: nobody else can append until it ends.
    head = AuditChainHead.objects.select_for_update().filter(id=1).first()
    if head is None:
        _head_rebuild()
        head = AuditChainHead.objects.select_for_update().get(id=1)
    sequence, prev_hash = head.sequence + 1, head.hash
    digest = chain.link_hash(body, sequence, prev_hash)
    AuditEntry.objects.create(sequence=sequence, prev_hash=prev_hash, hash=digest, **fields)
    AuditChainHead.objects.filter(id=1).update(sequence=sequence, prev_hash=prev_hash, hash=digest)
    return sequence, prev_hash, digest


def audit_record(
    *,
    actor,
    action: AuditAction | str,
    target_type: str = "",
    target_id: str | int = "",
    before=None,
    after=None,
    reason: str = "",
    ticket: str = "",
    evidence=None,
) -> AuditEntry:
    """Append one entry to the audit log, inside the caller's transaction.

    Call it from the service that makes the change, in the same atomic block, so the change and
    its record commit or roll back together. Locks the chain head row until that transaction
    ends: keep the enclosing transaction short.
    """
    actor_label, actor_user_id = _actor_fields(actor)
    timestamp = timezone.now()
    fields = {
        "timestamp": timestamp,
        "actor": actor_label,
        "actor_user_id": actor_user_id,
        "action": AuditAction(action).value,
        "target_type": target_type,
        "target_id": str(target_id),
        "before": chain.normalise_json(before),
        "after": chain.normalise_json(after),
        "reason": reason,
        "ticket": ticket,
        "evidence": chain.normalise_json(evidence),
    }
    body = chain.body_bytes({**fields, "timestamp": chain.format_timestamp(timestamp)})
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            sequence, prev_hash, digest = _append_postgresql(fields, body)
        else:
            sequence, prev_hash, digest = _append_generic(fields, body)
    return AuditEntry(sequence=sequence, prev_hash=prev_hash, hash=digest, **fields)


@transaction.atomic
def audit_export_record(*, user, fmt: str, filters: dict, verification: dict) -> AuditEntry:
    """Record that ``user`` exported the slice of the log described by ``filters``."""
    return audit_record(
        actor=user,
        action=AuditAction.AUDIT_EXPORT,
        target_type="audit.auditentry",
        target_id=fmt,
        after={"filters": filters, "format": fmt},
        evidence={"verification": verification},
        reason="Compliance export",
    )
