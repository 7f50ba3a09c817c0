"""Figure builders are pure: check trace types, totals, labels and words without a browser."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboards import data
from dashboards.figures.breakdown import OKABE_ITO, agency_bar, empty_figure, function_bar
from dashboards.figures.maps import district_choropleth, fit_view
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


GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        _square("E08000025", -1.9, 52.4),
        _square("E08000029", -1.7, 52.4),
        _square("E07000235", -2.3, 52.1),
        _square("E09000008", -0.1, 51.3),  # not in the frame: must not be sent
    ],
}


def _frame(per_head: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area_code": ["E08000025", "E08000029", "E07000235"],
            "area_name": ["Birmingham", "Solihull", "Malvern Hills"],
            "per_head_gbp": per_head,
            "in_place": [True, False, False],
        }
    )


def test_choropleth_is_a_maplibre_map_on_white() -> None:
    fig = district_choropleth(_frame([9100.0, 8800.0, 8500.0]), GEOJSON, "per_head_gbp", "Per head")
    assert fig.data[0].type == "choroplethmap"
    assert fig.layout.map.style == "white-bg"
    assert fig.data[0].featureidkey == "id"
    sent = {f["id"] for f in fig.data[0].geojson["features"]}
    assert sent == {"E08000025", "E08000029", "E07000235"}


def test_choropleth_outlines_the_place_and_hovers_in_pounds() -> None:
    fig = district_choropleth(_frame([9100.0, 8800.0, 8500.0]), GEOJSON, "per_head_gbp", "Per head")
    base, outline = fig.data
    assert outline.type == "choroplethmap"
    assert list(outline.locations) == ["E08000025"]
    assert outline.marker.line.width > base.marker.line.width
    assert outline.hoverinfo == "skip"
    assert "£9,100" in [c[0] for c in base.customdata]
    assert "%{hovertext}" in base.hovertemplate and "customdata[0]" in base.hovertemplate


def test_choropleth_centres_on_its_districts() -> None:
    fig = district_choropleth(_frame([1.0, 2.0, 3.0]), GEOJSON, "per_head_gbp", "Per head")
    assert -2.3 < fig.layout.map.center.lon < -1.5
    assert 52.1 < fig.layout.map.center.lat < 52.6
    assert fig.layout.map.zoom > 6  # a region, not the country


def test_flat_values_are_said_in_words_not_a_colour_bar() -> None:
    fig = district_choropleth(_frame([7950.0] * 3), GEOJSON, "per_head_gbp", "Spend per head")
    assert fig.layout.coloraxis.showscale is False
    assert "£7,950" in fig.layout.annotations[0].text


def test_choropleth_without_districts_says_so() -> None:
    fig = district_choropleth(_frame([1.0, 2.0, 3.0])[:0], GEOJSON, "per_head_gbp", "Per head")
    assert not fig.data and "No districts" in fig.layout.annotations[0].text


def test_fit_view_zooms_in_on_small_areas() -> None:
    _, wide = fit_view(GEOJSON, 720, 520)
    _, narrow = fit_view({"features": GEOJSON["features"][:1]}, 720, 520)
    assert narrow > wide


# -- the data bridge's map frame ------------------------------------------------------------


class _Stub:
    def count(self, place: str, year: str) -> CountResult:
        return _count([("Councils", "9", "9. Education", 91_000_000_000)], population=1_000_000)

    def region_district_counts(self, region_code: str, year: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "area_code": ["E08000025", "E08000029"],
                "area_name": ["Birmingham", "Solihull"],
                "population": [1_000_000, 0],
                "amount_pence": [91_000_000_000, 0],
            }
        )


def test_region_map_frame_flags_the_place_and_computes_per_head() -> None:
    data.set_workspace(_Stub())  # type: ignore[arg-type]
    try:
        frame = data.region_map_frame("Birmingham", "2010-11")
    finally:
        data.set_workspace(None)
    assert list(frame["in_place"]) == [True, False]
    assert frame.loc[0, "per_head_gbp"] == pytest.approx(910.0)
    assert pd.isna(frame["per_head_gbp"].iloc[1])  # no population: no per-head figure
    assert set(frame["region_code"]) == {"E12000005"}
