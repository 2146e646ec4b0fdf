"""evaluation.agreement: Cohen's kappa and Spearman's rho on edge cases, against scipy."""

from __future__ import annotations

import pytest
from scipy import stats as scipy_stats

from evaluation import agreement


def test_kappa_helpers_handle_edge_cases():
    assert agreement.kappa([], [], ordinal=True) is None
    assert agreement.kappa([3, 3], [3, 3], ordinal=True) is None
    assert agreement.kappa([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], ordinal=True) == pytest.approx(1.0)
    assert agreement.spearman([1, 2], [1, 2]).rho is None
    xs, ys = [1, 2, 3, 4, 5, 2], [0.1, 0.3, 0.2, 0.9, 0.8, None]
    got = agreement.spearman(xs, ys)
    want = scipy_stats.spearmanr(xs[:5], ys[:5])
    assert got.n == 5
    assert got.rho == pytest.approx(want.statistic)
    assert got.p_value == pytest.approx(want.pvalue)
