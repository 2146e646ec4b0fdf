"""experiments.stats against published reference values and against simulation.

References:
- Welch's test: statsmodels' ``ttest_ind(usevar="unequal")`` and ``CompareMeans.tconfint_diff``.
- Delta-method variance of a relative lift: GrowthBook's statistical details page
  (docs.growthbook.io/statistics/details), Var = σT²/(μC² nT) + σC² μT²/(μC⁴ nC).
- Lan-DeMets boundaries, 5 equally spaced looks, two-sided α = 0.05 (0.025 per side): R package
  ldbounds, ``bounds(1:5/5, iuse=c(1,1), alpha=c(0.025,0.025))`` gives 4.8769 3.3569 2.6803 2.2898 2.0310
  (O'Brien-Fleming type), and with ``iuse=c(2,2)`` 2.4380 2.4268 2.4101 2.3966 2.3859 (Pocock type); the
  same figures are in Jennison & Turnbull, "Group Sequential Methods" (2000), table 7.6 / section 7.2.
- SRM: Pearson's chi-square by hand, (100²/5100)·2 = 3.9216 on 1 df → p = 0.04767.
- Confidence sequence: the boundary of Waudby-Smith et al. (arXiv 2103.06476, Theorem 2.2) evaluated by
  hand at one point below, and the A/A simulation (false positives under continuous peeking).
"""

import math

import numpy as np
import pytest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from experiments.stats import (
    Summary,
    aa_false_positive_rates,
    cs_halfwidth,
    fixed_two_sided,
    lan_demets_bounds,
    sequential_two_sided,
    srm_p_value,
)


def test_summary_matches_numpy():
    rng = np.random.default_rng(1)
    xs = rng.gamma(2.0, 3.0, size=257)
    s = Summary.from_values(xs)
    assert s.n == 257
    assert s.mean == pytest.approx(xs.mean(), rel=1e-12)
    assert s.variance == pytest.approx(xs.var(ddof=1), rel=1e-9)
    p = Summary.from_proportion(30, 200)
    assert p.variance == pytest.approx(0.15 * 0.85, abs=1e-15)  # a rate: p(1 − p), as gbstats
    merged = Summary.from_values(xs[:100]) + Summary.from_values(xs[100:])
    assert merged.variance == pytest.approx(s.variance, rel=1e-9)
    with pytest.raises(ValueError, match="between 0 and n"):
        Summary.from_proportion(5, 4)


def test_fixed_test_is_welch_as_statsmodels_computes_it():
    rng = np.random.default_rng(2)
    a, b = rng.normal(10, 3, 180), rng.normal(10.9, 5, 240)
    result = fixed_two_sided(Summary.from_values(a), Summary.from_values(b), alpha=0.05, relative=False)
    t_stat, p, dof = ttest_ind(b, a, usevar="unequal")
    low, high = CompareMeans(DescrStatsW(b), DescrStatsW(a)).tconfint_diff(alpha=0.05, usevar="unequal")
    assert result.effect == pytest.approx(b.mean() - a.mean(), rel=1e-12)
    assert result.p_value == pytest.approx(p, rel=1e-9)
    assert (result.ci_low, result.ci_high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    assert result.effect / result.stddev == pytest.approx(t_stat, rel=1e-9)


def test_relative_effect_uses_the_delta_method():
    c, t = Summary.from_proportion(400, 4000), Summary.from_proportion(480, 4000)
    result = fixed_two_sided(c, t)
    mc, mt = 0.1, 0.12
    vc, vt = c.variance, t.variance
    expected = vt / (mc**2 * 4000) + vc * mt**2 / (mc**4 * 4000)
    assert result.effect == pytest.approx(0.2)
    assert result.stddev == pytest.approx(math.sqrt(expected), rel=1e-12)
    with pytest.raises(ValueError, match="control mean is 0"):
        from experiments.stats import _effect

        _effect(Summary.from_proportion(0, 10), t, True)
    assert fixed_two_sided(Summary.from_proportion(0, 10), t).p_value == 1.0  # uninformative, not a crash


def test_the_confidence_sequence_is_the_published_boundary_and_wider_than_the_fixed_interval():
    # hand evaluation of the boundary at N = 10,000, N* = 5,000, α = 0.05, per-unit variance 2
    rho2 = (-2 * math.log(0.05) + math.log(-2 * math.log(0.05) + 1)) / 5000
    by_hand = math.sqrt(2) * math.sqrt(
        2 * (10_000 * rho2 + 1) / (10_000**2 * rho2) * math.log(math.sqrt(10_000 * rho2 + 1) / 0.05)
    )
    assert cs_halfwidth(2.0, 10_000, 0.05, 5000) == pytest.approx(by_hand, rel=1e-12)
    fixed_width = 1.959964 * math.sqrt(2 / 10_000)
    assert 1.3 < by_hand / fixed_width < 1.8  # 0.0433 against 0.0277: the price of looking at any time

    c, t = Summary.from_proportion(3000, 5000), Summary.from_proportion(3150, 5000)
    seq, fix = sequential_two_sided(c, t), fixed_two_sided(c, t)
    assert seq.effect == fix.effect
    assert seq.ci_low < fix.ci_low
    assert seq.ci_high > fix.ci_high
    assert seq.p_value > fix.p_value
    # at the configured alpha the e-value p-value and the sequence agree: p < alpha exactly when the
    # sequence excludes 0 (both rest on the same mixture boundary with the same ρ)
    for alpha in (0.01, 0.05, 0.2):
        r = sequential_two_sided(c, t, alpha=alpha)
        assert (r.p_value < alpha) == (r.ci_low > 0 or r.ci_high < 0)


def test_a_real_lift_is_found_and_no_difference_is_not():
    rng = np.random.default_rng(5)
    c = Summary.from_values(rng.binomial(1, 0.60, 6000))
    t = Summary.from_values(rng.binomial(1, 0.66, 6000))
    assert sequential_two_sided(c, t).significant(0.05)
    same = Summary.from_values(rng.binomial(1, 0.60, 6000))
    assert not sequential_two_sided(c, same).significant(0.05)


def test_aa_simulation_with_200_looks_keeps_the_sequential_false_positive_rate_within_alpha(capsys):
    result = aa_false_positive_rates(sims=2000, looks=200, units_per_look=50, min_units=500, seed=2103)
    print(
        f"A/A, {result['sims']} experiments x {result['looks']} looks: sequential {result['sequential_fpr']:.2%}, "
        f"fixed (peeking) {result['fixed_fpr']:.2%}, "
        f"fixed at the last look only {result['fixed_fpr_last_look_only']:.2%}"
    )
    assert result["sequential_fpr"] <= 0.05
    assert result["fixed_fpr"] > 0.2  # peeking at a fixed-horizon test inflates it several-fold
    assert result["fixed_fpr_last_look_only"] == pytest.approx(0.05, abs=0.015)  # one look: as designed


@pytest.mark.parametrize(
    ("spending", "reference"),
    [
        ("obrien_fleming", [4.8769, 3.3569, 2.6803, 2.2898, 2.0310]),
        ("pocock", [2.4380, 2.4268, 2.4101, 2.3966, 2.3859]),
    ],
)
def test_lan_demets_bounds_match_ldbounds(spending, reference):
    bounds = lan_demets_bounds([0.2, 0.4, 0.6, 0.8, 1.0], alpha=0.05, spending=spending, sides=2)
    assert bounds == pytest.approx(reference, abs=2e-4)


def test_lan_demets_bounds_spend_alpha_in_simulation_and_reject_bad_input():
    looks = [0.25, 0.5, 0.75, 1.0]
    bounds = np.array(lan_demets_bounds(looks, alpha=0.05))
    assert lan_demets_bounds([1.0]) == pytest.approx([1.959964], abs=1e-5)
    rng = np.random.default_rng(11)
    increments = rng.normal(0, 1, size=(400_000, 4)) * np.sqrt(np.diff([0.0, *looks]))
    z = increments.cumsum(axis=1) / np.sqrt(looks)
    crossed = (np.abs(z) >= bounds).any(axis=1).mean()
    assert crossed == pytest.approx(0.05, abs=0.002)
    one_sided = np.array(lan_demets_bounds(looks, alpha=0.025, sides=1))
    assert (z >= one_sided).any(axis=1).mean() == pytest.approx(0.025, abs=0.0015)
    with pytest.raises(ValueError, match="increase strictly"):
        lan_demets_bounds([0.5, 0.5])
    with pytest.raises(ValueError, match="unknown spending"):
        lan_demets_bounds([1.0], spending="haybittle")


def test_srm_p_value():
    assert srm_p_value([5000, 5200], [50, 50]) == pytest.approx(0.04767, abs=1e-5)
    assert srm_p_value([9000, 1000], [90, 10]) == pytest.approx(1.0)
    assert srm_p_value([8000, 2000], [90, 10]) < 1e-6
    with pytest.raises(ValueError, match="one weight per arm"):
        srm_p_value([1, 2, 3], [1, 1])
