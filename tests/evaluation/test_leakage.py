"""The golden test part is held out (issue 18 item 1): no test query is a normalised duplicate or a
near-duplicate (char 4-gram Jaccard >= 0.8) of the intent training data, the injection training data
or the golden dev part; and the check finds a leak when one is planted."""

import json

import pytest
from django.conf import settings

from evaluation import leakage

ROOT = settings.BASE_DIR


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


GOLDEN = _jsonl(ROOT / "evaluation/data/golden_v1.jsonl")
TEST = [e["query"] for e in GOLDEN if e["split"] == "test"]
DEV = [e["query"] for e in GOLDEN if e["split"] == "dev"]
INTENTS = [r["text"] for r in _jsonl(ROOT / "chat/data/intents.jsonl")]
INJECTION = [r["text"] for r in _jsonl(ROOT / "guardrails/data/injection_train.jsonl")]


def test_every_golden_entry_is_in_one_part_and_each_part_covers_every_category():
    assert {e["split"] for e in GOLDEN} == {"dev", "test"}
    categories = {e["category"] for e in GOLDEN}
    for part in ("dev", "test"):
        assert {e["category"] for e in GOLDEN if e["split"] == part} == categories
    assert len(TEST) >= 250


@pytest.mark.parametrize(
    ("source", "texts"), [("intent training", INTENTS), ("injection training", INJECTION), ("golden dev", DEV)]
)
def test_no_golden_test_query_duplicates_or_nearly_duplicates(source, texts):
    found = leakage.leaks(TEST, [leakage.Corpus(texts, source)])
    assert not found, "\n".join(map(str, found[:20]))


def test_a_golden_test_query_planted_in_the_intent_training_data_is_found():
    planted = [*INTENTS, TEST[7], TEST[40].upper() + "!!", TEST[90][:-1] + "s?"]
    found = leakage.leaks(TEST, [leakage.Corpus(planted, "intent training")])
    assert {f.query for f in found} >= {TEST[7], TEST[40], TEST[90]}
    assert any(f.exact for f in found)  # the copy, and the one only case and punctuation changed


def test_near_duplicate_is_the_jaccard_of_character_4_grams():
    a, b = "how much is Berserk Vol. 1?", "How much is Berserk vol 1"
    assert leakage.normalise(a) == leakage.normalise(b)
    g1, g2 = leakage.grams("where is my order"), leakage.grams("where is my orders")
    assert leakage.jaccard(g1, g2) == pytest.approx(len(g1 & g2) / len(g1 | g2))
    corpus = leakage.Corpus(["where is my orders", "do you ship to Canada"], "t")
    assert [x.other for x in corpus.similar("where is my order")] == ["where is my orders"]
    assert corpus.similar("do you ship to Japan") == []


GENERIC = {"$", "mangaassist", "manga", "help"}


def _distinctive(element: str, references: list[str]) -> bool:
    """Not generic, and met by fewer than half of all references (so a wrong answer rarely meets it)."""
    alts = [a.strip().lower() for a in element.split(" | ")]
    if set(alts) <= GENERIC:
        return False
    return sum(any(a in r.lower() for a in alts) for r in references) < len(references) / 2


def test_every_golden_test_entry_names_an_element_only_a_correct_answer_contains():
    """Issue 18 item 6: "$" alone (123 entries) or "MangaAssist" (which the greeting always holds) or
    nothing (58) did not tell a right answer from a wrong one."""
    references = [e["reference"] for e in GOLDEN]
    weak = [
        (e["key"], e["required"])
        for e in GOLDEN
        if e["split"] == "test"
        and not e["expect_block"]
        and not any(_distinctive(r, references) for r in e["required"])
    ]
    assert not weak, weak[:20]


def test_a_recommendation_reference_does_not_recommend_the_series_the_shopper_already_read():
    for e in GOLDEN:
        if e["category"] == "recommendation" and e["tags"][:1] == ["series"]:
            assert e["tags"][1] not in e["required"][1].split(" | "), e["key"]
