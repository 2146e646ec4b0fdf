"""Leakage between evaluation data and what built or tuned the system (issue 18 item 1).

A golden *test* query must not be a normalised duplicate or a near-duplicate of any text the models
were trained on (intent training, injection training) or of the golden *dev* part people tune on.
Near-duplicate: Jaccard similarity of the two texts' sets of character 4-grams of at least 0.8 (the
measure the MinHash/LSH deduplication of training corpora approximates, e.g. ``datasketch`` and
the near-duplicate filtering of Lee et al., "Deduplicating Training Data Makes Language Models
Better", ACL 2022); computed exactly here through an inverted index of 4-grams, so no pair is missed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

NEAR = 0.8
_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w ]+")


def normalise(text: str) -> str:
    """NFKC, lower case, punctuation dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


def grams(text: str, n: int = 4) -> frozenset[str]:
    t = normalise(text)
    if len(t) < n:
        return frozenset({t}) if t else frozenset()
    return frozenset(t[i : i + n] for i in range(len(t) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class Leak:
    query: str
    other: str
    source: str
    similarity: float

    @property
    def exact(self) -> bool:
        return normalise(self.query) == normalise(self.other)

    def __str__(self) -> str:
        kind = "duplicate" if self.exact else f"near-duplicate (Jaccard {self.similarity:.2f})"
        return f"{self.query!r} is a normalised {kind} of {self.source} {self.other!r}"


class Corpus:
    """Texts indexed by their 4-grams; ``similar(q)`` finds every text with Jaccard ≥ ``threshold``."""

    def __init__(self, texts: Iterable[str], source: str):
        self.source = source
        self.texts: list[str] = []
        self.sets: list[frozenset] = []
        self.exact: dict[str, int] = {}
        self.index: dict[str, list[int]] = defaultdict(list)
        for text in texts:
            i = len(self.texts)
            g = grams(text)
            self.texts.append(text)
            self.sets.append(g)
            self.exact.setdefault(normalise(text), i)
            for gram in g:
                self.index[gram].append(i)

    def similar(self, query: str, threshold: float = NEAR) -> list[Leak]:
        q = grams(query)
        found: dict[int, float] = {}
        hit = self.exact.get(normalise(query))
        if hit is not None:
            found[hit] = 1.0
        shared: dict[int, int] = defaultdict(int)
        for gram in q:
            for i in self.index.get(gram, ()):
                shared[i] += 1
        for i, common in shared.items():
            # Jaccard = |A∩B| / (|A| + |B| - |A∩B|): no set operation unless it can reach the threshold
            sim = common / (len(q) + len(self.sets[i]) - common)
            if sim >= threshold:
                found[i] = max(found.get(i, 0.0), sim)
        return [Leak(query, self.texts[i], self.source, s) for i, s in sorted(found.items(), key=lambda kv: -kv[1])]


def leaks(queries: Iterable[str], corpora: Iterable[Corpus], threshold: float = NEAR) -> list[Leak]:
    """Every (query, text) pair of a query and a corpus text that are duplicates or near-duplicates."""
    corpora = list(corpora)
    return [leak for q in queries for corpus in corpora for leak in corpus.similar(q, threshold)]
