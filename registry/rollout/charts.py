"""Plotly figures for the release pages."""

import plotly.graph_objects as go

from mangaconsole.lib.charts import figure_html

RATES = [
    ("error_rate", "Errors", 0.01),
    ("slow_rate", "Turns over 3 s", 0.01),
    ("escalation_rate", "Escalations", None),
    ("thumbs_down_rate", "Thumbs down (of rated)", None),
    ("hallucination_rate", "Grounding failures", None),
]


def canary_arms(evidence: dict) -> str:
    """Grouped bars of each rate, canary arm beside production, with the fixed limits marked."""
    if not evidence or not evidence.get("arms"):
        return ""
    fig = go.Figure()
    colours = {"Canary": "#b4233b", "Production": "#3b6ea5"}
    for label, arm in evidence["arms"]:
        ys = [(arm.get(key) or 0) * 100 for key, _, _ in RATES]
        fig.add_trace(
            go.Bar(
                name=f"{label} (release {arm.get('release')}, {arm.get('turns', 0)} turns)",
                x=[name for _, name, _ in RATES],
                y=ys,
                marker_color=colours.get(label),
                text=[f"{y:.2f}%" for y in ys],
                textposition="outside",
            )
        )
    for i, (_, _, limit) in enumerate(RATES):
        if limit is not None:
            fig.add_shape(type="line", x0=i - 0.45, x1=i + 0.45, y0=limit * 100, y1=limit * 100, line={"dash": "dash"})
    fig.update_layout(
        barmode="group",
        height=340,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        title="Per-arm rates (dashed: the 1% auto-rollback limits)",
        yaxis_title="% of turns",
        legend={"orientation": "h", "y": -0.2},
    )
    return figure_html(fig)
