"""Reads of the audit log: filtered querysets, streaming rows and chain verification."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, QuerySet

from audit import chain
from audit.models import AuditChainHead, AuditEntry

_CHUNK = 10000
_TABLE = AuditEntry._meta.db_table
_COLUMNS = (*chain.FIELDS, "hash")
_JSON_COLUMNS = ("before", "after", "evidence")


def audit_entries_in_range(*, start: datetime | None = None, end: datetime | None = None) -> QuerySet:
    qs = AuditEntry.objects.order_by("sequence")
    if start is not None:
        qs = qs.filter(timestamp__gte=start)
    if end is not None:
        qs = qs.filter(timestamp__lt=end)
    return qs


def audit_entries_filtered(
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    target_type: str = "",
    actor: str = "",
    action: str = "",
) -> QuerySet:
    qs = audit_entries_in_range(start=start, end=end)
    if target_type:
        qs = qs.filter(Q(target_type=target_type) | Q(target_type__startswith=f"{target_type}."))
    if actor:
        qs = qs.filter(actor=actor)
    if action:
        qs = qs.filter(action=action)
    return qs


# PostgreSQL formats the timestamp canonically itself (chain.format_timestamp's form), which saves
# parsing and re-formatting a datetime per row; SQLite's text is formatted in Python.
_PG_TIMESTAMP = """to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


def _raw_rows(first: int, last: int) -> Iterator[tuple]:
    """Rows with sequence in [first, last], in order, through a server-side cursor on PostgreSQL."""
    columns = ", ".join(
        _PG_TIMESTAMP if c == "timestamp" and connection.vendor == "postgresql" else c for c in _COLUMNS
    )
    sql = f"SELECT {columns} FROM {_TABLE} WHERE sequence BETWEEN %s AND %s ORDER BY sequence"  # noqa: S608
    # Inside a transaction the PostgreSQL cursor streams; outside one it would be WITH HOLD and
    # materialise the whole result on the server before the first row. (Not on SQLite, where an
    # atomic block would take the write lock for a read.)
    streaming = transaction.atomic() if connection.vendor == "postgresql" else nullcontext()
    with streaming, connection.chunked_cursor() as cursor:
        cursor.execute(sql, [first, last])
        yield from _prefetched(cursor)


def _prefetched(cursor) -> Iterator[tuple]:
    """Fetch the next chunk in a thread while the caller hashes this one.

    The database server and this process then work at the same time (2 cores: ~1.4x faster
    verification). The fetch thread only touches ``cursor``; it stops when the caller stops.
    """
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def pump() -> None:
        try:
            while not stop.is_set():
                rows = cursor.fetchmany(_CHUNK)
                while not stop.is_set():
                    try:
                        chunks.put(rows, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if not rows:
                    return
        except BaseException as exc:  # handed to the caller, who re-raises it
            chunks.put(exc)

    fetcher = threading.Thread(target=pump, name="audit-verify-fetch", daemon=True)
    fetcher.start()
    try:
        while True:
            item = chunks.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield from item
    finally:
        stop.set()
        fetcher.join()


def audit_rows(qs: QuerySet) -> Iterator[dict]:
    """Stream the entries of ``qs`` as dicts of the chain fields plus ``hash``, timestamp canonical.

    ``iterator`` uses a server-side cursor on PostgreSQL, so a large range never sits in memory.
    """
    for row in qs.values_list(*_COLUMNS).iterator(chunk_size=_CHUNK):
        entry = dict(zip(_COLUMNS, row, strict=True))
        entry["timestamp"] = chain.format_timestamp(entry["timestamp"])
        yield entry


def _sequence_span(start: datetime | None, end: datetime | None) -> tuple[int | None, int | None]:
    span = audit_entries_in_range(start=start, end=end).aggregate(first=Min("sequence"), last=Max("sequence"))
    return span["first"], span["last"]


def audit_chain_verify(*, start: datetime | None = None, end: datetime | None = None) -> chain.Verification:
    """Walk the chain, or the contiguous run of entries from the first to the last inside
    [start, end), and report every gap, broken link and altered entry.

    A run is anchored on the entry just before it, so its first link is checked too. Verifying the
    whole chain also compares its end with the head row, so entries cut off the end are found.
    """
    first, last = _sequence_span(start, end)
    whole_chain = start is None and end is None
    if first is None:
        result = chain.Verification()
        head = AuditChainHead.objects.filter(id=1).values_list("sequence", flat=True).first() if whole_chain else None
        if head:
            result.breaks.append(chain.Break(1, f"entries 1-{head} missing: the log is empty but its head says {head}"))
        return result
    expected_prev, expected_sequence = chain.GENESIS_HASH, 1
    anchor = AuditEntry.objects.filter(sequence__lt=first).order_by("-sequence").values_list("sequence", "hash").first()
    if anchor is not None:
        expected_sequence, expected_prev = anchor[0] + 1, anchor[1]
    verifier = chain.ChainVerifier(expected_prev=expected_prev, expected_sequence=expected_sequence)
    # PostgreSQL rows carry the timestamp already in canonical form (see _PG_TIMESTAMP).
    fmt = str if connection.vendor == "postgresql" else chain.format_timestamp
    verifier.feed_rows(_raw_rows(first, last), format_timestamp=fmt)
    if whole_chain:
        head = AuditChainHead.objects.filter(id=1).values_list("sequence", flat=True).first()
        if head is not None and head > last:
            verifier.add_break(last + 1, f"entries {last + 1}-{head} missing at the end: the chain head says {head}")
    return verifier.result


def audit_actions_summary(qs: QuerySet) -> list[tuple[str, int]]:
    return list(qs.order_by().values_list("action").annotate(n=Count("sequence")).order_by("-n"))
