"""Catalog entity linking, end to end (issue 19 item 1): each phrasing goes through a whole turn on the
production release (pre-guardrails, gazetteer, intent, retrieval, answer), and the answer's
citations are checked: does it cite the named series, and the named volume first?

    manage.py eval_entities                      # the hand-written phrasings, every series ≥ 5 ways
    manage.py eval_entities --set entity_frozen.tsv --show-misses

The sets live in tests/chat/data (series <TAB> volume <TAB> kind <TAB> message; series NONE for a
look-alike that should link nothing). Nothing here tunes anything: the gazetteer is chat/entities.py.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat.models import Product
from chat.retrieval import reset_index
from chat.turn import SessionState, run_turn

SETS = Path(settings.BASE_DIR) / "tests" / "chat" / "data"


def family(series: str, catalog: set[str]) -> set[str]:
    """The catalog series a shopper means by ``series``: "Berserk" takes in "Berserk Deluxe Edition",
    "Demon Slayer: Kimetsu no Yaiba" its box set "Demon Slayer"."""
    return {s for s in catalog if s.startswith(series) or series.startswith(s)} | {series}


def read_set(path: Path) -> list[tuple[str, int | None, str, str]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CommandError(f"{path}: {exc}") from exc
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            raise CommandError(f"{path}:{lineno}: expected 4 tab-separated columns, found {len(parts)}")
        series, volume, kind, text = parts
        try:
            rows.append((series, int(volume) if volume else None, kind, text))
        except ValueError as exc:
            raise CommandError(f"{path}:{lineno}: volume {volume!r} is not a number") from exc
    return rows


class Command(BaseCommand):
    help = "Whole turns for entity phrasings: the share whose answer cites the named series, and Vol. N first."

    def add_arguments(self, parser):
        parser.add_argument("--set", default="entity_phrasings.tsv", help="a file in tests/chat/data, or a path")
        parser.add_argument("--show-misses", action="store_true")

    def handle(self, *args, **opts):
        path = Path(opts["set"])
        path = path if path.exists() else SETS / opts["set"]
        rows = read_set(path)
        series_of_asin = dict(Product.objects.values_list("asin", "series"))
        if not series_of_asin:
            raise CommandError("the catalog is empty: run manage.py seed_demo and manage.py kb_ingest first")
        catalog = set(series_of_asin.values())
        volume_of_asin = dict(Product.objects.values_list("asin", "volume"))
        existing = defaultdict(set)
        for asin, series in series_of_asin.items():
            existing[series].add(volume_of_asin[asin])
        reset_index()
        run_turn(SessionState(uuid.uuid4(), None, 10_000), "hello", record=False)  # load the models first

        counts: Counter = Counter()
        by_kind: dict[str, Counter] = defaultdict(Counter)
        by_series: dict[str, Counter] = defaultdict(Counter)
        misses, latencies = [], []
        for series, volume, kind, text in rows:
            t0 = time.perf_counter()
            result = run_turn(SessionState(uuid.uuid4(), None, 10_000), text, record=False)
            latencies.append((time.perf_counter() - t0) * 1000)
            cited = [c["key"].removeprefix("catalog:") for c in result.payload["citations"]]
            cited_series = [series_of_asin.get(a) for a in cited]
            intent = result.turn.intent
            if series == "NONE":
                counts["negatives"] += 1
                linked = result.turn.entities is not None
                counts["negatives_linked"] += linked
                if linked:
                    misses.append(("NONE", kind, text, intent, cited_series))
                continue
            ok = bool(family(series, catalog) & set(cited_series))
            want_first = volume is not None and volume in existing[series]
            first_ok = not want_first or (
                bool(cited) and cited_series[0] in family(series, catalog) and volume_of_asin.get(cited[0]) == volume
            )
            counts["named"] += 1
            counts["cites_series"] += ok
            counts["volume_asked"] += want_first
            counts["volume_first"] += want_first and first_ok
            counts["refused_as_off_topic"] += intent in {"out_of_scope", "chitchat"}
            by_kind[kind]["n"] += 1
            by_kind[kind]["ok"] += ok and first_ok
            by_series[series]["n"] += 1
            by_series[series]["ok"] += ok and first_ok
            if not (ok and first_ok):
                misses.append((series, kind, text, intent, cited_series))

        named = counts["named"] or 1
        q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
        self.stdout.write(
            f"{path.name}: {len(rows)} phrasings, {len(by_series)} series, whole turns on the production release"
        )
        for kind, c in sorted(by_kind.items()):
            self.stdout.write(f"  {kind:<9} {c['ok']}/{c['n']}")
        weakest = sorted(by_series.items(), key=lambda kv: kv[1]["ok"] / kv[1]["n"])[:5]
        self.stdout.write("  weakest series: " + ", ".join(f"{s} {c['ok']}/{c['n']}" for s, c in weakest))
        figures = {
            "set": path.name,
            "named": counts["named"],
            "cites_series": round(counts["cites_series"] / named, 4),
            "volume_first": round(counts["volume_first"] / (counts["volume_asked"] or 1), 4),
            "volume_asked": counts["volume_asked"],
            "answered_as_off_topic_or_chitchat": counts["refused_as_off_topic"],
            "series_all_cited": sum(c["ok"] == c["n"] for c in by_series.values()),
            "series": len(by_series),
            "negatives": counts["negatives"],
            "negatives_linked": counts["negatives_linked"],
            "turn_ms_p50": round(q[49], 1),
            "turn_ms_p95": round(q[94], 1),
        }
        self.stdout.write(
            f"cites the series: {figures['cites_series']:.1%}; Vol. N first: {figures['volume_first']:.1%} "
            f"of {counts['volume_asked']}; off-topic/chitchat: {counts['refused_as_off_topic']}; "
            f"look-alikes linked: {counts['negatives_linked']}/{counts['negatives']}"
        )
        if opts["show_misses"]:
            for miss in misses:
                self.stdout.write(f"  MISS {miss}")
        self.stdout.write(json.dumps(figures))
