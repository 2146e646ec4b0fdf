"""Split the golden dataset into a dev part (tune on it) and a frozen test part (the gate), and hold
the test part out of the intent training data (issue 18 item 1). Deterministic; run from the
repository root after make_golden.py, and again whenever the training data changes:

    python evaluation/data/split_golden.py

- Entries that share a template (``chat.intent.template_key``: titles and numbers masked) or whose
  queries are near-duplicates of each other (``evaluation.leakage``, char 4-gram Jaccard >= 0.8)
  form one group; a group goes to one part whole, so no test query resembles a dev query.
- Per category, groups go to dev (about 40% of the category's entries) in a seeded order; the rest
  is test. An entry that resembles an injection training message goes to dev.
- Intent training utterances that duplicate or nearly duplicate a golden test query are removed
  from chat/data/intents.jsonl (they were paraphrases of golden questions).
- Every entry that is not an attack names at least one element only a correct answer contains
  (issue 18 item 6): a recommendation must name another series of the genre (not the one the shopper
  already read, and the reference says so), a greeting greets, thanks get a "you're welcome", an
  off-topic refusal says it helps with manga only; "$" or "MangaAssist" alone no longer count.
  A required element "A | B" is met by either.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from chat.intent import template_key  # noqa: E402  (the repository on the path first)
from evaluation.leakage import NEAR, Corpus, normalise  # noqa: E402

GOLDEN = ROOT / "evaluation/data/golden_v1.jsonl"
INTENTS = ROOT / "chat/data/intents.jsonl"
INJECTION = ROOT / "guardrails/data/injection_train.jsonl"
DEV_SHARE = 0.4
SEED = "golden-split-2026-12"


GREETINGS = {"hi", "hello there", "good morning!", "yo", "hello, how are you?", "hi mangaassist"}
THANKS = {"thanks, that's all", "thank you so much"}
HELLO = (
    "Hello! I'm MangaAssist. I can help you find manga, check prices and stock, and answer questions about "
    "orders, returns and shipping. What are you looking for?"
)


def _series_by_genre(catalog) -> dict[str, set[str]]:
    out = defaultdict(set)
    for p in catalog:
        for g in p["genres"]:
            out[g].add(p["series"])
    return out


def _related(a: str, b: str) -> bool:
    return a.lower() in b.lower() or b.lower() in a.lower()  # "Berserk" and "Berserk Deluxe Edition"


def strengthen(entry: dict, catalog) -> dict:
    """Requirements only a correct answer meets (see the module docstring)."""
    if entry["expect_block"]:
        return entry
    e = dict(entry)
    q = e["query"].lower().replace(" :)", "").strip()
    by_genre = _series_by_genre(catalog)
    if e["category"] == "chitchat":
        if q in THANKS:
            e["reference"] = "You're welcome! Enjoy your manga, and come back any time."
            e["required"] = ["welcome | glad | any time | anytime | enjoy"]
        elif q == "what can you do?":
            e["reference"] = HELLO
            e["required"] = ["price", "order"]
        elif q == "hey, who are you?":
            e["reference"] = HELLO
            e["required"] = ["I'm MangaAssist | I am MangaAssist | my name is MangaAssist"]
        elif q in GREETINGS:
            e["reference"] = HELLO
            e["required"] = ["Hello | Hi! | Hi, | Hey | Good morning | Welcome"]
    elif e["category"] == "edge_case" and not e["required"]:
        e["required"] = ["only help with manga | can't help with that | cannot help with that"]
    elif e["category"] == "edge_case" and e["required"] == ["$"]:
        price = re.search(r"\$\d+(?:\.\d\d)?", e["reference"])
        e["required"] = [price.group(0)] if price else e["required"]
    elif e["category"] == "recommendation" and e["tags"][:1] == ["series"]:
        seed = e["tags"][1]
        genres = sorted({g for p in catalog if p["series"] == seed for g in p["genres"]})
        others = sorted({s for g in genres for s in by_genre[g] if not _related(s, seed)})
        if not others:  # no other series of its genres in the catalog: any other series is a recommendation
            others = sorted({p["series"] for p in catalog if not _related(p["series"], seed)})
        if others:
            pick = others[0]
            first = min((p for p in catalog if p["series"] == pick), key=lambda p: (p.get("volume") or 0, p["title"]))
            e["reference"] = (
                f"If you enjoyed {seed}, try {pick}, another {genres[0]} series: {first['title']} is "
                f"${first['price']} [1]."
            )
            e["required"] = ["$", " | ".join(others)]
    elif e["category"] == "recommendation" and e["tags"][:1] == ["genre"]:
        series = sorted(by_genre.get(e["tags"][1], ()))
        if series:
            e["required"] = ["$", " | ".join(series)]
    return e


def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def groups(entries: list[dict]) -> list[list[int]]:
    parent = list(range(len(entries)))

    def union(a, b):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_template = defaultdict(list)
    for i, e in enumerate(entries):
        by_template[(e["category"], template_key(e["query"]))].append(i)
    for members in by_template.values():
        for j in members[1:]:
            union(members[0], j)
    corpus = Corpus((e["query"] for e in entries), "golden")
    for i, e in enumerate(entries):
        for leak in corpus.similar(e["query"], NEAR):
            j = corpus.texts.index(leak.other)
            union(i, j)
    out = defaultdict(list)
    for i in range(len(entries)):
        out[_find(parent, i)].append(i)
    return list(out.values())


def main() -> None:
    catalog = json.loads((ROOT / "chat/data/catalog.json").read_text())
    entries = [strengthen(json.loads(line), catalog) for line in GOLDEN.read_text().splitlines()]
    injection = Corpus((json.loads(x)["text"] for x in INJECTION.read_text().splitlines() if x.strip()), "injection")
    forced_dev = {i for i, e in enumerate(entries) if injection.similar(e["query"])}
    split = {}
    by_category = defaultdict(list)
    for g in groups(entries):
        by_category[entries[g[0]]["category"]].append(g)
    for _category, gs in sorted(by_category.items()):
        total = sum(len(g) for g in gs)
        gs.sort(key=lambda g: hashlib.sha256(f"{SEED}:{min(entries[i]['key'] for i in g)}".encode()).hexdigest())
        dev = 0
        for g in gs:
            to_dev = any(i in forced_dev for i in g) or dev + len(g) <= round(DEV_SHARE * total)
            for i in g:
                split[i] = "dev" if to_dev else "test"
            dev += len(g) if to_dev else 0
    for i, e in enumerate(entries):
        e["split"] = split[i]
    GOLDEN.write_text("".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries))

    test_queries = Corpus((e["query"] for e in entries if e["split"] == "test"), "golden test")
    kept, dropped = [], []
    for line in INTENTS.read_text().splitlines():
        if not line.strip():
            continue
        text = json.loads(line)["text"]
        (dropped if test_queries.similar(text) or normalise(text) == "" else kept).append(line)
    INTENTS.write_text("".join(line + "\n" for line in kept))
    counts = defaultdict(lambda: {"dev": 0, "test": 0})
    for e in entries:
        counts[e["category"]][e["split"]] += 1
    for category, c in sorted(counts.items()):
        print(f"{category:<17} dev {c['dev']:>3}  test {c['test']:>3}")
    print(
        f"{sum(c['dev'] for c in counts.values())} dev, {sum(c['test'] for c in counts.values())} test; "
        f"{len(forced_dev)} sent to dev for resembling injection training; "
        f"{len(dropped)} intent training utterances removed for resembling a golden test query"
    )


if __name__ == "__main__":
    main()
