"""The hot figures are built from plain dicts without plotly's validation (figures/plain.py):
built again with validation on, plotly accepts every property and the figure is identical."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboards.figures import plain
from dashboards.figures.breakdown import agency_bar, empty_figure, function_bar, placeholder
from dashboards.figures.maps import area_choropleth

VIEW = ({"lon": -1.5, "lat": 52.5}, 6.0)


def _json(fig: go.Figure) -> str:
    return json.dumps(fig.to_plotly_json(), sort_keys=True, default=str)


def _both(build: Any) -> tuple[go.Figure, go.Figure]:
    fast = build()
    plain.VALIDATE = True
    try:
        checked = build()
    finally:
        plain.VALIDATE = False
    return fast, checked


def _areas(values: list[float], in_place: list[bool]) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "area_code": [f"E0700010{i}" for i in range(n)],
            "area_name": [f"District {i}" for i in range(n)],
            "spend_gbp": values,
            "in_place": in_place,
        }
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: agency_bar(
            pd.DataFrame(
                {"agency_type": ["Councils", None, "NHS"], "amount_pence": [250, -100, 9_000_00]}
            )
        ),
        lambda: function_bar(pd.DataFrame({"function": ["10. Social"], "amount_pence": [1]})),
        lambda: area_choropleth(
            _areas([1.5, 2e9, 3e6], [True, False, True]),
            "spend_gbp",
            "Spend",
            "Spend by district",
            level="district",
            view=VIEW,
        ),
        lambda: area_choropleth(  # every area the same: no scale, an annotation says so
            _areas([7.0, 7.0], [False, False]),
            "spend_gbp",
            "Spend",
            "Flat",
            level="upper_tier",
            view=VIEW,
        ),
        lambda: empty_figure("No spend to show for spend by agency type."),
    ],
    ids=[
        "agency-bars-with-negative-and-missing",
        "one-function",
        "map-with-place",
        "flat-map",
        "empty",
    ],
)
def test_plain_figure_is_valid_plotly_and_identical_to_the_validated_one(build: Any) -> None:
    fast, checked = _both(build)
    assert _json(fast) == _json(checked)
    # the default template is applied as a validated figure would (maps ask for none)
    assert fast.layout.template == checked.layout.template


def test_an_invalid_property_is_caught_when_validating() -> None:
    plain.VALIDATE = True
    try:
        with pytest.raises(ValueError):
            plain.figure([{"type": "bar", "orientation": "diagonal"}], {})
    finally:
        plain.VALIDATE = False


def test_a_placeholder_is_the_empty_figure_without_the_default_template() -> None:
    """Page layouts send graphs' 'Loading…' figures as JSON, without the template."""
    fig = empty_figure("Loading…").to_plotly_json()
    del fig["layout"]["template"]
    assert json.dumps(placeholder(), sort_keys=True) == json.dumps(fig, sort_keys=True)
    assert placeholder("Choose a place.")["layout"]["annotations"][0]["text"] == "Choose a place."
