"""Region codes experiments may target: ISO 3166-1 alpha-2, read from the IANA time zone database's
``iso3166.tab`` as the tzdata package ships it (no hand-kept list to go stale)."""

from __future__ import annotations

import importlib.resources


def _codes() -> frozenset[str]:
    text = importlib.resources.files("tzdata").joinpath("zoneinfo/iso3166.tab").read_text(encoding="utf-8")
    return frozenset(line.split("\t", 1)[0] for line in text.splitlines() if line and not line.startswith("#"))


REGION_CODES = _codes()
