"""BERTScore on its own scale (evaluation/bertscore.py): the gate is fitted on dev judged pairs only
and holds on the held-out test pairs it never saw (issue 18 item 4)."""

import json

import pytest
from django.core.management import CommandError, call_command

from evaluation import bertscore, scoring
from evaluation.management.commands.calibrate_bertscore import at_gate


def _rows():
    return [json.loads(x) for x in bertscore.JUDGED_PAIRS.read_text().splitlines()]


def test_every_judged_pair_says_its_part_and_who_judged_it():
    rows = _rows()
    assert {r["part"] for r in rows} == {"dev", "test"}
    assert all(r["judged_by"] for r in rows)
    golden = {
        json.loads(x)["key"]: json.loads(x) for x in (bertscore.DATA / "golden_v1.jsonl").read_text().splitlines()
    }
    test_keys = {k for k, r in golden.items() if r["split"] == "test"}
    test_texts = {golden[k]["reference"] for k in test_keys}
    for r in rows:
        if r["part"] == "dev":  # no text of a golden test entry in a pair the gate is fitted on
            assert r["entry"] not in test_keys
            assert r["reference"] not in test_texts
            assert r["candidate"] not in test_texts
            assert not any(f"({k})" in r["why"] for k in test_keys), r["why"]


def test_tuning_reads_the_dev_pairs_only():
    with pytest.raises(bertscore.FrozenPairs):
        bertscore.judged_pairs("test")
    with pytest.raises(CommandError, match="frozen"):
        call_command("calibrate_bertscore", "--part", "test")
    assert {r["part"] for r in bertscore.judged_pairs("dev")} == {"dev"}


def test_the_calibrated_gate_separates_the_dev_pairs_as_stored():
    pairs = bertscore.judged_pairs("dev")
    scores = bertscore.score([p["candidate"] for p in pairs], [p["reference"] for p in pairs])
    cal = bertscore.calibration()
    got = at_gate(pairs, scores, cal["gate"])
    assert got["pairs"] == cal["at_gate"]["pairs"]
    assert abs(got["acceptable_passing"] - cal["at_gate"]["acceptable_passing"]) < 0.02
    assert abs(got["unacceptable_failing"] - cal["at_gate"]["unacceptable_failing"]) < 0.02


def test_the_gate_holds_on_the_held_out_test_pairs():
    pairs = bertscore.judged_pairs("test", tuning=False)
    scores = bertscore.score([p["candidate"] for p in pairs], [p["reference"] for p in pairs])
    got = at_gate(pairs, scores, bertscore.gate())
    assert got["pairs"]["acceptable"] >= 50
    assert got["pairs"]["unacceptable"] >= 50
    assert got["balanced_accuracy"] >= 0.85, got


def test_scores_are_rescaled_f1_on_the_gates_scale():
    cal = bertscore.calibration()
    assert cal["rescaled"] is True
    assert cal["metric"] == "F1"
    assert "k" not in cal
    assert 0.0 < bertscore.gate() < 0.8  # MiniLM's rescaled scale: not the seed's raw-F1 0.80
    assert scoring.DEFAULT_THRESHOLDS["bertscore_min"] == bertscore.gate()
    assert f"layer {cal['layer']}" in bertscore.scale()
    assert "rescaled" in bertscore.scale()
    same, unrelated = bertscore.score(
        ["Gift wrap costs $3.99 per item.", "Berserk, Vol. 1: $14.99, in stock [1]"],
        ["Gift wrap costs $3.99 per item.", "Standard shipping takes 3 to 5 business days."],
    )
    assert same == pytest.approx(1.0, abs=1e-3)
    assert unrelated < bertscore.gate()


def test_a_paraphrase_scores_above_the_gate_and_an_unrelated_answer_below():
    ref = "Gift wrap costs $3.99 per item; you can add a free gift message and a gift receipt [1]."
    good, bad = bertscore.score(
        [
            "Yes! Gift wrapping is $3.99 per item, and a gift message and gift receipt are free [1].",
            "Berserk, Vol. 1: $14.99, in stock [1]",
        ],
        [ref, ref],
    )
    assert good >= bertscore.gate() > bad
