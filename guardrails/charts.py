"""Plotly figures for the guardrails page."""

import plotly.graph_objects as go

from mangaconsole.lib.charts import figure_html

COLOURS = {
    "pass": "#2e7d32",
    "modified": "#f9a825",
    "regenerated": "#6d4c41",
    "replaced": "#c62828",
    "blocked": "#b4233b",
}


def _html(fig) -> str:
    return figure_html(fig)


def blocks_by_check(per_check: list[dict]) -> str:
    rows = [r for r in per_check if r["blocked"] or r["modified"]]
    if not rows:
        return ""
    labels = [f"{r['stage']}:{r['check_name']}" for r in rows]
    fig = go.Figure(
        [
            go.Bar(name="blocked", x=labels, y=[r["blocked"] for r in rows], marker_color="#b4233b"),
            go.Bar(name="modified", x=labels, y=[r["modified"] for r in rows], marker_color="#f9a825"),
            go.Bar(name="false positive (reviewed)", x=labels, y=[r["false_positives"] for r in rows]),
        ]
    )
    fig.update_layout(barmode="group", height=340, margin={"t": 40, "b": 90}, title="Blocks and modifications by check")
    return _html(fig)


def verdicts_over_time(rows: list[dict]) -> str:
    if not rows:
        return ""
    hourly = any(r["bucket"].hour or r["bucket"].minute for r in rows)
    fmt = "%Y-%m-%d %H:00" if hourly else "%Y-%m-%d"
    rows = [{**r, "bucket": r["bucket"].strftime(fmt)} for r in rows]  # categories: one bar per bucket
    buckets = sorted({r["bucket"] for r in rows})
    fig = go.Figure()
    for verdict, colour in COLOURS.items():
        counts = {r["bucket"]: r["n"] for r in rows if r["guardrail_verdict"] == verdict}
        if counts:
            fig.add_bar(name=verdict, x=buckets, y=[counts.get(b, 0) for b in buckets], marker_color=colour)
    totals = {b: sum(r["n"] for r in rows if r["bucket"] == b) for b in buckets}
    passes = {r["bucket"]: r["n"] for r in rows if r["guardrail_verdict"] == "pass"}
    fig.add_scatter(
        name="pass rate",
        x=buckets,
        y=[passes.get(b, 0) / totals[b] for b in buckets],
        yaxis="y2",
        mode="lines+markers",
        line={"color": "#1a237e"},
    )
    fig.update_layout(
        barmode="stack",
        height=340,
        margin={"t": 40},
        title="Turns by guardrail verdict",
        xaxis={"type": "category"},
        yaxis={"title": "turns"},
        yaxis2={"title": "pass rate", "overlaying": "y", "side": "right", "range": [0, 1.05], "tickformat": ".0%"},
    )
    return _html(fig)
