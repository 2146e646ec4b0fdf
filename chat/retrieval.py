"""Hybrid retrieval over the knowledge base: BM25 keywords + MiniLM embeddings, fused, reranked.

The index lives in process memory (vectors stored in the database, ~1k chunks here) and is
rebuilt when an ingest run finishes (checked at most every few seconds). Stages, each timed by the
caller as a span:

1. candidates: top-N by cosine similarity and top-N by BM25 (rank_bm25's Okapi BM25), merged by
   reciprocal-rank fusion (RRF, k=60);
2. rerank: a light, configurable scorer (the ``reranker`` component's config) over the fused
   candidates: cosine + normalised BM25 + an exact series/title match bonus + a source prior from
   the intent; a cross-encoder would slot in here when one can be loaded offline;
3. top-k with citations, or nothing when the best rerank score is under ``min_score`` (the
   no-context fallback: the responder then says it does not know instead of guessing, S17/S19).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from chat.embeddings import embed_query, from_bytes
from chat.models import IngestRun, KnowledgeChunk, Product

_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "any",
        "can",
        "do",
        "does",
        "for",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "the",
        "to",
        "what",
        "when",
        "where",
        "which",
        "with",
        "you",
        "your",
    ]
)

DEFAULT_RERANKER = {
    "w_cosine": 1.0,
    "w_bm25": 0.35,
    "w_match": 0.25,
    "w_source": 0.15,
    "min_score": 0.45,
    "candidates": 30,
    # catalog entity linking (chat.entities): the named series, its volume, its edition
    "w_series": 1.0,
    "w_volume": 0.5,
    "w_format": 0.1,
}
# Which sources an intent's answer usually comes from (the rerank's source prior).
INTENT_SOURCES = {
    "product_question": ("catalog",),
    "recommendation": ("catalog",),
    "promotion": ("catalog", "faq"),
    "faq": ("faq", "policy"),
    "return_request": ("policy", "faq"),
    "order_tracking": ("faq", "policy"),
    "escalation": ("faq",),
}


def tokenize(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOP]


@dataclass
class Hit:
    chunk_id: int
    key: str
    source: str
    title: str
    text: str
    score: float
    cosine: float
    bm25: float

    def citation(self) -> dict:
        return {
            "key": self.key,
            "title": self.title,
            "source": self.source,
            "chunk_id": self.chunk_id,
            "score": round(self.score, 3),
        }


@dataclass
class Index:
    generation: int
    ids: list[int]
    keys: list[str]
    sources: list[str]
    titles: list[str]
    texts: list[str]
    title_tokens: list[frozenset]
    matrix: np.ndarray
    bm25: object
    # per row, for catalog chunks: the product's series, volume and format (None for FAQ and policy)
    series: list[str | None] = field(default_factory=list)
    volumes: list[int | None] = field(default_factory=list)
    formats: list[str | None] = field(default_factory=list)
    rows_of_series: dict[str, list[int]] = field(default_factory=dict)
    built_at: float = field(default_factory=time.monotonic)


_lock = threading.Lock()
_index: Index | None = None
_checked_at = 0.0
REFRESH_CHECK_SECONDS = 5.0


def _generation(embedder_version: str) -> int:
    last = IngestRun.objects.filter(embedder_version=embedder_version).exclude(finished_at=None).order_by("-id")
    return last.values_list("id", flat=True).first() or 0


def _build(embedder_version: str, generation: int) -> Index:
    from rank_bm25 import BM25Okapi

    rows = list(
        KnowledgeChunk.objects.filter(stale=False, embedder_version=embedder_version)
        .order_by("id")
        .values_list("id", "document__key", "source", "title", "text", "embedding")
    )
    ids = [r[0] for r in rows]
    matrix = np.vstack([from_bytes(r[5]) for r in rows]) if rows else np.zeros((0, 384), dtype=np.float32)
    corpus = [tokenize(f"{r[3]} {r[4]}") for r in rows]
    products = {a: (s, v, f) for a, s, v, f in Product.objects.values_list("asin", "series", "volume", "format")}
    facts = [
        products.get(r[1].removeprefix("catalog:"), (None, None, None)) if r[2] == "catalog" else (None,) * 3
        for r in rows
    ]
    rows_of_series: dict[str, list[int]] = {}
    for i, (series, _, _) in enumerate(facts):
        if series is not None:
            rows_of_series.setdefault(series, []).append(i)
    return Index(
        generation=generation,
        ids=ids,
        keys=[r[1] for r in rows],
        sources=[r[2] for r in rows],
        titles=[r[3] for r in rows],
        texts=[r[4] for r in rows],
        title_tokens=[frozenset(tokenize(r[3])) for r in rows],
        matrix=matrix,
        bm25=BM25Okapi(corpus) if corpus else None,
        series=[f[0] for f in facts],
        volumes=[f[1] for f in facts],
        formats=[f[2] for f in facts],
        rows_of_series=rows_of_series,
    )


def get_index(embedder_version: str) -> Index:
    """The in-process index for ``embedder_version``, rebuilt after an ingest run finished."""
    global _index, _checked_at
    now = time.monotonic()
    if _index is not None and now - _checked_at < REFRESH_CHECK_SECONDS:
        return _index
    generation = _generation(embedder_version)
    with _lock:
        _checked_at = now
        if _index is None or _index.generation != generation:
            _index = _build(embedder_version, generation)
    return _index


def reset_index() -> None:
    global _index, _checked_at
    with _lock:
        _index, _checked_at = None, 0.0


def candidates(
    index: Index, query: str, query_vector: np.ndarray, n: int, *, series: tuple[str, ...] = ()
) -> dict[int, tuple[float, float, float]]:
    """{row: (rrf, cosine, bm25_normalised)} for the fused top-N of both retrievers, plus every row of
    the ``series`` the message names (so "the first volume of Frieren" can reach Vol. 1 even when
    the embedding ranks fourteen other volumes above it)."""
    if not index.ids:
        return {}
    cosine = index.matrix @ query_vector
    dense_top = np.argsort(-cosine)[:n]
    tokens = tokenize(query)
    if tokens and index.bm25 is not None:
        bm25 = np.asarray(index.bm25.get_scores(tokens), dtype=np.float32)
        top = float(bm25.max()) or 1.0
        bm25_norm = bm25 / top
        keyword_top = [i for i in np.argsort(-bm25)[:n] if bm25[i] > 0]
    else:
        bm25_norm = np.zeros(len(index.ids), dtype=np.float32)
        keyword_top = []
    fused: dict[int, float] = {}
    for ranking in (list(dense_top), keyword_top):
        for rank, row in enumerate(ranking):
            fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (60 + rank + 1)
    for name in series:
        for row in index.rows_of_series.get(name, ()):
            fused.setdefault(row, 0.0)
    return {row: (rrf, float(cosine[row]), float(bm25_norm[row])) for row, rrf in fused.items()}


def rerank(index: Index, query: str, cands: dict, *, intent: str | None, config: dict, entities=None) -> list[Hit]:
    """Scores the candidates. ``entities`` (chat.entities.Entities, strong links only): rows of a
    named series gain ``w_series``, of the named volume ``w_volume`` more, of the named edition
    ``w_format``."""
    query_tokens = frozenset(tokenize(query))
    preferred = INTENT_SOURCES.get(intent or "", ())
    named = frozenset(entities.series) if entities is not None else frozenset()
    volume = entities.volume if entities is not None else None
    fmt = entities.format if entities is not None else None
    hits = []
    for row, (_rrf, cos, bm) in cands.items():
        title_tokens = index.title_tokens[row]
        match = len(query_tokens & title_tokens) / len(title_tokens) if title_tokens else 0.0
        source_bonus = 1.0 if index.sources[row] in preferred else 0.0
        score = (
            config["w_cosine"] * cos
            + config["w_bm25"] * bm
            + config["w_match"] * match
            + config["w_source"] * source_bonus
        )
        if named and index.series and index.series[row] in named:
            score += config["w_series"]
            if volume is not None and index.volumes[row] == volume:
                score += config["w_volume"]
            if fmt is not None and index.formats[row] == fmt:
                score += config["w_format"]
        hits.append(
            Hit(
                index.ids[row], index.keys[row], index.sources[row], index.titles[row], index.texts[row], score, cos, bm
            )
        )
    hits.sort(key=lambda h: h.score, reverse=True)
    return hits


_LIKE = re.compile(
    r"\b(?:similar to|something like|anything like|series like|manga like|books like|like|such as|other than|"
    r"besides|apart from|except)\s+(?:the\s+)?(?P<name>[a-z0-9][\w' :&.-]{1,60}?)\s*(?:[?!.,;]|\bbut\b|\bplease\b|$)",
    re.IGNORECASE,
)


_SERIES_END = re.compile(r",? (?:vol\.|(?:volume|season|part|box set|deluxe)\b).*$", re.IGNORECASE)


def series_of(title: str) -> str:
    """A catalog title's series: "Attack on Titan, Vol. 3" → "attack on titan"."""
    return _SERIES_END.sub("", title).strip().lower()


def named_for_contrast(query: str) -> tuple[str, ...]:
    """What a recommendation request asks to go beyond: "similar to Attack on Titan" →
    ("attack on titan",). Its hits are not recommendations."""
    return tuple(m["name"].strip().lower() for m in _LIKE.finditer(query) if len(m["name"].strip()) >= 3)


def retrieve(
    query: str,
    *,
    embedder_version: str,
    intent: str | None = None,
    k: int = 3,
    config: dict | None = None,
    timings: dict | None = None,
    query_vector=None,
    exclude_titles: tuple[str, ...] = (),
    distinct_series: bool = False,
    entities=None,
) -> list[Hit]:
    """Top-k hits (one per document) for ``query``, or [] when nothing is relevant enough.

    ``exclude_titles``: lower-case title prefixes to leave out ("something similar to Attack on
    Titan" wants other series than the one it names). ``distinct_series``: one volume per series
    (recommendations: three series, not three volumes of one).

    ``entities``: the catalog entities the message names (chat.entities); their rows join the
    candidates and gain the series, volume and edition bonuses.

    ``query_vector`` skips embedding when the caller already has it (batched embedding).
    ``timings`` (if given) receives embed_ms, retrieve_ms and rerank_ms for the trace spans.
    """
    cfg = {**DEFAULT_RERANKER, **(config or {})}
    t0 = time.perf_counter()
    vector = embed_query(query) if query_vector is None else query_vector
    t1 = time.perf_counter()
    index = get_index(embedder_version)
    named = tuple(entities.series) if entities is not None else ()
    cands = candidates(index, query, vector, int(cfg["candidates"]), series=named)
    t2 = time.perf_counter()
    ranked = rerank(index, query, cands, intent=intent, config=cfg, entities=entities)
    named_ids = {index.ids[row] for name in named for row in index.rows_of_series.get(name, ())}
    seen, top = set(), []
    for hit in ranked:
        if hit.key in seen or (exclude_titles and hit.title.lower().startswith(exclude_titles)):
            continue
        series = series_of(hit.title) if distinct_series and hit.source == "catalog" else None
        if series is not None and series in seen:
            continue
        seen.update({hit.key, series} - {None})
        top.append(hit)
        if len(top) == k:
            break
    if named and not any(index.series and h.chunk_id in named_ids for h in top):
        # a named series always has a seat: "csm manga price" read as a FAQ still cites Chainsaw Man
        best = next((h for h in ranked if h.chunk_id in named_ids and h.key not in {t.key for t in top}), None)
        if best is not None:
            top = (top[: k - 1] + [best]) if len(top) >= k else [*top, best]
    if top and max(h.score for h in top) < cfg["min_score"]:
        top = []
    t3 = time.perf_counter()
    if timings is not None:
        timings.update(
            embed_ms=(t1 - t0) * 1000,
            retrieve_ms=(t2 - t1) * 1000,
            rerank_ms=(t3 - t2) * 1000,
            candidates=len(cands),
            best_score=ranked[0].score if ranked else None,
        )
    return top
