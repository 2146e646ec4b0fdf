"""evaluation.annotation.selectors: agreement per dimension, disagreements for adjudication, and the
suggested gate from calibration."""

from __future__ import annotations

import random

import pytest
from sklearn.metrics import cohen_kappa_score

from evaluation.annotation import rubric
from evaluation.annotation import selectors as sel
from evaluation.annotation import services as svc
from tests.factories import SCORES, batch_make, score_pairs, traces_make


def test_kappa_per_dimension_equals_scikit_learn_on_the_same_pairs(db, annotators):
    traces_make({"faq": 40, "recommendation": 40})
    batch = batch_make(size=80, overlap=0.5)
    a, b, _ = annotators
    first, second = score_pairs(batch, a, b, random.Random(7))
    assert len(first) == 40
    result = sel.batch_agreement(batch)
    assert [(p["a"], p["b"], p["n"]) for p in result["pairs"]] == [("ann0", "ann1", 40)]
    for d in rubric.SCALES:
        expected = cohen_kappa_score(
            [int(x[d]) for x in first], [int(x[d]) for x in second], labels=[1, 2, 3, 4, 5], weights="linear"
        )
        assert result["pairs"][0]["kappa"][d] == pytest.approx(expected, abs=1e-12)
        assert result["overall"][d]["kappa"] == pytest.approx(expected, abs=1e-12)
        assert result["overall"][d]["below"] == (expected < 0.7)
    expected = cohen_kappa_score([x["purchase"] for x in first], [x["purchase"] for x in second])
    assert result["overall"]["purchase"]["kappa"] == pytest.approx(expected, abs=1e-12)


def test_low_agreement_is_flagged_and_wide_disagreements_are_listed_for_adjudication(db, annotators, lead):
    traces_make({"faq": 20})
    batch = batch_make(size=20, overlap=1.0)
    a, b, _ = annotators
    rng = random.Random(3)
    for _ in range(20):
        ta = svc.task_next(a)
        svc.task_submit(a, ta.pk, SCORES)
        tb = svc.task_next(b)
        # b agrees on everything except tone, which b scores at random
        svc.task_submit(b, tb.pk, SCORES | {"tone": str(rng.randint(1, 5))})
    result = sel.batch_agreement(batch)
    assert result["overall"]["tone"]["below"]
    [row_a, row_b] = sel.batch_annotators(batch)
    assert (row_a["annotator"], row_a["scored"], row_a["means"]["tone"]) == ("ann0", 20, 5)
    assert row_b["scored"] == 20
    assert row_b["means"]["factual"] == 4
    [trend] = sel.agreement_by_batch()
    assert trend["overall"]["tone"]["kappa"] == result["overall"]["tone"]["kappa"]
    assert result["overall"]["factual"]["kappa"] is None  # both always said 4: kappa undefined, not 1
    rows = sel.batch_disagreements(batch)
    wide = [r for r in rows if "tone" in r["dims"]]
    assert wide
    assert all(abs(r["first"].tone - r["second"].tone) >= 2 for r in wide)
    assert wide[0]["suggested"]["factual"] == 4
    item = wide[0]["item"]
    svc.item_adjudicate(item=item, data=SCORES | {"tone": "2", "comment": "too casual"}, actor=lead)
    item.refresh_from_db()
    assert item.adjudicated["tone"] == 2
    assert item.adjudicated_by == "lead"
    row = next(r for r in sel.batch_items_scored(batch) if r["item"].pk == item.pk)
    assert row["final"]["tone"] == 2  # adjudication wins over the mean


def test_the_suggested_gate_separates_what_annotators_accepted():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "bertscore": [0.95, 0.9, 0.85, 0.72, 0.7, 0.5, 0.4, 0.88, None],
            "factual": [5, 4, 5, 4, 2, 1, 2, 1, 5],
        }
    )
    got = sel.threshold_suggestion(frame)
    # accept at >= 0.72: 4 of 4 acceptable pass, 3 of 4 unacceptable fail (0.88 was scored 1)
    assert got["threshold"] == 0.72
    assert got["balanced_accuracy"] == 0.875
    assert (got["acceptable"], got["unacceptable"]) == (4, 4)
    assert sel.threshold_suggestion(frame[frame["factual"] >= 4]) is None
