"""Claim-level faithfulness (issue 18 item 5) against word overlap, on the labelled pairs of
guardrails/data/faithfulness_pairs.jsonl (make_faithfulness_pairs.py: 312 pairs, every contradiction
type, faithful restatements and paraphrases, and pairs written by hand)."""

import json
from collections import Counter

import pytest
from django.conf import settings

from guardrails import claims
from guardrails.checks import faithfulness

PAIRS = [
    json.loads(x) for x in (settings.BASE_DIR / "guardrails/data/faithfulness_pairs.jsonl").read_text().splitlines()
]
ISSUE_CONTEXT = (
    "Berserk, Vol. 1. Series: Berserk. Author: Kentaro Miura. Format: paperback. Price: $14.99. "
    "Availability: in stock. Released 2003-12-10. Genres: dark fantasy, seinen."
)
ISSUE_ANSWER = "Berserk Vol. 1 is not by Kentaro Miura, it is out of stock and never available"


def _precision_recall(flag) -> tuple[float, float]:
    tp = sum(1 for p in PAIRS if flag(p) and p["label"] == "unfaithful")
    fp = sum(1 for p in PAIRS if flag(p) and p["label"] == "faithful")
    fn = sum(1 for p in PAIRS if not flag(p) and p["label"] == "unfaithful")
    return (tp / (tp + fp) if tp + fp else 0.0), tp / (tp + fn)


def test_the_issue_example_fails_claim_level_faithfulness_where_word_overlap_passes_it():
    assert faithfulness(ISSUE_ANSWER, ISSUE_CONTEXT) >= 0.5  # word overlap: "faithful"
    report = claims.check(ISSUE_ANSWER, ISSUE_CONTEXT)
    assert report.score < 0.5
    assert {c.kind for c in report.failed} >= {"author", "availability"}


def test_the_labelled_set_covers_every_contradiction_type_and_faithful_paraphrases():
    kinds = Counter(p["kind"] for p in PAIRS)
    assert len(PAIRS) >= 300
    for kind in (
        "price_changed",
        "volume_changed",
        "date_changed",
        "count_changed",
        "author_denied",
        "author_wrong",
        "availability_flipped",
        "never_available",
        "faithful_restatement",
        "faithful_policy",
    ):
        assert kinds[kind] >= 15, kind
    assert sum(k.startswith("hand_") for k in kinds.elements()) >= 10


def test_claim_level_precision_and_recall_against_word_overlap():
    """Figures (README, "What our numbers mean"): claims precision 1.000, recall 0.974; word overlap
    below 0.5 precision 1.000, recall 0.109. Measured on the set the scorer was debugged on."""
    claim_p, claim_r = _precision_recall(lambda p: bool(claims.check(p["answer"], p["context"]).failed))
    overlap_p, overlap_r = _precision_recall(lambda p: (faithfulness(p["answer"], p["context"]) or 1.0) < 0.5)
    assert claim_p >= 0.95
    assert claim_r >= 0.95
    assert overlap_r < 0.2  # it cannot see a contradiction
    assert claim_r > overlap_r + 0.7


@pytest.mark.parametrize("pair", [p for p in PAIRS if p["kind"] in ("hand_paraphrase", "hand_faithful_denial")])
def test_faithful_paraphrases_written_by_hand_pass(pair):
    assert not claims.check(pair["answer"], pair["context"]).failed


def test_an_availability_claim_is_checked_against_the_product_it_names():
    context = (
        "Dandadan, Vol. 1. Author: Yukinobu Tatsu. Price: $9.99. Availability: in stock.\n"
        "Dandadan, Vol. 6. Author: Yukinobu Tatsu. Price: $9.99. Availability: out of stock."
    )
    assert not claims.check("Dandadan, Vol. 1 is $9.99 and in stock.", context).failed
    assert claims.check("Dandadan, Vol. 6 is in stock.", context).failed
    assert not claims.check("When the same edition is in stock we ship a replacement.", context).failed


def test_the_live_guard_blocks_the_contradiction_with_the_claims_it_failed_and_passes_the_faithful_answer(db):
    from types import SimpleNamespace

    from guardrails.checks import post_checks
    from guardrails.policy import default_policy

    hits = [SimpleNamespace(title="Berserk, Vol. 1", text=ISSUE_CONTEXT, source="catalog", key="catalog:B0BY2T94XQ")]
    bad = post_checks(ISSUE_ANSWER + ".", hits=hits, question="is Berserk Vol. 1 in stock?", policy=default_policy())
    faith = next(d for d in bad.decisions if d.check == "faithfulness")
    assert faith.verdict == "block"
    assert faith.detail["scorer"] == "claims"
    assert {f["kind"] for f in faith.detail["failed"]} >= {"author", "availability"}
    good = post_checks(
        "Berserk, Vol. 1 by Kentaro Miura is $14.99 and in stock [1].",
        hits=hits,
        question="is Berserk Vol. 1 in stock?",
        policy=default_policy(),
    )
    assert next(d for d in good.decisions if d.check == "faithfulness").verdict == "pass"


INDEPENDENT = [
    json.loads(x)
    for x in (settings.BASE_DIR / "guardrails/data/faithfulness_independent.jsonl").read_text().splitlines()
]


def _pr(pairs) -> tuple[float, float]:
    flagged = [(bool(claims.check(p["answer"], p["context"]).failed), p["label"] == "unfaithful") for p in pairs]
    tp = sum(f and bad for f, bad in flagged)
    fp = sum(f and not bad for f, bad in flagged)
    fn = sum(not f and bad for f, bad in flagged)
    return tp / (tp + fp), tp / (tp + fn)


def test_the_independent_set_is_apart_from_the_generated_one_and_split_in_two():
    generated = {(p["answer"], p["context"]) for p in PAIRS}
    assert not [p for p in INDEPENDENT if (p["answer"], p["context"]) in generated]
    assert {p["part"] for p in INDEPENDENT} == {"dev", "test"}
    assert len(INDEPENDENT) >= 150


def test_claim_level_figures_on_the_independent_set():
    """Written by someone who had not seen the scorer (181 pairs). Figures (README): before any
    change for it, test half precision 0.870, recall 0.364; after number words, co-authors, denial
    forms and negated availability were handled on the dev half (dev 1.000 / 0.773), test half
    0.912 / 0.564. The floors stop a regression; the gap to the generated set is the honest part."""
    dev_p, dev_r = _pr([p for p in INDEPENDENT if p["part"] == "dev"])
    test_p, test_r = _pr([p for p in INDEPENDENT if p["part"] == "test"])
    assert dev_p >= 0.95
    assert dev_r >= 0.70
    assert test_p >= 0.85
    assert test_r >= 0.5


@pytest.mark.parametrize(
    ("said", "digits"),
    [
        ("costs twelve ninety-nine", "costs 12.99"),
        ("is two hundred nineteen ninety-nine", "is 219.99"),
        ("within seven to ten business days", "within 7 to 10 business days"),
        ("released on the twenty-eighth of May, 2023", "released on 2023-05-28"),
        ("comes out in March 2027", "comes out in 2027-03"),
        ("one of the best, and the first arc", "one of the best, and the first arc"),
    ],
)
def test_number_words_that_state_a_fact_are_checked_as_numbers(said, digits):
    assert claims.spell_numbers(said) == digits


def test_denials_and_negated_availability_in_their_other_forms():
    context = ISSUE_CONTEXT
    assert claims.check("Berserk isn't a Kentaro Miura series.", context).failed
    assert claims.check("Berserk, Vol. 1 (no, Kentaro Miura didn't write it) is $14.99.", context).failed
    assert not claims.check("It isn't out of stock! Berserk, Vol. 1 is in stock at $14.99.", context).failed
    assert claims.check("Sorry, Berserk, Vol. 1 isn't in stock at the moment.", context).failed
    assert not claims.check("It's not a pre-order: Berserk, Vol. 1 is in stock now.", context).failed
