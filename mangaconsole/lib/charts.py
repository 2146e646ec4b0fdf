"""Plotly figures on console pages without inline script (Content-Security-Policy ``script-src 'self'``).

Plotly's own ``to_html`` writes an inline ``<script>`` that calls ``Plotly.newPlot``; a strict CSP
blocks it. Here a figure becomes an empty ``div`` plus its JSON in a ``<script type="application/json">``
data block (never executed, so the CSP allows it; Django's ``json_script`` escapes it), and
``static/mangaconsole/charts.js`` draws every such div once the page has loaded.
"""

from __future__ import annotations

import json
import uuid

import plotly.io as pio
from django.utils.html import format_html, json_script

CONFIG = {"displaylogo": False, "responsive": True}


def figure_html(fig, *, element_id: str | None = None) -> str:
    """The markup for ``fig``: ``<div class="plotly-chart">`` and its figure as a JSON data block."""
    ident = element_id or f"chart-{uuid.uuid4().hex[:12]}"
    spec = json.loads(pio.to_json(fig, validate=False))
    spec["config"] = CONFIG
    return format_html(
        '<div class="plotly-chart" id="{}" data-figure="{}-figure"></div>{}',
        ident,
        ident,
        json_script(spec, f"{ident}-figure"),
    )
