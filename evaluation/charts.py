"""Plotly figures for the evaluation pages: metric trends across runs and the per-intent breakdown."""

import plotly.graph_objects as go

from evaluation import scoring
from mangaconsole.lib.charts import figure_html

TREND_METRICS = {
    "intent_accuracy": "Intent accuracy",
    "bertscore": "BERTScore (rescaled F1)",
    "rouge_l": "ROUGE-L",
    "guardrail_pass_rate": "Guardrail pass rate",
    "format_compliance": "Format compliance",
}


def _html(fig) -> str:
    return figure_html(fig)


def metric_trends(runs) -> str:
    """One line per metric over finished runs (oldest first), gate thresholds as dotted lines."""
    runs = [r for r in runs if r.metrics]
    if not runs:
        return ""
    x = [f"#{r.pk} r{r.release.number}{' ' + r.intent if r.intent else ''}" for r in runs]
    fig = go.Figure()
    for key, label in TREND_METRICS.items():
        fig.add_trace(go.Scatter(x=x, y=[r.metrics.get(key) for r in runs], mode="lines+markers", name=label))
    # The BERTScore gate is on the rescaled-F1 scale (evaluation.bertscore); the latest run's is drawn.
    gate = (runs[-1].thresholds or {}).get("bertscore_min", scoring.DEFAULT_THRESHOLDS["bertscore_min"])
    for y, label in ((0.9, "intent ≥ 90%"), (gate, f"BERTScore ≥ {gate:.2f}"), (0.95, "guardrails, format ≥ 95%")):
        fig.add_hline(y=y, line_dash="dot", line_color="#9e9e9e", annotation_text=label, annotation_position="right")
    fig.update_layout(
        height=400,
        margin={"t": 40, "b": 60, "r": 150},
        title="Metrics across evaluation runs",
        yaxis_range=[0, 1.05],
        legend={"orientation": "h", "y": -0.22},  # the gate labels hold the right margin
    )
    fig.update_xaxes(type="category")
    return _html(fig)


def per_category(metrics: dict) -> str:
    by = metrics.get("by_category") or {}
    if not by:
        return ""
    cats = list(by)
    fig = go.Figure()
    for key, label in (
        ("intent_accuracy", "Intent accuracy"),
        ("bertscore", "BERTScore"),
        ("rouge_l", "ROUGE-L"),
        ("format_compliance", "Format compliance"),
    ):
        fig.add_trace(go.Bar(name=label, x=cats, y=[by[c].get(key) for c in cats]))
    fig.update_layout(barmode="group", height=340, margin={"t": 40, "b": 80}, title="By stratum", yaxis_range=[0, 1.05])
    return _html(fig)
