"""experiments.stats against GrowthBook's gbstats 0.8.0: its own outputs, recomputed by
tests/experiments/gbstats_reference.py in a virtualenv of its own (gbstats pins numpy < 2), not our
formulas. 304 comparisons: rates and means, small to large samples, relative and absolute effects,
alpha 0.05 and 0.1, and the inputs gbstats refuses (its default output)."""

import json
import math
from pathlib import Path

import pytest

from experiments import stats

REFERENCE = json.loads((Path(__file__).parent / "data" / "gbstats_reference.json").read_text())


def _summary(arm: dict) -> stats.Summary:
    if arm["binary"]:
        return stats.Summary.from_proportion(int(arm["sum"]), arm["n"])
    return stats.Summary(arm["n"], arm["sum"], arm["sum_squares"])


def _close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("method", ["sequential", "fixed"])
def test_every_result_equals_gbstats_and_its_refusals_are_not_enough_information(method):
    compared = refused = 0
    for row in REFERENCE["tests"]:
        control, treatment = _summary(row["control"]), _summary(row["treatment"])
        if method == "sequential":
            ours = stats.sequential_two_sided(
                control, treatment, alpha=row["alpha"], tuning=row["tuning"], relative=row["relative"]
            )
        else:
            ours = stats.fixed_two_sided(control, treatment, alpha=row["alpha"], relative=row["relative"])
        theirs = row[method]
        if theirs["error"]:
            assert not ours.informative, (row, ours)
            assert ours.note.startswith("not enough information")
            assert not ours.significant(row["alpha"])
            refused += 1
            continue
        assert ours.informative, (row, ours)
        assert _close(ours.effect, theirs["effect"]), (row, ours)
        assert _close(ours.ci_low, theirs["ci"][0]), (row, ours)
        assert _close(ours.ci_high, theirs["ci"][1]), (row, ours)
        assert _close(ours.p_value, theirs["p_value"]), (row, ours.p_value, theirs["p_value"])
        compared += 1
    assert compared >= 280
    assert refused >= 8


def test_the_sequential_p_value_is_below_one_where_the_old_inversion_said_exactly_one():
    """At N = 100 and N* = 5000 the confidence-sequence inversion gave p = 1 for every |z| ≤ 5.1;
    gbstats' e-value p-value falls below 1 well before (the grid's n = 20 and 150 rows check its
    value)."""
    rows = [
        r
        for r in REFERENCE["tests"]
        if r["control"]["n"] <= 150 and not r["sequential"]["error"] and r["sequential"]["p_value"] < 1
    ]
    assert rows, "the reference grid has small-sample rows with p < 1"
    for r in rows:
        ours = stats.sequential_two_sided(_summary(r["control"]), _summary(r["treatment"]), alpha=r["alpha"])
        if r["relative"]:
            assert ours.p_value < 1


def test_a_rate_uses_the_variance_p_times_one_minus_p():
    s = stats.Summary.from_proportion(30, 100)
    assert s.variance == pytest.approx(0.3 * 0.7, abs=1e-15)  # not 0.21 · 100/99
    assert (s + stats.Summary.from_proportion(10, 50)).binary


def test_srm_equals_gbstats_check_srm():
    for row in REFERENCE["srm"]:
        check = stats.srm_check(row["users"], row["weights"])
        if sum(row["users"]) == 0:
            assert not check.informative
            assert not check.warning
            assert row["p_value"] == 1
            continue
        assert _close(stats.srm_p_value(row["users"], row["weights"]), row["p_value"]), row


def test_an_srm_check_with_a_zero_weight_arm_or_no_units_is_not_enough_information_not_nan():
    check = stats.srm_check([40, 10], [1.0, 0.0])
    assert check.informative is False
    assert check.warning is False
    assert check.note == "not enough information: arm 2 is planned at weight 0, so its share cannot be tested"
    assert stats.srm_p_value([40, 10], [1.0, 0.0]) == 1.0  # was NaN
    assert stats.srm_check([0, 0, 0], [1, 1, 1]).note == "not enough information: no units yet"
    with pytest.raises(ValueError, match="non-negative"):
        stats.srm_check([5, 5], [-1, 2])
