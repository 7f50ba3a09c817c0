"""Figures for hot callbacks, built from plain dicts without plotly's per-property validation.

Constructing a ``go.Figure`` from trace objects validates every property (plotly's
``update_layout``/``go.Bar`` machinery), which was most of a warm callback's CPU under load.
The builders that run on every page view (the count's bars, the maps) give their traces and
layout as dicts to `figure`, which skips that validation; `tests/test_figures_plain.py` builds
each of them again with validation on and checks that plotly accepts them and that the two
figures are identical.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

#: Whether `figure` validates (tests switch it on to check the dicts are valid plotly).
VALIDATE = False


def figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """A figure of ``data`` (trace dicts, each with its ``type``) and ``layout``."""
    return go.Figure(data=data, layout=layout, _validate=VALIDATE)
