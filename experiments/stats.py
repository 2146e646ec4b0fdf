"""Statistics for A/B experiments: pure functions, no Django (seed 000 US-2.3, US-8.5; seed 002 S30).

- ``Summary``: sufficient statistics (n, sum, sum of squares) of one metric in one arm; any metric,
  proportions included, reduces to these, so an analysis is a few aggregate queries, never a row scan.
- ``sequential_two_sided``: the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy
  and Ramdas, "Time-uniform central limit theory and asymptotic confidence sequences" (arXiv
  2103.06476), as GrowthBook's gbstats applies it to A/B tests (its ``SequentialTwoSidedTTest``, tuning
  parameter N* = 5000 by default). The interval is valid at every sample size at once, so it may be
  looked at after every event. The p-value is gbstats' always-valid one: the reciprocal of the
  mixture e-value (Waudby-Smith et al., eq. 155) with ρ set by the configured alpha, capped at 1.
- Rates (``Summary.from_proportion``, ``binary=True``) use the variance p(1 − p) and other metrics the
  sample variance, as gbstats' ``ProportionStatistic`` and ``SampleMeanStatistic`` do.
- Not enough information: an arm with at most one unit, an arm whose metric has no variation yet
  (0 of 500, or every unit the same value), or a zero control mean for a relative effect gives a
  result with ``informative=False`` and a note saying which, never a verdict (gbstats returns its
  default output for the same cases). ``significant()`` is False on it, so nothing stops, promotes
  or flags harm on it.
- ``fixed_two_sided``: Welch's unequal-variance t test, the fixed-horizon comparison (valid for one look).
- Relative effects ((treatment - control) / control) get their variance by the delta method, as gbstats
  and Kohavi et al. ("Trustworthy Online Controlled Experiments", ch. 18) do.
- ``lan_demets_bounds``: group-sequential z boundaries for planned looks from the Lan-DeMets alpha-spending
  functions (O'Brien-Fleming or Pocock type), computed by the Armitage-McPherson-Rowe recursive
  integration on a grid (Jennison & Turnbull, "Group Sequential Methods", ch. 19).
- ``srm_p_value``: Pearson's chi-square test of the observed split against the configured weights
  (sample-ratio mismatch; Fabijan et al., KDD 2019, warn at p < 0.001); ``srm_check`` says when the
  check cannot be made (no units yet, an arm planned at weight 0).
- Checked against gbstats 0.8.0's own outputs (tests/experiments/data/gbstats_reference.json, made by
  tests/experiments/gbstats_reference.py in a separate virtualenv), not against these formulas.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats


@dataclass(frozen=True)
class Summary:
    """n, Σx and Σx² of one metric in one arm; ``binary`` for a 0/1 metric (a rate)."""

    n: int
    sum: float
    sum_squares: float
    binary: bool = False

    @classmethod
    def from_proportion(cls, successes: int, n: int) -> Summary:
        if not 0 <= successes <= n:
            raise ValueError(f"successes must be between 0 and n ({successes} of {n})")
        return cls(n, float(successes), float(successes), binary=True)  # x ∈ {0, 1}: x² = x

    @classmethod
    def from_values(cls, values: Iterable[float]) -> Summary:
        xs = np.asarray(list(values), dtype=float)
        return cls(int(xs.size), float(xs.sum()), float((xs * xs).sum()))

    def __add__(self, other: Summary) -> Summary:
        return Summary(
            self.n + other.n, self.sum + other.sum, self.sum_squares + other.sum_squares, self.binary and other.binary
        )

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """A rate's p(1 − p); otherwise the sample variance (n − 1 in the denominator). 0 below two units."""
        if self.n < 2:
            return 0.0
        if self.binary:
            p = self.mean
            return max(p * (1 - p), 0.0)
        return max((self.sum_squares - self.sum * self.sum / self.n) / (self.n - 1), 0.0)


@dataclass(frozen=True)
class TestResult:
    effect: float
    ci_low: float
    ci_high: float
    stddev: float
    p_value: float
    relative: bool
    method: str
    informative: bool = True
    note: str = ""  # why there is not enough information, when informative is False

    def significant(self, alpha: float) -> bool:
        return self.informative and self.p_value < alpha

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def effect_variance(mc, vc, nc, mt, vt, nt, relative: bool):
    """(effect, variance of the effect estimate) from each arm's mean, variance and n; works on
    floats and on numpy arrays alike (the A/A simulation uses arrays)."""
    if not relative:
        return mt - mc, vt / nt + vc / nc
    effect = (mt - mc) / mc
    # delta method for the ratio of two independent means
    return effect, vt / (mc * mc * nt) + vc * mt * mt / (mc**4 * nc)


def _effect(control: Summary, treatment: Summary, relative: bool) -> tuple[float, float]:
    if relative and control.mean == 0:
        raise ValueError("the control mean is 0: a relative effect is undefined (use relative=False)")
    return effect_variance(
        control.mean, control.variance, control.n, treatment.mean, treatment.variance, treatment.n, relative
    )


def _uninformative(relative: bool, method: str, note: str) -> TestResult:
    return TestResult(0.0, -math.inf, math.inf, math.inf, 1.0, relative, method, informative=False, note=note)


def not_enough_information(control: Summary, treatment: Summary, relative: bool) -> str:
    """Why these two arms cannot be compared yet ("" when they can): gbstats' checks before a test
    (``BASELINE_VARIATION_ZERO``, ``ZERO_NEGATIVE_VARIANCE``), plus at least two units per arm."""
    if control.n < 2 or treatment.n < 2:
        return "not enough information: an arm has fewer than two units"
    if relative and control.mean == 0:
        return "not enough information: the control's mean is 0, so a relative change is undefined"
    for arm, s in (("control", control), ("treatment", treatment)):
        if s.variance <= 0:
            return (
                f"not enough information: the {arm}'s metric has not varied yet "
                f"(all {s.n} units have the value {s.mean:g})"
            )
    return ""


def fixed_two_sided(control: Summary, treatment: Summary, *, alpha: float = 0.05, relative: bool = True) -> TestResult:
    """Welch's two-sided t test (Welch-Satterthwaite degrees of freedom); one look only."""
    note = not_enough_information(control, treatment, relative)
    if note:
        return _uninformative(relative, "fixed", note)
    effect, variance = _effect(control, treatment, relative)
    se = math.sqrt(variance)
    a = treatment.variance / treatment.n
    b = control.variance / control.n
    dof = (a + b) ** 2 / (a * a / (treatment.n - 1) + b * b / (control.n - 1))
    t_stat = effect / se
    p = 2 * stats.t.sf(abs(t_stat), dof)
    width = stats.t.ppf(1 - alpha / 2, dof) * se
    return TestResult(effect, effect - width, effect + width, se, float(min(p, 1.0)), relative, "fixed")


def _rho2(alpha: float, tuning: float) -> float:
    """ρ² of the normal mixture, tightest near n = ``tuning`` (Waudby-Smith et al., eq. 161)."""
    log_a = math.log(alpha)
    return (-2 * log_a + math.log(-2 * log_a + 1)) / tuning


def sequential_p_value(effect: float, variance: float, n: float, alpha: float, tuning: float) -> float:
    """The always-valid p-value: 1 / the mixture e-value (Waudby-Smith et al., eq. 155, as gbstats
    writes it), capped at 1. ``variance`` is the variance of the effect estimate, ``n`` both arms' units."""
    rho2 = _rho2(alpha, tuning)
    st2 = effect * effect * n / variance
    tr2p1 = n * rho2 + 1
    log_e = rho2 * st2 / (2 * tr2p1) - 0.5 * math.log(tr2p1)
    return float(min(1.0, math.exp(-log_e)))


def cs_halfwidth(s2, n, alpha: float, tuning: float):
    """Half-width of the two-sided asymptotic confidence sequence at total sample size ``n`` for a
    per-unit variance ``s2`` (Waudby-Smith et al. 2021, the normal-mixture boundary, with ρ chosen so
    the sequence is tightest near n = ``tuning``). Floats or numpy arrays."""
    rho2 = _rho2(alpha, tuning)
    nr = n * rho2
    return np.sqrt(s2) * np.sqrt(2 * (nr + 1) / (n * n * rho2) * np.log(np.sqrt(nr + 1) / alpha))


def sequential_two_sided(
    control: Summary,
    treatment: Summary,
    *,
    alpha: float = 0.05,
    tuning: float = 5000,
    relative: bool = True,
) -> TestResult:
    """Always-valid two-sided comparison: the confidence sequence at this sample size, and the
    always-valid p-value 1 / e-value (capped at 1), both with ρ set by ``alpha`` and ``tuning``."""
    note = not_enough_information(control, treatment, relative)
    if note:
        return _uninformative(relative, "sequential", note)
    effect, variance = _effect(control, treatment, relative)
    n = control.n + treatment.n
    s2 = variance * n  # the per-unit variance the boundary scales
    width = float(cs_halfwidth(s2, n, alpha, tuning))
    p = sequential_p_value(effect, variance, n, alpha, tuning)
    return TestResult(effect, effect - width, effect + width, math.sqrt(variance), p, relative, "sequential")


# ------------------------------------------------------------------------- group sequential
def _spend(t: float, alpha_side: float, spending: str) -> float:
    """Cumulative alpha spent (one side) at information fraction ``t``."""
    if t <= 0:
        return 0.0
    if spending == "obrien_fleming":
        return 2 * stats.norm.sf(stats.norm.isf(alpha_side / 2) / math.sqrt(t))
    if spending == "pocock":
        return alpha_side * math.log(1 + (math.e - 1) * min(t, 1.0))
    raise ValueError(f"unknown spending function {spending!r}: use 'obrien_fleming' or 'pocock'")


def lan_demets_bounds(
    information_fractions: Sequence[float],
    alpha: float = 0.05,
    spending: str = "obrien_fleming",
    sides: int = 2,
    *,
    grid: int = 4001,
) -> list[float]:
    """z boundaries for looks at ``information_fractions`` (increasing, last ≤ 1) spending ``alpha``
    in total (split evenly between the two sides when ``sides=2``)."""
    ts = [float(t) for t in information_fractions]
    if not ts or any(t <= 0 or t > 1 for t in ts) or any(b <= a for a, b in zip(ts, ts[1:], strict=False)):
        raise ValueError("information fractions must increase strictly within (0, 1]")
    if sides not in (1, 2):
        raise ValueError("sides is 1 or 2")
    alpha_side = alpha / sides
    bounds: list[float] = []
    xs = weights = None  # the sub-density of the score S_k on the continuation region
    prev_t, spent = 0.0, 0.0
    for t in ts:
        target = _spend(t, alpha_side, spending) - spent  # one side's share at this look
        spent += target
        if xs is None:
            b = stats.norm.isf(target)  # first look: Z_1 is standard normal
            scale = math.sqrt(t)
        else:
            sd = math.sqrt(t - prev_t)

            def exit_prob(z, xs=xs, weights=weights, sd=sd, t=t):
                c = z * math.sqrt(t)
                return float(np.sum(weights * stats.norm.sf((c - xs) / sd)))

            if exit_prob(0.0) <= target:
                b = 0.0
            else:
                b = optimize.brentq(lambda z, goal=target: exit_prob(z) - goal, 0.0, 40.0, xtol=1e-10)
            scale = sd
        bounds.append(float(b))
        # density on the continuation region |S| < b √t (one-sided: S < b √t)
        c = b * math.sqrt(t)
        new_xs = np.linspace(-c if sides == 2 else -c - 12 * math.sqrt(t), c, grid)
        step = new_xs[1] - new_xs[0]
        simpson = np.ones(grid)
        simpson[1:-1:2], simpson[2:-1:2] = 4, 2
        simpson *= step / 3
        if xs is None:
            dens = stats.norm.pdf(new_xs, scale=scale)
        else:
            dens = (weights[None, :] * stats.norm.pdf((new_xs[:, None] - xs[None, :]) / scale) / scale).sum(axis=1)
        xs, weights = new_xs, dens * simpson
        prev_t = t
    return bounds


def aa_false_positive_rates(
    *,
    sims: int = 1000,
    looks: int = 200,
    units_per_look: int = 50,
    rate: float = 0.1,
    alpha: float = 0.05,
    tuning: float = 5000,
    seed: int = 2103,
    min_units: int = 0,
    relative: bool = True,
) -> dict:
    """A/A experiments (both arms the same Bernoulli ``rate``) looked at ``looks`` times each: the
    share of experiments the sequential test and the fixed Welch test ever call significant."""
    rng = np.random.default_rng(seed)
    successes = rng.binomial(units_per_look, rate, size=(sims, looks, 2)).cumsum(axis=1).astype(float)
    n = units_per_look * np.arange(1, looks + 1, dtype=float)[None, :]
    mean = successes / n[..., None]
    var = mean * (1 - mean)  # p(1 − p), as Summary.variance for a rate
    mc, mt, vc, vt = mean[..., 0], mean[..., 1], var[..., 0], var[..., 1]
    ok = (mc > 0) & (vc > 0) & (vt > 0) & (n >= min_units)
    mc_safe = np.where(ok, mc, 1.0)
    effect, variance = effect_variance(mc_safe, vc, n, mt, vt, n, relative)
    variance = np.where(ok & (variance > 0), variance, np.inf)
    sequential = ok & (np.abs(effect) > cs_halfwidth(variance * 2 * n, 2 * n, alpha, tuning))
    a, b = vt / n, vc / n
    with np.errstate(divide="ignore", invalid="ignore"):
        dof = (a + b) ** 2 / (a * a / (n - 1) + b * b / (n - 1))
    crit = stats.t.ppf(1 - alpha / 2, np.where(np.isfinite(dof), dof, 1.0))
    fixed = ok & (np.abs(effect) / np.sqrt(variance) > crit)
    return {
        "sims": sims,
        "looks": looks,
        "units_per_arm_at_end": units_per_look * looks,
        "alpha": alpha,
        "sequential_fpr": float(sequential.any(axis=1).mean()),
        "fixed_fpr": float(fixed.any(axis=1).mean()),
        "fixed_fpr_last_look_only": float(fixed[:, -1].mean()),
    }


@dataclass(frozen=True)
class SrmCheck:
    p_value: float
    informative: bool = True
    note: str = ""

    @property
    def warning(self) -> bool:
        return self.informative and self.p_value < SRM_WARN_BELOW


SRM_WARN_BELOW = 0.001  # Fabijan et al.


def srm_check(observed_counts: Sequence[int], expected_weights: Sequence[float]) -> SrmCheck:
    """Pearson's chi-square of the observed units per arm against the configured split; not enough
    information (p 1, no warning, a note) with no units yet or an arm planned at weight 0 (its
    expected count is 0, so the statistic is undefined; gbstats skips such an arm)."""
    observed = np.asarray(observed_counts, dtype=float)
    weights = np.asarray(expected_weights, dtype=float)
    if observed.shape != weights.shape or observed.size < 2:
        raise ValueError("one observed count and one weight per arm, at least two arms")
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("weights are non-negative and at least one is positive")
    total = observed.sum()
    if total == 0:
        return SrmCheck(1.0, False, "not enough information: no units yet")
    if (weights == 0).any():
        arms = ", ".join(str(i + 1) for i in np.flatnonzero(weights == 0))
        return SrmCheck(
            1.0, False, f"not enough information: arm {arms} is planned at weight 0, so its share cannot be tested"
        )
    expected = total * weights / weights.sum()
    return SrmCheck(float(stats.chisquare(observed, expected).pvalue))


def srm_p_value(observed_counts: Sequence[int], expected_weights: Sequence[float]) -> float:
    """Pearson chi-square p-value of the observed units per arm against the configured split (1.0 when
    ``srm_check`` finds not enough information)."""
    return srm_check(observed_counts, expected_weights).p_value
