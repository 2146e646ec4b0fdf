"""audit.chain: the canonical form and the verifier, without a database."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from audit import chain


def _entry(seq: int, prev: str, **over) -> dict:
    entry = {
        "sequence": seq,
        "timestamp": chain.format_timestamp(datetime(2026, 11, 23, 12, 0, seq, tzinfo=UTC)),
        "actor": "alice",
        "actor_user_id": 7,
        "action": "admin.change",
        "target_type": "chat.product",
        "target_id": str(seq),
        "before": {"price": "9.99"},
        "after": {"price": "8.99", "tags": ["sale"]},
        "reason": "",
        "ticket": "",
        "evidence": None,
        "prev_hash": prev,
    }
    entry.update(over)
    entry["hash"] = chain.entry_hash(entry)
    return entry


def _chain(n: int) -> list[dict]:
    out, prev = [], chain.GENESIS_HASH
    for seq in range(1, n + 1):
        e = _entry(seq, prev)
        out.append(e)
        prev = e["hash"]
    return out


def _verify(entries) -> chain.Verification:
    v = chain.ChainVerifier()
    for e in entries:
        v.feed(e["sequence"], chain.body_bytes(e), e["prev_hash"], e["hash"])
    return v.result


def test_the_canonical_body_ignores_key_order_and_whitespace():
    a = _entry(1, chain.GENESIS_HASH, after={"b": 1, "a": [1, 2]})
    b = _entry(1, chain.GENESIS_HASH, after={"a": [1, 2], "b": 1})
    assert chain.body_bytes(a) == chain.body_bytes(b)
    assert b" " not in chain.body_bytes(a).replace(b"Z", b"")  # compact


def test_timestamps_format_the_same_whatever_the_zone():
    utc = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    tokyo = utc.astimezone(timezone(timedelta(hours=9)))
    assert chain.format_timestamp(utc) == chain.format_timestamp(tokyo) == "2026-01-02T03:04:05.000000+00:00"
    assert chain.format_timestamp("2026-01-02 03:04:05") == "2026-01-02T03:04:05.000000+00:00"


def test_an_intact_chain_verifies():
    result = _verify(_chain(5))
    assert result.ok
    assert result.checked == 5
    assert result.last_sequence == 5


def test_an_altered_entry_is_named():
    entries = _chain(5)
    entries[2]["after"] = {"price": "0.01"}  # hash left as written
    result = _verify(entries)
    assert not result.ok
    assert result.first_break.sequence == 3
    assert "content altered" in result.first_break.problem


def test_a_rewritten_hash_breaks_the_next_link():
    entries = _chain(5)
    entries[2]["after"] = {"price": "0.01"}
    entries[2]["hash"] = chain.entry_hash(entries[2])  # the forger re-hashes the entry...
    result = _verify(entries)
    assert result.first_break.sequence == 4  # ...and the following entry no longer links to it
    assert "broken link" in result.first_break.problem


def test_a_missing_entry_is_a_gap():
    entries = _chain(5)
    del entries[1]
    result = _verify(entries)
    assert result.first_break.sequence == 3
    assert "gap" in result.first_break.problem
    assert "2" in result.first_break.problem


def test_feed_rows_agrees_with_feed_on_sound_and_broken_rows():
    import orjson

    entries = _chain(6)
    entries[4]["reason"] = "edited"

    def raw(e):
        j = lambda v: None if v is None else orjson.dumps(v).decode()  # noqa: E731
        return (
            e["sequence"],
            e["timestamp"],
            e["actor"],
            e["actor_user_id"],
            e["action"],
            e["target_type"],
            e["target_id"],
            j(e["before"]),
            j(e["after"]),
            e["reason"],
            e["ticket"],
            j(e["evidence"]),
            e["prev_hash"],
            e["hash"],
        )

    fast = chain.ChainVerifier()
    fast.feed_rows([raw(e) for e in entries], format_timestamp=str)
    slow = _verify(entries)
    assert fast.result.as_dict() == slow.as_dict()
    assert fast.result.first_break.sequence == 5
    assert fast.result.checked == 6


def test_numbers_are_stored_in_the_form_a_database_gives_back():
    value = {"big": 1e16, "neg_zero": -0.0, "price": Decimal("9.99"), "when": datetime(2026, 1, 1, tzinfo=UTC), 3: "x"}
    assert chain.normalise_json(value) == {
        "big": 10000000000000000,
        "neg_zero": 0.0,
        "price": "9.99",
        "when": "2026-01-01T00:00:00+00:00",
        "3": "x",
    }
