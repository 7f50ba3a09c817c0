"""Figure builders are pure: check trace types, totals, labels and words without a browser."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboards.figures.breakdown import OKABE_ITO, agency_bar, empty_figure, function_bar
from dashboards.figures.maps import feature_bounds, fit_view, view_for
from dashboards.figures.money import format_gbp
from totalplace.count.result import COUNT_ROW_COLUMNS, DISTRICT_COLUMNS, CountResult


def _count(rows: list[tuple[Any, ...]], population: int = 1_000_000) -> CountResult:
    """A CountResult built by hand (no store): rows are (agency, function code, function, pence)."""
    frame = pd.DataFrame(
        [
            (agency, code, fn, "apportioned", "population mid-2019", "cra_2014", "CRA 2014", p)
            for agency, code, fn, p in rows
        ],
        columns=list(COUNT_ROW_COLUMNS),
    )
    districts = pd.DataFrame(
        [("E08000025", "Birmingham", "E12000005", population, int(frame["amount_pence"].sum()))],
        columns=list(DISTRICT_COLUMNS),
    )
    return CountResult(
        place_name="Birmingham",
        place_codes=("E08000025",),
        year="2010-11",
        population=population,
        population_year=2019,
        release="CRA 2014",
        rows=frame,
        districts=districts,
    )


@pytest.fixture()
def result() -> CountResult:
    return _count(
        [
            ("Councils", "9", "9. Education", 123_456_789_01),
            ("Councils", "10", "10. Social protection", 98_765_432_10),
            ("NHS and health", "7", "7. Health", 190_000_000_00),
            ("Benefits and employment (DWP)", "10", "10. Social protection", 69_900_000_00),
            ("Public corporations", None, None, 1_234_567_89),
            ("Other central government", "1", "1. General public services", -5_000_000_00),
        ]
    )


def _bar(fig: go.Figure) -> go.Bar:
    (trace,) = fig.data
    assert isinstance(trace, go.Bar)
    return trace


@pytest.mark.parametrize(
    ("build", "column"), [(agency_bar, "agency_type"), (function_bar, "function")]
)
def test_bars_are_horizontal_and_conserve_the_total(
    result: CountResult, build: Any, column: str
) -> None:
    trace = _bar(build(result.by(column)))
    assert trace.orientation == "h"
    assert sum(trace.x) == pytest.approx(result.total_gbp, abs=0.01)
    assert fig_total(build(result.by(column))) == pytest.approx(result.total_gbp, abs=0.01)


def fig_total(fig: go.Figure) -> float:
    return float(fig.layout.meta["total_gbp"])


def test_bars_are_labelled_in_pounds_largest_on_top(result: CountResult) -> None:
    fig = agency_bar(result.by("agency_type"))
    trace = _bar(fig)
    assert list(trace.text) == [format_gbp(x) for x in trace.x]
    assert trace.y[-1] == "Councils"  # the last category is drawn at the top
    assert list(trace.x) == sorted(trace.x)
    assert "£" in fig.layout.title.text and format_gbp(result.total_gbp) in fig.layout.title.text
    assert all(t.startswith(("£", "-£")) for t in trace.text)


def test_negative_bars_get_their_own_colour(result: CountResult) -> None:
    trace = _bar(agency_bar(result.by("agency_type")))
    colours = dict(zip(trace.y, trace.marker.color, strict=True))
    assert colours["Other central government"] == OKABE_ITO["vermillion"]
    assert colours["Councils"] == OKABE_ITO["blue"]
    assert "-£5m" in trace.text


def test_missing_categories_are_named(result: CountResult) -> None:
    trace = _bar(function_bar(result.by("function")))
    assert "Not specified" in trace.y
    assert len(trace.y) == len(set(trace.y))


def test_empty_breakdown_says_so_in_words() -> None:
    empty = _count([]).by("agency_type")
    fig = agency_bar(empty)
    assert not fig.data
    assert "No spend" in fig.layout.annotations[0].text


def test_empty_figure_shows_the_message() -> None:
    fig = empty_figure("Councils' outturn is only loaded for 2010-11.")
    assert not fig.data
    assert fig.layout.annotations[0].text == "Councils' outturn is only loaded for 2010-11."
    assert fig.layout.xaxis.visible is False


# -- maps ------------------------------------------------------------------------------------


def _square(code: str, lon: float, lat: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + 0.2, lat], [lon + 0.2, lat + 0.2], [lon, lat + 0.2], [lon, lat]]
    return {
        "type": "Feature",
        "id": code,
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


GEOJSON: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        _square("E08000025", -1.9, 52.4),
        _square("E08000029", -1.7, 52.4),
        _square("E07000235", -2.3, 52.1),
        _square("E09000008", -0.1, 51.3),  # London: far from the others
    ],
}


def test_view_centres_on_the_areas_shown() -> None:
    bounds = feature_bounds(GEOJSON)
    centre, zoom = view_for(bounds, ["E08000025", "E08000029", "E07000235"])
    assert -2.3 < centre["lon"] < -1.5
    assert 52.1 < centre["lat"] < 52.6
    assert zoom > 6  # a region, not the country
    _, wider = view_for(bounds, [str(f["id"]) for f in GEOJSON["features"]])
    assert wider < zoom  # London added: the view zooms out to show it


def test_fit_view_zooms_in_on_small_areas() -> None:
    _, wide = fit_view(GEOJSON, 720, 520)
    _, narrow = fit_view({"features": GEOJSON["features"][:1]}, 720, 520)
    assert narrow > wide
