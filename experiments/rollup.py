"""Per-session totals (experiments.models.SessionStat), incremented with one upsert per session.

``INSERT … ON CONFLICT (session_id) DO UPDATE SET col = col + excluded.col`` works in PostgreSQL and in
SQLite ≥ 3.24, so writers add deltas without reading first and concurrent writers never lose one.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection, models

COLUMNS = (
    "turns",
    "latency_sum",
    "cost_sum",
    "length_sum",
    "escalations",
    "thumbs_up",
    "thumbs_down",
    "conversions",
    "resolutions",
    "csat_sum",
    "csat_n",
)
_TABLE = "experiments_sessionstat"
_SQL = (
    f"INSERT INTO {_TABLE} (session_id, {', '.join(COLUMNS)}) VALUES (%s, {', '.join(['%s'] * len(COLUMNS))}) "
    f"ON CONFLICT (session_id) DO UPDATE SET " + ", ".join(f"{c} = {_TABLE}.{c} + excluded.{c}" for c in COLUMNS)
)
_UUID = models.UUIDField()


def add(deltas: dict) -> None:
    """``deltas``: {session id: {column: amount}}; one upsert per session."""
    if not deltas:
        return
    rows = []
    for session_id, delta in deltas.items():
        unknown = set(delta) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown session totals {sorted(unknown)}")
        rows.append([_UUID.get_db_prep_value(session_id, connection), *(delta.get(c, 0) for c in COLUMNS)])
    with connection.cursor() as cursor:
        cursor.executemany(_SQL, rows)


def from_traces(traces) -> dict:
    """Deltas for Trace-like dicts or objects (session_id, latency_ms, cost_usd, answer, intent)."""
    deltas: dict = defaultdict(lambda: defaultdict(float))
    for t in traces:
        get = t.get if isinstance(t, dict) else lambda k, t=t: getattr(t, k)
        sid = get("session_id")
        if sid is None:
            continue
        d = deltas[sid]
        d["turns"] += 1
        d["latency_sum"] += float(get("latency_ms") or 0)
        d["cost_sum"] += float(get("cost_usd") or 0)
        d["length_sum"] += len(get("answer") or "")
        d["escalations"] += 1 if get("intent") == "escalation" else 0
    return deltas
