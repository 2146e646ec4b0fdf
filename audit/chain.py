"""The hash chain: canonical serialisation and a streaming verifier. No Django imports.

An entry's hash is

    SHA-256( body || "|" || sequence || "|" || prev_hash )

where ``body`` is the canonical JSON of the entry's other fields (``BODY_FIELDS``): sorted keys,
no insignificant white space, UTF-8, as orjson writes with OPT_SORT_KEYS, timestamp as UTC ISO 8601
with microseconds. Keeping sequence and prev_hash outside the JSON lets PostgreSQL finish the hash
in the same statement that claims the next sequence number (audit.services), while Python
verifies it byte for byte.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

GENESIS_HASH = "0" * 64
BODY_FIELDS = (
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
)
FIELDS = ("sequence", *BODY_FIELDS, "prev_hash")


def format_timestamp(ts: datetime | str) -> str:
    """UTC, always with microseconds: '2026-11-23T18:35:30.123456+00:00'."""
    if isinstance(ts, str):  # SQLite hands raw rows back as text
        ts = datetime.fromisoformat(ts)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    elif ts.utcoffset():
        ts = ts.astimezone(UTC)
    return ts.isoformat(timespec="microseconds")


def body_bytes(entry: dict) -> bytes:
    """Canonical JSON of BODY_FIELDS of ``entry`` (timestamp already formatted)."""
    return orjson.dumps({name: entry[name] for name in BODY_FIELDS}, option=orjson.OPT_SORT_KEYS)


def link_hash(body: bytes, sequence: int, prev_hash: str) -> str:
    return hashlib.sha256(b"%s|%d|%s" % (body, sequence, prev_hash.encode())).hexdigest()


def entry_hash(entry: dict) -> str:
    return link_hash(body_bytes(entry), entry["sequence"], entry["prev_hash"])


def _stable_numbers(value):
    # PostgreSQL's jsonb keeps numbers as decimals: 1e+16 comes back as 10000000000000000 and -0.0
    # as 0.0. Store them in the form every database gives back, so the hash survives the round trip.
    if isinstance(value, float):
        if value == 0:
            return 0.0
        if value.is_integer() and abs(value) >= 1e16:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: _stable_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable_numbers(v) for v in value]
    return value


def normalise_json(value):
    """What a JSON column will give back: plain dicts, lists, str, int, float, bool, None.

    Dates, decimals and other objects become strings; keys become strings.
    """
    if value is None:
        return None
    return _stable_numbers(orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)))


@dataclass
class Break:
    sequence: int
    problem: str

    def as_dict(self) -> dict:
        return {"sequence": self.sequence, "problem": self.problem}


@dataclass
class Verification:
    checked: int = 0
    first_sequence: int | None = None
    last_sequence: int | None = None
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first_break(self) -> Break | None:
        return self.breaks[0] if self.breaks else None

    def as_dict(self) -> dict:
        return {
            "intact": self.ok,
            "checked": self.checked,
            "first_sequence": self.first_sequence,
            "last_sequence": self.last_sequence,
            "first_break": self.first_break.as_dict() if self.first_break else None,
            "breaks_found": len(self.breaks),
        }


class ChainVerifier:
    """Feed entries in sequence order; it records every gap, broken link and altered entry.

    ``expected_prev`` / ``expected_sequence`` anchor a verification that starts mid-chain: the
    hash and sequence + 1 of the entry just before the first one fed.
    """

    def __init__(self, *, expected_prev: str = GENESIS_HASH, expected_sequence: int = 1, max_breaks: int = 100):
        self.result = Verification()
        self._prev_hash = expected_prev
        self._next_sequence = expected_sequence
        self._max_breaks = max_breaks

    def add_break(self, sequence: int, problem: str) -> None:
        if len(self.result.breaks) < self._max_breaks:
            self.result.breaks.append(Break(sequence, problem))

    def feed(self, sequence: int, body: bytes, prev_hash: str, stored_hash: str) -> bool:
        """Check one entry given its canonical body. Returns True if it is sound."""
        res = self.result
        res.checked += 1
        if res.first_sequence is None:
            res.first_sequence = sequence
        res.last_sequence = sequence
        sound = True
        if sequence != self._next_sequence:
            if sequence > self._next_sequence:
                gap = sequence - self._next_sequence
                missing = f"{self._next_sequence}" if gap == 1 else f"{self._next_sequence}-{sequence - 1}"
                self.add_break(
                    sequence, f"gap: entr{'y' if gap == 1 else 'ies'} {missing} missing before entry {sequence}"
                )
            else:
                self.add_break(sequence, f"sequence out of order: expected {self._next_sequence}, found {sequence}")
            sound = False
        if prev_hash != self._prev_hash:
            self.add_break(
                sequence,
                f"broken link: prev_hash {prev_hash[:16]}… is not the previous entry's hash {self._prev_hash[:16]}…",
            )
            sound = False
        recomputed = link_hash(body, sequence, prev_hash)
        if recomputed != stored_hash:
            self.add_break(
                sequence,
                f"content altered: stored hash {stored_hash[:16]}… but its fields now hash to {recomputed[:16]}…",
            )
            sound = False
        self._prev_hash = stored_hash
        self._next_sequence = sequence + 1
        return sound

    def feed_rows(self, rows, *, format_timestamp=format_timestamp) -> None:
        """Verify raw rows (sequence, timestamp, actor, actor_user_id, action, target_type,
        target_id, before, after, reason, ticket, evidence, prev_hash, hash), JSON columns as text.

        The hot loop of audit verification: a sound row costs one dumps and one SHA-256 with no
        method calls; an unsound one goes through ``feed`` to describe what is wrong.
        """
        dumps, sort_keys, loads, sha256 = orjson.dumps, orjson.OPT_SORT_KEYS, orjson.loads, hashlib.sha256
        res = self.result
        prev_hash, next_sequence, sound_rows, last = self._prev_hash, self._next_sequence, 0, None
        for seq, ts, actor, uid, action, ttype, tid, before, after, reason, ticket, evidence, prev, digest in rows:
            body = dumps(
                {
                    "timestamp": format_timestamp(ts),
                    "actor": actor,
                    "actor_user_id": uid,
                    "action": action,
                    "target_type": ttype,
                    "target_id": tid,
                    "before": None if before is None else loads(before),
                    "after": None if after is None else loads(after),
                    "reason": reason,
                    "ticket": ticket,
                    "evidence": None if evidence is None else loads(evidence),
                },
                option=sort_keys,
            )
            last = seq
            if (
                seq == next_sequence
                and prev == prev_hash
                and sha256(b"%s|%d|%s" % (body, seq, prev.encode())).hexdigest() == digest
            ):
                if res.first_sequence is None:
                    res.first_sequence = seq
                sound_rows += 1
                prev_hash, next_sequence = digest, seq + 1
                continue
            self._prev_hash, self._next_sequence = prev_hash, next_sequence
            self.feed(seq, body, prev, digest)
            prev_hash, next_sequence = self._prev_hash, self._next_sequence
        res.checked += sound_rows
        if last is not None:
            res.last_sequence = last
        self._prev_hash, self._next_sequence = prev_hash, next_sequence
