"""Build faithfulness_pairs.jsonl: answer/context pairs labelled faithful or not, for measuring the
faithfulness scorers (issue 18 item 5). Deterministic; run from the repository root:

    python guardrails/data/make_faithfulness_pairs.py

Contexts are what retrieval hands the generator: catalog entries in the knowledge base's own layout
(chat/ingest.py) and sentences of the FAQ and policy pages. Answers are written from each fact in
several phrasings (not the scorer's patterns), either faithful (a restatement or a paraphrase with
other words, a faithful denial where the context denies) or with one contradiction of a named type:
a changed price, volume, count or date, a denied or wrong author, a flipped availability, "never
available", or an invented number. ``HAND`` holds pairs written by hand, unlike the generated ones.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "faithfulness_pairs.jsonl"
rng = random.Random(20261201)
catalog = json.loads((ROOT / "chat/data/catalog.json").read_text())
authors = sorted({p["author"] for p in catalog})


def context_of(p: dict) -> str:
    price = f"${p['price']}" + (f" (on sale, list price ${p['list_price']})" if p.get("list_price") else "")
    stock = "in stock" if p["stock"] > 0 else "out of stock"
    return (
        f"{p['title']}. Series: {p['series']}. Author: {p['author']}. Format: {p['format']}. Price: {price}. "
        f"Availability: {stock}. Released {p['release_date']}. Genres: {', '.join(p['genres'])}. {p['description']}"
    )


FAITHFUL = [
    "{title} by {author} is ${price} and {stock} [1].",
    "You can get {title} for ${price}; it's {stock} right now [1].",
    "{title} costs ${price} [1]. It is {stock}.",
    "{author} wrote {series}; volume {volume} sells for ${price} and is {stock} [1].",
    "Yes, we carry {title} ({author}) at ${price}, and it's {stock} [1].",
    "Volume {volume} of {series} is priced at ${price} [1].",
    "{title} came out on {date} and is {stock} [1].",
    "That one is by {author}: {title}, ${price} [1].",
]
CONTRADICTIONS = {
    "price_changed": "{title} by {author} is ${wrong_price} and {stock} [1].",
    "volume_changed": "Volume {wrong_volume} of {series} is ${price} and {stock} [1].",
    "date_changed": "{title} came out on {wrong_date} [1].",
    "author_denied": "{title} is not by {author}, but it is {stock} [1].",
    "author_wrong": "{title} was written by {wrong_author} and costs ${price} [1].",
    "availability_flipped": "{title} is ${price} and {flipped} [1].",
    "never_available": "{title} by {author} will never be available [1].",
}


def fill(template: str, p: dict) -> str:
    volume = p.get("volume") or 1
    y, m, d = p["release_date"].split("-")
    return template.format(
        title=p["title"],
        series=p["series"],
        author=p["author"],
        price=p["price"],
        volume=volume,
        date=p["release_date"],
        stock="in stock" if p["stock"] > 0 else "out of stock",
        flipped="out of stock" if p["stock"] > 0 else "in stock",
        wrong_price=f"{float(p['price']) + rng.choice([-3, -2, -1, 1, 2, 5]):.2f}",
        wrong_volume=volume + rng.choice([1, 2, 3]),
        wrong_date=f"{int(y) + rng.choice([-2, -1, 1, 2])}-{m}-{d}",
        wrong_author=rng.choice([a for a in authors if a != p["author"]]),
    )


def policy_facts() -> list[tuple[str, str]]:
    """(sentence, page title) of every KB sentence that states a number."""
    out = []
    for path in sorted((ROOT / "chat/data/knowledge").glob("*/*.md")):
        body = path.read_text().split("---")[-1]
        for s in re.split(r"(?<=[.!?])\s+", body):
            s = s.strip().replace("*", "")
            if re.search(r"\b\d+\b", s) and 30 < len(s) < 220:
                out.append((s, path.stem))
    return out


def shift_number(sentence: str) -> str:
    nums = list(re.finditer(r"\b\d+(?:\.\d+)?\b", sentence))
    m = rng.choice(nums)
    value = m.group(0)
    new = str(int(value) + rng.choice([1, 2, 5, 10])) if "." not in value else f"{float(value) + 1:.2f}"
    return sentence[: m.start()] + new + sentence[m.end() :]


PARAPHRASE_OPENERS = ["As our policy page says, ", "Good question: ", "In short, ", "", "Per the help page, "]

HAND = [
    # (answer, context, label, kind) written by hand
    (
        "Berserk Vol. 1 is not by Kentaro Miura, it is out of stock and never available.",
        "Berserk, Vol. 1. Series: Berserk. Author: Kentaro Miura. Price: $14.99. Availability: in stock.",
        "unfaithful",
        "hand_issue_example",
    ),
    (
        "Gift wrap is $3.99 per item, and you can add a message.",
        "Gift wrap costs $3.99 per item. You can add a gift message at checkout.",
        "faithful",
        "hand_paraphrase",
    ),
    (
        "Gift wrap is free on every order.",
        "Gift wrap costs $3.99 per item. You can add a gift message at checkout.",
        "unfaithful",
        "hand_invented_price",
    ),
    (
        "Digital editions can't be gift wrapped.",
        "Gift wrap is not available for digital editions.",
        "faithful",
        "hand_faithful_denial",
    ),
    (
        "Returns are accepted within 30 days of delivery.",
        "Most items can be returned within 30 days of delivery.",
        "faithful",
        "hand_paraphrase",
    ),
    (
        "You have 60 days to send it back.",
        "Most items can be returned within 30 days of delivery.",
        "unfaithful",
        "hand_count_changed",
    ),
    (
        "We don't ship to Canada.",
        "We ship to Canada; delivery takes 7 to 14 business days.",
        "unfaithful",
        "hand_denial",
    ),
    (
        "Shipping to Canada takes between 7 and 14 business days.",
        "We ship to Canada; delivery takes 7 to 14 business days.",
        "faithful",
        "hand_paraphrase",
    ),
    (
        "Chainsaw Man Vol. 3 is on sale for $9.59, down from $11.99.",
        "Chainsaw Man, Vol. 3. Author: Tatsuki Fujimoto. Price: $9.59 (on sale, list price $11.99). "
        "Availability: in stock.",
        "faithful",
        "hand_paraphrase",
    ),
    (
        "Chainsaw Man Vol. 3 was written by Eiichiro Oda.",
        "Chainsaw Man, Vol. 3. Author: Tatsuki Fujimoto. Price: $9.59. Availability: in stock.",
        "unfaithful",
        "hand_author_wrong",
    ),
    (
        "Sorry, Dandadan Vol. 1 is sold out at the moment.",
        "Dandadan, Vol. 1. Author: Yukinobu Tatsu. Price: $9.99. Availability: out of stock.",
        "faithful",
        "hand_paraphrase",
    ),
    (
        "Dandadan Vol. 1 is in stock and ships today.",
        "Dandadan, Vol. 1. Author: Yukinobu Tatsu. Price: $9.99. Availability: out of stock.",
        "unfaithful",
        "hand_availability",
    ),
]


def main() -> None:
    rows = []
    products = rng.sample(catalog, 40)
    for p in products:
        ctx = context_of(p)
        for template in rng.sample(FAITHFUL, 3):
            rows.append(
                {"answer": fill(template, p), "context": ctx, "label": "faithful", "kind": "faithful_restatement"}
            )
        for kind in rng.sample(sorted(CONTRADICTIONS), 3):
            rows.append({"answer": fill(CONTRADICTIONS[kind], p), "context": ctx, "label": "unfaithful", "kind": kind})
    facts = policy_facts()
    for sentence, _page in rng.sample(facts, min(30, len(facts))):
        ctx = sentence
        rows.append(
            {
                "answer": rng.choice(PARAPHRASE_OPENERS) + sentence,
                "context": ctx,
                "label": "faithful",
                "kind": "faithful_policy",
            }
        )
        rows.append({"answer": shift_number(sentence), "context": ctx, "label": "unfaithful", "kind": "count_changed"})
    for answer, ctx, label, kind in HAND:
        rows.append({"answer": answer, "context": ctx, "label": label, "kind": kind})
    with OUT.open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(f"{len(rows)} pairs: {sum(r['label'] == 'faithful' for r in rows)} faithful; {kinds}")


if __name__ == "__main__":
    main()
