"""Catalog facts the post-generation checks compare answers with: the ASINs that exist and their
prices. Read once per process and refreshed every ``TTL`` seconds, so the checks cost no query."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

TTL = 60.0

# Where the rows come from: (asin, title, price, list_price) tuples. The chat app, which owns the
# catalog and sits above guardrails, registers its reader at start-up (chat.apps), so guardrails
# imports nothing above it.
_source: Callable[[], Iterable[tuple]] | None = None


def source_register(read: Callable[[], Iterable[tuple]]) -> None:
    global _source
    _source = read
    reset()


@dataclass(frozen=True)
class CatalogFacts:
    asins: frozenset[str]
    prices: dict[str, frozenset[Decimal]]  # asin → {price, list price}
    titles: tuple[tuple[str, str], ...]  # (lower-cased title, asin), longest first


_lock = threading.Lock()
_cached: tuple[float, CatalogFacts] | None = None


def catalog_facts() -> CatalogFacts:
    global _cached
    now = time.monotonic()
    cached = _cached
    if cached is not None and now - cached[0] < TTL:
        return cached[1]
    with _lock:
        if _source is None:
            raise RuntimeError("no catalog source registered: the chat app registers one when Django starts")
        rows = list(_source())
        facts = CatalogFacts(
            asins=frozenset(r[0] for r in rows),
            prices={
                asin: frozenset(p for p in (price, list_price) if p is not None) for asin, _, price, list_price in rows
            },
            titles=tuple(sorted(((t.lower(), a) for a, t, _, _ in rows), key=lambda x: -len(x[0]))),
        )
        _cached = (now, facts)
        return facts


def reset() -> None:
    """Forget the cached facts (after a catalog import, and in tests)."""
    global _cached
    _cached = None
