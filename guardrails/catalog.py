"""Catalog facts the post-generation checks compare answers with: the ASINs that exist and their
prices. Read once per process and refreshed every ``TTL`` seconds, so the checks cost no query."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal

TTL = 60.0


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
        from chat.models import Product

        rows = list(Product.objects.values_list("asin", "title", "price", "list_price"))
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
