"""Reading an experiment: per-arm Summaries of every metric from one GROUP BY query, the
sequential test of each arm against the control, the SRM check, and the decision (US-2.3, US-8.5).

Each metric is a value per unit (session), from the session's running totals (SessionStat, kept as
turns, thumbs and events are written), then n, Σv and Σv² per arm, computed in the database:

- rates (thumbs up, thumbs down, escalation, resolution, conversion): 1 if the session has one, else 0;
- CSAT: the session's mean score, over sessions that gave one;
- latency and response length: the session's mean over its turns; cost: the session's total.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.db import connection
from django.utils import timezone

from experiments import stats
from experiments.models import HIGHER_IS_WORSE, Experiment, Exposure, Metric

# Each metric's per-unit value over a session's totals (experiments.models.SessionStat); the unit counts
# only where the value is not NULL (CSAT: sessions that rated; latency, length, cost: sessions with turns).
_VALUE = {
    Metric.THUMBS_UP: "CASE WHEN s.thumbs_up > 0 THEN 1.0 ELSE 0.0 END",
    Metric.THUMBS_DOWN: "CASE WHEN s.thumbs_down > 0 THEN 1.0 ELSE 0.0 END",
    Metric.ESCALATION: "CASE WHEN s.escalations > 0 THEN 1.0 ELSE 0.0 END",
    Metric.RESOLUTION: "CASE WHEN s.resolutions > 0 THEN 1.0 ELSE 0.0 END",
    Metric.CONVERSION: "CASE WHEN s.conversions > 0 THEN 1.0 ELSE 0.0 END",
    Metric.CSAT: "s.csat_sum / NULLIF(s.csat_n, 0)",
    Metric.LATENCY: "s.latency_sum / NULLIF(s.turns, 0)",
    Metric.RESPONSE_LENGTH: "s.length_sum / NULLIF(s.turns, 0)",
    Metric.COST: "CASE WHEN s.turns > 0 THEN s.cost_sum END",
}
_ORDER = list(_VALUE)
# 0/1 per session: a rate, whose variance is p(1 − p) (stats.Summary binary)
BINARY = {Metric.THUMBS_UP, Metric.THUMBS_DOWN, Metric.ESCALATION, Metric.RESOLUTION, Metric.CONVERSION}
_SELECT = ", ".join(f"COUNT({v}), SUM({v}), SUM(({v}) * ({v}))" for v in _VALUE.values())
_FROM = "FROM experiments_exposure e LEFT JOIN experiments_sessionstat s ON s.session_id = e.unit_id"


def _rows_to_summaries(rows, offset: int) -> dict[str, dict]:
    out: dict[str, dict] = {m: {} for m in _ORDER}
    for row in rows:
        vid = row[0]
        for i, metric in enumerate(_ORDER):
            n, total, squares = row[offset + 3 * i : offset + 3 * i + 3]
            out[metric][vid] = stats.Summary(int(n or 0), float(total or 0), float(squares or 0), metric in BINARY)
    return out


def all_summaries(experiment_id: int, until=None) -> dict[str, dict[int, stats.Summary]]:
    """{metric: {variant id: Summary}} for every metric, from one join of the exposures with the
    per-session totals (one pass; a hash join in PostgreSQL)."""
    params: list = [experiment_id]
    window = ""
    if until is not None:
        window = " AND e.at < %s"
        params.append(until)
    sql = f"SELECT e.variant_id, {_SELECT} {_FROM} WHERE e.experiment_id = %s{window} GROUP BY e.variant_id"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _rows_to_summaries(cursor.fetchall(), 1)


def metric_summaries(experiment_id: int, metric: str, until=None) -> dict[int, stats.Summary]:
    return all_summaries(experiment_id, until)[metric]


def bucketed_summaries(experiment_id: int, start, end, points: int) -> list[dict[str, dict[int, stats.Summary]]]:
    """Cumulative {metric: {variant: Summary}} at ``points`` evenly spaced moments in (start, end], from
    one query grouped by time bucket."""
    width = max((end - start).total_seconds() / points, 1e-6)
    if connection.vendor == "postgresql":
        bucket = "FLOOR(EXTRACT(EPOCH FROM (e.at - %s)) / %s)"
    else:
        bucket = "CAST((julianday(e.at) - julianday(%s)) * 86400.0 / %s AS INTEGER)"
    sql = (
        f"SELECT e.variant_id, {bucket} AS b, {_SELECT} {_FROM} "
        f"WHERE e.experiment_id = %s AND e.at < %s GROUP BY e.variant_id, b"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, width, experiment_id, end])
        rows = cursor.fetchall()
    per_bucket: dict[int, list] = {}
    for row in rows:
        per_bucket.setdefault(min(max(int(row[1] or 0), 0), points - 1), []).append((row[0], *row[2:]))
    cumulative: dict[str, dict[int, list[float]]] = {m: {} for m in _ORDER}
    out = []
    for b in range(points):
        for metric, summaries in _rows_to_summaries(per_bucket.get(b, []), 1).items():
            for vid, s in summaries.items():
                acc = cumulative[metric].setdefault(vid, [0, 0.0, 0.0])
                acc[0] += s.n
                acc[1] += s.sum
                acc[2] += s.sum_squares
        out.append(
            {
                m: {vid: stats.Summary(int(a[0]), a[1], a[2], m in BINARY) for vid, a in v.items()}
                for m, v in cumulative.items()
            }
        )
    return out


def exposure_counts(experiment_id: int, until=None) -> dict[int, int]:
    from django.db.models import Count

    qs = Exposure.objects.filter(experiment_id=experiment_id)
    if until is not None:
        qs = qs.filter(at__lt=until)
    return dict(qs.values_list("variant_id").annotate(n=Count("pk")).values_list("variant_id", "n"))


def finite(value):
    """The structure with every inf or nan number replaced by None (JSON has no Infinity)."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def min_units() -> int:
    return int(getattr(settings, "EXPERIMENT_MIN_UNITS_PER_ARM", 500))


def analyse(experiment: Experiment, *, until=None) -> dict:
    """Every arm against the control on the primary and guardrail metrics, SRM, and the decision:
    ``continue``, ``significant`` (an arm wins on the primary metric) or ``harm`` (a guardrail metric
    is significantly worse in an arm)."""
    variants = list(experiment.variants.select_related("release").order_by("order"))
    control = next(v for v in variants if v.is_control)
    alpha = experiment.alpha
    floor = min_units()
    units = exposure_counts(experiment.pk, until)
    srm = (
        stats.srm_check([units.get(v.pk, 0) for v in variants], [v.weight for v in variants])
        if len(variants) >= 2
        else stats.SrmCheck(1.0, False, "not enough information: one arm")
    )
    metrics = [experiment.primary_metric, *experiment.guardrail_metrics]
    results: dict[str, dict] = {}
    everything = all_summaries(experiment.pk, until)
    for metric in metrics:
        summaries = everything[metric]
        empty = stats.Summary(0, 0.0, 0.0, metric in BINARY)
        base = summaries.get(control.pk, empty)
        arms = {}
        for v in variants:
            s = summaries.get(v.pk, empty)
            row = {"n": s.n, "mean": s.mean, "units": units.get(v.pk, 0)}
            if not v.is_control:
                # always the relative change: a zero control mean is "not enough information", not a
                # silent switch to an absolute difference the page would show as a percentage
                test = stats.sequential_two_sided(base, s, alpha=alpha, relative=True)
                enough = units.get(v.pk, 0) >= floor and units.get(control.pk, 0) >= floor
                # significant() is False on "not enough information": no stop, promotion or harm on it
                row.update(test=test.as_dict(), enough=enough, significant=enough and test.significant(alpha))
            arms[v.key] = row
        results[metric] = arms
    primary = results[experiment.primary_metric]
    winners = [
        key
        for key, row in primary.items()
        if row.get("significant")
        and (row["test"]["effect"] < 0 if experiment.primary_metric in HIGHER_IS_WORSE else row["test"]["effect"] > 0)
    ]
    harms = [
        {"metric": m, "arm": key, "effect": row["test"]["effect"], "p_value": row["test"]["p_value"]}
        for m in experiment.guardrail_metrics
        for key, row in results[m].items()
        if row.get("significant")
        and ((row["test"]["effect"] > 0) if m in HIGHER_IS_WORSE else (row["test"]["effect"] < 0))
    ]
    verdict = "harm" if harms else "significant" if winners else "continue"
    return finite(
        {
            "at": (until or timezone.now()).isoformat(),
            "alpha": alpha,
            "min_units_per_arm": floor,
            "arms": [
                {
                    "key": v.key,
                    "name": v.name,
                    "release": v.release.number,
                    "weight": v.weight,
                    "control": v.is_control,
                    "units": units.get(v.pk, 0),
                }
                for v in variants
            ],
            "srm_p_value": srm.p_value,
            "srm_warning": srm.warning,
            "srm_note": srm.note,
            "metrics": results,
            "winners": winners,
            "harms": harms,
            "verdict": verdict,
        }
    )


def timeline(experiment: Experiment, *, points: int = 12) -> list[dict]:
    """The primary metric's per-arm means and each arm's effect with its confidence sequence at
    ``points`` moments from the start to now (cumulative, as a person looking then would have seen)."""
    start = experiment.started_at
    end = experiment.stopped_at or timezone.now()
    if start is None or end <= start:
        return []
    variants = list(experiment.variants.order_by("order"))
    control = next(v for v in variants if v.is_control)
    out = []
    for i, summaries_at in enumerate(bucketed_summaries(experiment.pk, start, end, points), start=1):
        cut = start + (end - start) * i / points
        summaries = summaries_at[experiment.primary_metric]
        empty = stats.Summary(0, 0.0, 0.0, experiment.primary_metric in BINARY)
        base = summaries.get(control.pk, empty)
        row = {"at": cut.isoformat(), "arms": {}}
        for v in variants:
            s = summaries.get(v.pk, empty)
            entry = {"n": s.n, "mean": s.mean}
            if not v.is_control:
                test = stats.sequential_two_sided(base, s, alpha=experiment.alpha, relative=True)
                if test.informative:
                    entry.update(effect=test.effect, ci_low=test.ci_low, ci_high=test.ci_high)
                else:  # not enough information: a gap in the chart, not an effect of 0
                    entry.update(effect=None, ci_low=None, ci_high=None, note=test.note)
            row["arms"][v.key] = entry
        out.append(row)
    return finite(out)
