"""Split the BERTScore judged pairs by the golden part they come from (issue 18 item 4).

``bertscore_judged_pairs.jsonl`` holds 300 candidate/reference pairs written with the first golden
set, each judged by a rule, not by a person: *acceptable* = the answer has the right intent and
every required fact; *unacceptable* = it answers another entry's question, says it does not know an
answer the sources hold, or refuses an in-scope question. Every pair now records:

- ``part``: the golden part of the entry whose reference it uses, and ``dev`` only when no text of a
  golden *test* entry is in it (an "answers another question" candidate that is a test entry's
  answer, or a reference a test entry shares, makes the pair ``test``); ``calibrate_bertscore``
  fits the gate on ``dev`` pairs only;
- ``judged_by``: ``rule`` for all of these (a person's judgement is an annotator's factual score on
  the Trends and calibration page, which re-derives the gate from them as they come in).

So that the dev part keeps both kinds, unacceptable dev pairs are topped up by the same rule: the
acceptable answer of one dev entry against the reference of a dev entry of another category
("answers another question"), seeded. Run from the checkout: ``python evaluation/data/make_judged_pairs.py``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAIRS = HERE / "bertscore_judged_pairs.jsonl"
GOLDEN = HERE / "golden_v1.jsonl"
_OTHER = re.compile(r"answers another question \(([\w-]+)\)")


def main(seed: int = 2026) -> None:
    golden = {}
    for line in GOLDEN.read_text().splitlines():
        row = json.loads(line)
        golden[row["key"]] = row
    pairs = [json.loads(line) for line in PAIRS.read_text().splitlines()]
    pairs = [p for p in pairs if not p.get("generated")]  # idempotent: drop the previous top-up
    # Some golden entries share a reference answer across the parts (order tracking, damaged items):
    # a pair carrying any test entry's reference is a test pair even when its own entry is dev.
    test_texts = {r["reference"] for r in golden.values() if r["split"] == "test" and r.get("reference")}
    for p in pairs:
        other = _OTHER.search(p["why"])
        parts = {golden[p["entry"]]["split"], *([golden[other.group(1)]["split"]] if other else [])}
        shared = p["reference"] in test_texts or p["candidate"] in test_texts
        p["part"] = "test" if "test" in parts or shared else "dev"
        p["judged_by"] = "rule"
    dev = [p for p in pairs if p["part"] == "dev"]
    good = [p for p in dev if p["judgement"] == "acceptable"]
    missing = len(good) - sum(p["judgement"] == "unacceptable" for p in dev)
    rng = random.Random(seed)
    refs = [
        (k, r)
        for k, r in sorted(golden.items())
        if r["split"] == "dev" and r.get("reference") and r["reference"] not in test_texts
    ]
    seen = {(p["candidate"], p["reference"]) for p in pairs}
    added = []
    while len(added) < missing:
        answer = rng.choice(good)
        key, ref = rng.choice(refs)
        if ref["category"] == golden[answer["entry"]]["category"] or (answer["candidate"], ref["reference"]) in seen:
            continue
        seen.add((answer["candidate"], ref["reference"]))
        added.append(
            {
                "entry": key,
                "part": "dev",
                "judgement": "unacceptable",
                "judged_by": "rule",
                "why": f"answers another question ({answer['entry']})",
                "generated": True,
                "candidate": answer["candidate"],
                "reference": ref["reference"],
            }
        )
    keys = ("entry", "part", "judgement", "judged_by", "why", "generated", "candidate", "reference")
    rows = [{k: p[k] for k in keys if k in p} for p in [*pairs, *added]]
    PAIRS.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    counts: dict = {}
    for r in rows:
        counts[(r["part"], r["judgement"])] = counts.get((r["part"], r["judgement"]), 0) + 1
    print({f"{a}/{b}": n for (a, b), n in sorted(counts.items())})


if __name__ == "__main__":
    main()
