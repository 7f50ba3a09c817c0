"""The time series of a place (totalplace.count.series), its breaks and its figure, and the
pure real-terms conversions the dashboard's cash / real switch uses."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from dashboards.figures.timeseries import OUTTURN_FILL, timeseries_figure
from totalplace.count.deflators import count_in_prices
from totalplace.count.result import CountResult
from totalplace.count.series import SeriesBreak, count_series, release_short, series_breaks

CRA_2010 = "HM Treasury: Country and Regional Analysis 2010 (PESA 2010 chapter 9 database)"
CRA_2014 = "HM Treasury: Country and Regional Analysis 2014 combined database"


def _count(year: str, pence: list[int], release: str, outturn: bool) -> CountResult:
    rows = pd.DataFrame({"agency_type": ["A"] * len(pence), "amount_pence": pence})
    return CountResult(
        place_name="Somewhere",
        place_codes=("E06000001",),
        year=year,
        population=1000,
        population_year=int(year[:4]),
        release=release,
        rows=rows,
        districts=pd.DataFrame({"area_code": ["E06000001"], "amount_pence": [sum(pence)]}),
        reported_by_councils=pd.DataFrame({"amount_pence": [1]}) if outturn else None,
        caveats=["a caveat"],
    )


COUNTS = [
    _count("2008-09", [100_000, 233], CRA_2010, False),
    _count("2009-10", [200_001], CRA_2014, False),
    _count("2010-11", [300_000, -5], CRA_2014, True),
    _count("2011-12", [310_000], CRA_2014, False),
]


def test_the_series_is_each_counts_own_total() -> None:
    s = count_series(reversed(COUNTS))
    assert list(s["year"]) == ["2008-09", "2009-10", "2010-11", "2011-12"]
    assert list(s["amount_pence"]) == [c.total_pence for c in COUNTS]
    assert s["per_head_gbp"].tolist() == pytest.approx([1.00233, 2.00001, 2.99995, 3.1])
    assert list(s["release"]) == ["CRA 2010", "CRA 2014", "CRA 2014", "CRA 2014"]
    assert list(s["outturn"]) == [False, False, True, False]
    assert release_short("something else") == "something else"


def test_breaks_are_where_the_release_or_the_outturn_changes() -> None:
    breaks = series_breaks(count_series(COUNTS))
    assert [(b.kind, b.before, b.after) for b in breaks] == [
        ("release", "2008-09", "2009-10"),
        ("outturn", "2009-10", "2010-11"),
        ("outturn", "2010-11", "2011-12"),
    ]
    assert breaks[0].text == "CRA 2010 release to 2008-09, CRA 2014 from 2009-10"
    assert series_breaks(count_series(COUNTS[1:2])) == []


def test_the_figure_draws_lines_a_release_line_and_shaded_outturn_years() -> None:
    own = count_series(COUNTS).assign(role="place")
    england = own.assign(name="England", role="england", amount_gbp=own["amount_gbp"] * 50)
    frame = pd.concat([own, england], ignore_index=True)
    release = SeriesBreak("release", "2008-09", "2009-10", "CRA 2010 to 2008-09")
    fig = timeseries_figure(frame, "total", "Total spend", [release], ["2010-11"])
    names = [t.name for t in fig.data]
    assert "Somewhere" in names and "England" in names
    assert list(fig.layout.xaxis.categoryarray) == ["2008-09", "2009-10", "2010-11", "2011-12"]
    line, shade = fig.layout.shapes
    assert line.type == "line" and line.x0 == line.x1 == 0.5 and line.line.dash == "dash"
    assert shade.type == "rect" and (shade.x0, shade.x1) == (1.5, 2.5)
    assert shade.fillcolor == OUTTURN_FILL
    note = fig.layout.annotations[0].text
    assert "dashed line: CRA 2010 to 2008-09" in note and "shaded" in note
    assert timeseries_figure(frame, "total", "T").layout.shapes == ()


def test_a_count_in_prices_scales_every_amount_in_whole_pence() -> None:
    cash = COUNTS[0]
    real = count_in_prices(cash, 1.5, "2018-19")
    assert real.rows["amount_pence"].tolist() == [150_000, 350]  # 349.5 rounds half to even
    assert real.districts["amount_pence"].tolist() == [150_350]
    assert real.reported_by_councils is None and real.population == cash.population
    assert real.caveats[0].startswith("Figures are in 2018-19 prices") and len(real.caveats) == 2
    assert cash.rows["amount_pence"].tolist() == [100_000, 233]  # the cash count is untouched


@pytest.mark.mirror
def test_a_pilots_series_equals_its_counts_every_year(workspace: Any) -> None:
    from dashboards import data

    data.set_workspace(workspace)
    try:
        frame = data.place_series("Kent")
        own = frame[frame["role"] == "place"].set_index("year")
        years = workspace.years()
        assert list(own.index) == years and years[0] == "2004-05" and years[-1] == "2013-14"
        for year in years:
            assert own.loc[year, "amount_pence"] == workspace.count("Kent", year).total_pence
        assert set(frame.loc[frame["role"] == "england", "name"]) == {"England"}
        assert frame.loc[frame["role"] == "pilot", "name"].nunique() == 12
        breaks = series_breaks(own.reset_index())
        assert any(b.kind == "release" for b in breaks)
        assert own.loc["2010-11", "outturn"]
        real = data.in_terms(frame, "real")
        factor = real.loc[0, "amount_gbp"] / frame.loc[0, "amount_gbp"]
        assert factor == pytest.approx(data.real_factor(frame.loc[0, "year"], "real"))
        assert data.real_factor("2010-11", "cash") == 1.0
    finally:
        data.set_workspace(None)


@pytest.mark.mirror
def test_a_deep_dive_in_prices_scales_amounts_not_shares(workspace: Any) -> None:
    from totalplace.deepdive.engine import breakdown_in_prices

    cash = workspace.deepdive("Kent", "2010-11", "older_people")
    real = breakdown_in_prices(cash, 1.25, "2018-19")
    assert real.total_pence == pytest.approx(cash.total_pence * 1.25, abs=len(cash.allocations))
    assert real.count_total_pence == round(cash.count_total_pence * 1.25)
    assert real.by_agency()["share"].tolist() == pytest.approx(cash.by_agency()["share"].tolist())
    assert real.caveats[0].startswith("Figures are in 2018-19 prices")
    assert cash.total_pence == workspace.deepdive("Kent", "2010-11", "older_people").total_pence
