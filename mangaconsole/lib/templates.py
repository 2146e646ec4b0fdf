"""The template of a generated utterance: its text with titles and numbers masked (issue 18).

The intent and injection training sets are generated from templates, so a hold-out must hold out whole
templates: utterances that differ only in the title or the number share a key. Titles are the
catalog's series, their aliases, and near-misspellings of their words (difflib ratio at least 0.8).
Used by ``chat.intent`` (the intent hold-out), ``guardrails.injection`` (benign hold-out) and
``evaluation/data/split_golden.py``; it reads only the catalog file, so it sits at the ground.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from pathlib import Path

CATALOG = Path(__file__).resolve().parents[2] / "chat" / "data" / "catalog.json"

# Names the dataset uses for catalog series besides their English titles (romanised Japanese, short
# forms), for the template key below.
TITLE_ALIASES = (
    "shingeki no kyojin",
    "kimetsu no yaiba",
    "sousou no frieren",
    "kaguya-sama wa kokurasetai",
    "boku no hero academia",
    "hagane no renkinjutsushi",
    "sono bisque doll",
    "jujutsu kaisen 0",
    "hero academia",
    "haikyuu",
    "oshi no ko",
    "kaguya",
    "frieren",
    "nausicaa",
    "kimetsu",
    "kyojin",
    "shingeki",
    "kokurasetai",
    "yaiba",
    "aot",
    "mha",
    "jjk",
    "fma",
    "csm",
)
_TEMPLATE_NOISE = re.compile(r"[^\w<> ]+")


@lru_cache(maxsize=1)
def _title_lexicon() -> tuple[re.Pattern, tuple[str, ...]]:
    catalog = json.loads(CATALOG.read_text())
    titles = {row["series"].lower() for row in catalog} | set(TITLE_ALIASES)
    phrases = re.compile("|".join(re.escape(t) for t in sorted(titles, key=len, reverse=True)))
    words = tuple(sorted({w for t in titles for w in re.findall(r"[a-z]{5,}", t)}))
    return phrases, words


@lru_cache(maxsize=65536)
def _near_title_word(token: str) -> bool:
    return bool(difflib.get_close_matches(token, _title_lexicon()[1], n=1, cutoff=0.8))


def template_key(text: str) -> str:
    """The utterance with titles (catalog series, their aliases and near-misspellings of their words)
    and numbers masked: utterances generated from one template share a key, so a hold-out split by
    this key never tests on a template it trained on."""
    phrases = _title_lexicon()[0]
    masked = _TEMPLATE_NOISE.sub(" ", re.sub(r"\d+", " <n> ", phrases.sub(" <t> ", text.lower())))
    out: list[str] = []
    for token in masked.split():
        if len(token) >= 5 and token[0] != "<" and _near_title_word(token):
            token = "<t>"
        if not (out and token in ("<t>", "<n>") and out[-1] == token):
            out.append(token)
    return " ".join(out)
