"""Inter-annotator agreement and calibration statistics for the weekly human evaluation (no Django).

Cohen's kappa comes from statsmodels (``statsmodels.stats.inter_rater.cohens_kappa``) on the 5 × 5
contingency table of the two annotators' scores, **linear weighted** (Cicchetti-Allison, ``wt="linear"``)
for the ordinal 1-5 scales and unweighted for the yes/no purchase question; the table always spans
every category, so a pair that never used a score still gets the full scale's weights (the same as
scikit-learn's ``cohen_kappa_score(labels=[1..5], weights="linear")``, which a test checks).
Spearman's rank correlation is ``scipy.stats.spearmanr``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.inter_rater import cohens_kappa

SCALE = (1, 2, 3, 4, 5)
KAPPA_TARGET = 0.7  # seed 000 US-3.6: inter-annotator agreement (Cohen's kappa) >= 0.7


def contingency(first: list, second: list, labels: tuple) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)))
    for a, b in zip(first, second, strict=True):
        table[index[a], index[b]] += 1
    return table


def kappa(first: list, second: list, *, ordinal: bool) -> float | None:
    """Cohen's kappa of two raters' labels on the same items; None when it is undefined (no items,
    or both raters used a single identical label, so chance agreement is 1)."""
    if not first:
        return None
    labels = SCALE if ordinal else (False, True)
    table = contingency(first, second, labels)
    with np.errstate(divide="ignore", invalid="ignore"):
        if ordinal:
            value = cohens_kappa(table, wt="linear", return_results=False)
        else:
            value = cohens_kappa(table, return_results=False)
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


@dataclass(frozen=True)
class Correlation:
    rho: float | None
    p_value: float | None
    n: int


def spearman(xs: list[float], ys: list[float]) -> Correlation:
    """Spearman's rho of paired values (pairs with a missing value are dropped first)."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None and y is not None]
    n = len(pairs)
    if n < 3:
        return Correlation(None, None, n)
    x, y = zip(*pairs, strict=True)
    if len(set(x)) < 2 or len(set(y)) < 2:
        return Correlation(None, None, n)
    result = scipy_stats.spearmanr(x, y)
    rho, p = float(result.statistic), float(result.pvalue)
    if math.isnan(rho):
        return Correlation(None, None, n)
    return Correlation(rho, p, n)
