"""Recompute the reference outputs of GrowthBook's gbstats for tests/experiments/test_stats_gbstats.py.

gbstats pins numpy < 2 and pandas < 2, which the project does not, so it runs in a virtualenv of its
own and its outputs are stored as JSON; the test compares experiments.stats with them. To refresh:

    python3 -m venv /tmp/gbvenv && /tmp/gbvenv/bin/pip install gbstats==0.8.0
    /tmp/gbvenv/bin/python tests/experiments/gbstats_reference.py > tests/experiments/data/gbstats_reference.json

The cases are a grid of rates and means (small to large samples, effects from none to large, both
directions, relative and absolute), plus the edge cases gbstats answers with its default output.
"""

import json
import random
import sys

import gbstats
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic
from gbstats.utils import check_srm


def statistic(arm):
    if arm["binary"]:
        return ProportionStatistic(n=arm["n"], sum=arm["sum"])
    return SampleMeanStatistic(n=arm["n"], sum=arm["sum"], sum_squares=arm["sum_squares"])


def result(test):
    r = test.compute_result()
    return {"effect": r.expected, "ci": list(r.ci), "p_value": r.p_value, "error": r.error_message}


def cases():
    rng = random.Random(2103)
    out = []
    for n in (20, 150, 500, 2_000, 20_000):
        for p in (0.05, 0.3, 0.6):
            for lift in (0.0, 0.05, 0.2, -0.15):
                for relative in (True, False):
                    a = {"n": n, "sum": float(round(n * p)), "binary": True}
                    b_n = n + rng.randint(-n // 10, n // 10)
                    b = {"n": b_n, "sum": float(min(b_n, round(b_n * p * (1 + lift)))), "binary": True}
                    a["sum_squares"], b["sum_squares"] = a["sum"], b["sum"]
                    out.append({"control": a, "treatment": b, "relative": relative})
    for n in (30, 400, 5_000):
        for mu, sd, lift in ((2.0, 1.0, 0.0), (2.0, 1.0, 0.1), (850.0, 300.0, -0.05), (0.012, 0.02, 0.3)):
            arms = []
            for m in (mu, mu * (1 + lift)):
                xs = [rng.gauss(m, sd) for _ in range(n)]
                arms.append({"n": n, "sum": sum(xs), "sum_squares": sum(x * x for x in xs), "binary": False})
            for relative in (True, False):
                out.append({"control": arms[0], "treatment": arms[1], "relative": relative})
    edge = [
        ({"n": 500, "sum": 3.0}, {"n": 500, "sum": 0.0}),  # zero treatment successes
        ({"n": 500, "sum": 0.0}, {"n": 500, "sum": 4.0}),  # zero control mean
        ({"n": 500, "sum": 500.0}, {"n": 500, "sum": 480.0}),  # control without variation
        ({"n": 1, "sum": 1.0}, {"n": 300, "sum": 30.0}),  # one unit in an arm
    ]
    for a, b in edge:
        for relative in (True, False):
            out.append(
                {
                    "control": {**a, "sum_squares": a["sum"], "binary": True},
                    "treatment": {**b, "sum_squares": b["sum"], "binary": True},
                    "relative": relative,
                }
            )
    return out


def main():
    rows = []
    for case in cases():
        for alpha in (0.05, 0.1):
            diff = "relative" if case["relative"] else "absolute"
            a, b = statistic(case["control"]), statistic(case["treatment"])
            seq = SequentialTwoSidedTTest(a, b, SequentialConfig(alpha=alpha, difference_type=diff))
            fixed = TwoSidedTTest(a, b, FrequentistConfig(alpha=alpha, difference_type=diff))
            rows.append({**case, "alpha": alpha, "tuning": 5000, "sequential": result(seq), "fixed": result(fixed)})
    srm = []
    for users, weights in (
        ([5000, 5000], [0.5, 0.5]),
        ([5100, 4900], [0.5, 0.5]),
        ([5300, 4700], [0.5, 0.5]),
        ([900, 100], [0.9, 0.1]),
        ([3400, 3300, 3300], [1 / 3, 1 / 3, 1 / 3]),
        ([3600, 3200, 3200], [0.34, 0.33, 0.33]),
        ([0, 0], [0.5, 0.5]),
    ):
        srm.append({"users": users, "weights": weights, "p_value": float(check_srm(users, weights))})
    version = getattr(gbstats, "__version__", "0.8.0")
    json.dump({"gbstats": version, "tests": rows, "srm": srm}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
