"""Plotly figures of the human evaluation: kappa per dimension, weekly trends, calibration."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from evaluation.charts import _html

SCALE_LABELS = {"factual": "Factual", "helpful": "Helpful", "tone": "Tone", "format": "Format", "purchase": "Purchase"}


def kappa_bars(agreement: dict) -> str:
    overall = agreement["overall"]
    dims = [d for d in agreement["dims"] if overall[d]["kappa"] is not None]
    if not dims:
        return ""
    values = [overall[d]["kappa"] for d in dims]
    fig = go.Figure(
        go.Bar(
            x=[SCALE_LABELS[d] for d in dims],
            y=values,
            marker_color=["#c62828" if v < agreement["target"] else "#2e7d32" for v in values],
            text=[f"{v:.2f}" for v in values],
            textposition="outside",
        )
    )
    fig.add_hline(y=agreement["target"], line_dash="dot", annotation_text=f"target {agreement['target']}")
    fig.update_layout(height=300, margin={"t": 40, "b": 40}, title="Cohen's kappa, all pairs", yaxis_range=[-0.2, 1.1])
    return _html(fig)


def trend(frame, by: str) -> str:
    """Mean human score per week, one line per ``by`` group (intent or release), one panel per scale."""
    if frame.empty:
        return ""
    dims = ["factual", "helpful", "tone", "format"]
    fig = make_subplots(rows=2, cols=2, subplot_titles=[SCALE_LABELS[d] for d in dims], shared_xaxes=True)
    grouped = frame.groupby(["week", by])[dims].mean().reset_index().sort_values("week")
    for i, group in enumerate(sorted(grouped[by].unique())):
        sub = grouped[grouped[by] == group]
        for j, d in enumerate(dims):
            fig.add_trace(
                go.Scatter(
                    x=[str(w) for w in sub["week"]],
                    y=sub[d],
                    mode="lines+markers",
                    name=str(group),
                    legendgroup=str(group),
                    showlegend=j == 0,
                    line={"color": _colour(i)},
                ),
                row=j // 2 + 1,
                col=j % 2 + 1,
            )
    fig.update_yaxes(range=[0.8, 5.2])
    fig.update_xaxes(type="category")
    fig.update_layout(height=520, margin={"t": 60, "b": 40}, title=f"Weekly mean human score by {by}")
    return _html(fig)


def _colour(i: int) -> str:
    palette = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#546e7a"]
    return palette[i % len(palette)]


def calibration_heatmap(calibration: dict, dims: dict, automated: dict) -> str:
    rows = [*dims, "purchase"]
    cols = list(automated)
    z = [[calibration[(d, m)].rho for m in cols] for d in rows]
    text = [
        [
            "n/a"
            if calibration[(d, m)].rho is None
            else f"ρ={calibration[(d, m)].rho:.2f}<br>n={calibration[(d, m)].n}"
            for m in cols
        ]
        for d in rows
    ]
    if all(v is None for row in z for v in row):
        return ""
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[automated[m] for m in cols],
            y=[SCALE_LABELS[d] for d in rows],
            text=text,
            texttemplate="%{text}",
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
        )
    )
    fig.update_layout(height=360, margin={"t": 40, "b": 40}, title="Spearman ρ: human scores × automated metrics")
    return _html(fig)


def bertscore_scatter(frame, *, gate: float, suggestion: dict | None = None) -> str:
    """Human factual score against BERTScore (rescaled F1), with the gate in force and the cut people's
    scores suggest, to set the threshold."""
    if frame.empty or frame["bertscore"].dropna().empty:
        return ""
    sub = frame.dropna(subset=["bertscore"])
    fig = go.Figure(
        go.Scatter(
            x=sub["bertscore"],
            y=sub["factual"],
            mode="markers",
            text=sub["intent"] + " · judged by " + sub["judged_by"],
            marker={"opacity": 0.6},
            name="item",
        )
    )
    fig.add_vline(x=gate, line_dash="dot", annotation_text=f"gate in force {gate:.2f}")
    if suggestion:
        fig.add_vline(
            x=suggestion["threshold"],
            line_dash="dash",
            line_color="#c62828",
            annotation_text=f"from people {suggestion['threshold']:.2f}",
            annotation_position="bottom right",
        )
    fig.add_hline(y=3.5, line_dash="dot", line_color="#9e9e9e")
    fig.update_layout(
        height=360,
        margin={"t": 40, "b": 40},
        title="Factual correctness (human) against BERTScore (answer vs its sources)",
        xaxis_title="BERTScore F1, rescaled (MiniLM)",
        yaxis_title="Human factual score",
    )
    return _html(fig)


def kappa_trend(rows: list[dict], target: float) -> str:
    """All-pairs kappa per dimension across batches, with the 0.7 target."""
    if not rows:
        return ""
    x = [f"{r['batch'].period_start:%Y-%m-%d} #{r['batch'].pk}" for r in rows]
    fig = go.Figure()
    for i, d in enumerate(SCALE_LABELS):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[r["overall"][d]["kappa"] for r in rows],
                mode="lines+markers",
                name=SCALE_LABELS[d],
                line={"color": _colour(i)},
            )
        )
    fig.add_hline(y=target, line_dash="dot", annotation_text=f"target {target}")
    fig.update_xaxes(type="category")
    fig.update_layout(height=340, margin={"t": 40, "b": 60}, title="Agreement per batch (Cohen's kappa, all pairs)")
    return _html(fig)


def strata_progress(rows: list[dict]) -> str:
    """Items per intent, scored and still open, as stacked horizontal bars."""
    if not rows:
        return ""
    intents = [r["intent"] or "(none)" for r in rows]
    fig = go.Figure(
        [
            go.Bar(y=intents, x=[r["scored"] for r in rows], name="scored", orientation="h", marker_color="#2e7d32"),
            go.Bar(y=intents, x=[r["open"] for r in rows], name="open", orientation="h", marker_color="#cfd8dc"),
        ]
    )
    fig.update_layout(
        barmode="stack", height=60 + 28 * len(rows), margin={"t": 30, "b": 30, "l": 130}, title="Items per intent"
    )
    return _html(fig)
