"""The BERTScore calibration (evaluation/bertscore.py) holds on the judged pairs it documents."""

import json

from evaluation import bertscore


def test_the_080_gate_separates_the_judged_pairs():
    pairs = [json.loads(x) for x in bertscore.JUDGED_PAIRS.read_text().splitlines()]
    scores = bertscore.score([p["candidate"] for p in pairs], [p["reference"] for p in pairs])
    good = [s for s, p in zip(scores, pairs, strict=True) if p["judgement"] == "acceptable"]
    bad = [s for s, p in zip(scores, pairs, strict=True) if p["judgement"] == "unacceptable"]
    passing = sum(s >= 0.80 for s in good) / len(good)
    failing = sum(s < 0.80 for s in bad) / len(bad)
    cal = bertscore.calibration()
    assert abs(passing - cal["at_gate_0_80"]["acceptable_passing"]) < 0.02
    assert abs(failing - cal["at_gate_0_80"]["unacceptable_failing"]) < 0.02
    assert (passing + failing) / 2 >= 0.9


def test_a_paraphrase_scores_above_an_unrelated_answer():
    ref = "Gift wrap costs $3.99 per item; you can add a free gift message and a gift receipt [1]."
    good, bad = bertscore.score(
        [
            "Yes! Gift wrapping is $3.99 per item, and a gift message and gift receipt are free [1].",
            "Berserk, Vol. 1: $14.99, in stock [1]",
        ],
        [ref, ref],
    )
    assert good >= 0.80 > bad
