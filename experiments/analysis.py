"""Reading an experiment: per-arm Summaries of each metric from a few GROUP BY queries, the
sequential test of each arm against the control, the SRM check, and the decision (US-2.3, US-8.5).

Each metric is a value per unit (session), then n, Σv and Σv² per arm, computed in the database so an
analysis never moves units into Python:

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
from experiments.models import HIGHER_IS_WORSE, Experiment, Metric

_T = {
    "exposure": "experiments_exposure",
    "event": "experiments_event",
    "feedback": "chat_feedback",
    "trace": "chat_trace",
}

# The sessions that "have one", for rate metrics: joined to the exposures as a set (a hash semi-join in
# PostgreSQL), never a subquery per unit.
_HAVING = {
    Metric.THUMBS_UP: "SELECT DISTINCT f.session_id AS sid FROM {feedback} f WHERE f.value = 'up'",
    Metric.THUMBS_DOWN: "SELECT DISTINCT f.session_id AS sid FROM {feedback} f WHERE f.value = 'down'",
    Metric.ESCALATION: "SELECT t.session_id AS sid FROM {trace} t WHERE t.intent = 'escalation'"
    " UNION SELECT v.session_id AS sid FROM {event} v WHERE v.kind = 'escalation'",
    Metric.RESOLUTION: "SELECT DISTINCT v.session_id AS sid FROM {event} v WHERE v.kind = 'resolution'",
    Metric.CONVERSION: "SELECT DISTINCT v.session_id AS sid FROM {event} v WHERE v.kind = 'conversion'",
}
_PER_UNIT = {
    Metric.CSAT: ("{event} v", "v.session_id = e.unit_id AND v.kind = 'csat'", "AVG(v.value)"),
    Metric.LATENCY: ("{trace} t", "t.session_id = e.unit_id", "AVG(t.latency_ms)"),
    Metric.RESPONSE_LENGTH: ("{trace} t", "t.session_id = e.unit_id", "AVG(LENGTH(t.answer))"),
    Metric.COST: ("{trace} t", "t.session_id = e.unit_id", "SUM(t.cost_usd)"),
}


def metric_summaries(experiment_id: int, metric: str, until=None) -> dict[int, stats.Summary]:
    """{variant id: Summary} of ``metric`` over units exposed before ``until`` (all when None)."""
    params: list = [experiment_id]
    window = ""
    if until is not None:
        window = " AND e.at < %s"
        params.append(until)
    if metric in _HAVING:
        # every fragment is a constant of this module; values go in as parameters
        sql = (
            f"SELECT e.variant_id, COUNT(*), COUNT(h.sid) FROM {_T['exposure']} e "
            f"LEFT JOIN ({_HAVING[metric].format(**_T)}) h ON h.sid = e.unit_id "
            f"WHERE e.experiment_id = %s{window} GROUP BY e.variant_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {vid: stats.Summary(int(n), float(s or 0), float(s or 0)) for vid, n, s in cursor.fetchall()}
    source, join, value = _PER_UNIT[metric]
    sql = (
        "SELECT u.variant_id, COUNT(*), SUM(u.v), SUM(u.v * u.v) FROM ("
        f"SELECT e.variant_id, e.unit_id, {value} AS v FROM {_T['exposure']} e JOIN {source.format(**_T)} ON {join} "
        f"WHERE e.experiment_id = %s{window} GROUP BY e.variant_id, e.unit_id) u GROUP BY u.variant_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {vid: stats.Summary(int(n), float(s or 0), float(ss or 0)) for vid, n, s, ss in cursor.fetchall()}


def exposure_counts(experiment_id: int, until=None) -> dict[int, int]:
    from django.db.models import Count

    from experiments.models import Exposure

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
    srm_p = stats.srm_p_value([units.get(v.pk, 0) for v in variants], [v.weight for v in variants])
    metrics = [experiment.primary_metric, *experiment.guardrail_metrics]
    results: dict[str, dict] = {}
    for metric in metrics:
        summaries = metric_summaries(experiment.pk, metric, until)
        base = summaries.get(control.pk, stats.Summary(0, 0.0, 0.0))
        arms = {}
        for v in variants:
            s = summaries.get(v.pk, stats.Summary(0, 0.0, 0.0))
            row = {"n": s.n, "mean": s.mean, "units": units.get(v.pk, 0)}
            if not v.is_control:
                relative = base.mean != 0
                test = stats.sequential_two_sided(base, s, alpha=alpha, relative=relative)
                enough = units.get(v.pk, 0) >= floor and units.get(control.pk, 0) >= floor
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
            "srm_p_value": srm_p,
            "srm_warning": srm_p < 0.001,
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
    for i in range(1, points + 1):
        cut = start + (end - start) * i / points
        summaries = metric_summaries(experiment.pk, experiment.primary_metric, cut)
        base = summaries.get(control.pk, stats.Summary(0, 0.0, 0.0))
        row = {"at": cut.isoformat(), "arms": {}}
        for v in variants:
            s = summaries.get(v.pk, stats.Summary(0, 0.0, 0.0))
            entry = {"n": s.n, "mean": s.mean}
            if not v.is_control:
                test = stats.sequential_two_sided(base, s, alpha=experiment.alpha, relative=base.mean != 0)
                entry.update(effect=test.effect, ci_low=test.ci_low, ci_high=test.ci_high)
            row["arms"][v.key] = entry
        out.append(row)
    return finite(out)
