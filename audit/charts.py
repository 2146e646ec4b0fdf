"""Plotly figures for audit pages, rendered to HTML divs (plotly.js is served from static)."""

import plotly.graph_objects as go
from django.db.models import Count
from django.db.models.functions import TruncDay

from mangaconsole.lib.charts import figure_html


def entries_per_day(qs) -> str:
    rows = list(
        qs.order_by()
        .annotate(day=TruncDay("timestamp"))
        .values_list("day", "action")
        .annotate(n=Count("sequence"))
        .order_by("day")
    )
    if not rows:
        return ""
    fig = go.Figure()
    for action in sorted({a for _, a, _ in rows}):
        points = [(d, n) for d, a, n in rows if a == action]
        fig.add_bar(x=[d for d, _ in points], y=[n for _, n in points], name=action)
    fig.update_layout(
        barmode="stack", height=320, margin={"l": 40, "r": 10, "t": 30, "b": 40}, title="Entries per day by action"
    )
    return figure_html(fig)
