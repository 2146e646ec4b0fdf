"""Plotly figures for the trace pages."""

import plotly.graph_objects as go

from mangaconsole.lib.charts import figure_html


def span_waterfall(trace, spans) -> str:
    if not spans:
        return ""
    names = [s.name for s in spans][::-1]
    fig = go.Figure(
        go.Bar(
            y=names,
            x=[max(s.duration_ms, 0.01) for s in spans][::-1],
            base=[s.start_ms for s in spans][::-1],
            orientation="h",
            text=[f"{s.duration_ms:.2f} ms" for s in spans][::-1],
            textposition="outside",
            marker_color="#b4233b",
            hovertemplate="%{y}: starts %{base:.2f} ms, lasts %{x:.2f} ms<extra></extra>",
        )
    )
    fig.update_layout(
        height=60 + 32 * len(spans),
        margin={"l": 120, "r": 40, "t": 30, "b": 40},
        title=f"Span timings (turn {trace.latency_ms:.1f} ms)",
        xaxis_title="ms from the start of the turn",
    )
    return figure_html(fig)
