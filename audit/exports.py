"""Compliance exports: CSV and JSON written as streams, so a large range never sits in memory."""

from __future__ import annotations

import csv
from collections.abc import Iterator

import orjson

from audit.selectors import audit_rows
from mangaconsole.lib.spreadsheet import SafeWriter

CSV_COLUMNS = (
    "sequence",
    "timestamp",
    "actor",
    "actor_user_id",
    "action",
    "target_type",
    "target_id",
    "before",
    "after",
    "reason",
    "ticket",
    "evidence",
    "prev_hash",
    "hash",
)


class _Echo:
    """A file-like object whose write returns the line, for csv.writer inside a generator."""

    def write(self, value: str) -> str:
        return value


def _json_cell(value) -> str:
    return "" if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def csv_stream(qs) -> Iterator[str]:
    """Header, one row per entry, JSON columns as compact JSON text.

    The chain verification for the range travels in the response headers and the JSON export;
    the CSV stays one table so any spreadsheet or csv reader parses it.
    """
    writer = SafeWriter(csv.writer(_Echo()))  # no cell runs as a spreadsheet formula (OWASP)
    yield writer.writerow(CSV_COLUMNS)
    for entry in audit_rows(qs):
        yield writer.writerow(
            [
                _json_cell(entry[c]) if c in ("before", "after", "evidence") else ("" if entry[c] is None else entry[c])
                for c in CSV_COLUMNS
            ]
        )


def json_stream(qs, *, meta: dict, verification: dict) -> Iterator[bytes]:
    """``{"export": meta, "verification": {...}, "entries": [...], "count": n}`` streamed."""
    yield b'{"export":' + orjson.dumps(meta) + b',"verification":' + orjson.dumps(verification) + b',"entries":['
    count = 0
    for entry in audit_rows(qs):
        yield (b"," if count else b"") + orjson.dumps(entry)
        count += 1
    yield b'],"count":' + str(count).encode() + b"}"
