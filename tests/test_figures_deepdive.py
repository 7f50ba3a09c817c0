"""Deep-dive figures are pure: trace types, totals, labels and colours, without a browser.

Also the deep-dive bridge's table helpers (drill-down lines, formula-safe CSV, XLSX), on a
breakdown computed from a hand-made ledger by the engine's pure ``breakdown``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest
from openpyxl import load_workbook

from dashboards import data, data_themes
from dashboards.figures.deepdive import SPLIT_COLOURS, service_line_bar, split_bar
from totalplace.deepdive.engine import ThemeBreakdown, breakdown
from totalplace.deepdive.rules import theme_from_dict
from totalplace.errors import TotalPlaceError


def _by_function() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "function": ["10. Social protection", "7. Health", "10. Social protection", None],
            "line": ["10.2 Old age", "7.A Medical services", "Social care", None],
            "amount_pence": [131_059_481_261, 28_113_929_782, 13_644_164_715, 5_000],
            "share": [0.7, 0.2, 0.1, 0.0],
        }
    )


def test_service_lines_are_bars_coloured_by_function_summing_to_the_total() -> None:
    fig = service_line_bar(_by_function())
    assert all(isinstance(t, go.Bar) and t.orientation == "h" for t in fig.data)
    # one trace (legend entry) per function, the largest function first
    assert [t.name for t in fig.data] == ["10. Social protection", "7. Health", "Not specified"]
    assert len({t.marker.color for t in fig.data}) == 3
    total = sum(sum(t.x) for t in fig.data)
    assert total == pytest.approx(1_728_176_257.58)
    assert fig.layout.meta["total_gbp"] == pytest.approx(total)
    assert fig.layout.title.text == "By service line: £1.7bn"
    social = fig.data[0]
    assert list(social.y) == ["10.2 Old age", "Social care"]
    assert list(social.text) == ["£1.3bn", "£136m"]
    # the largest line at the top of the chart
    assert fig.layout.yaxis.categoryarray[-1] == "10.2 Old age"


def test_a_line_name_under_two_functions_is_told_apart() -> None:
    frame = pd.DataFrame(
        {
            "function": ["7. Health", "10. Social protection"],
            "line": ["(no finer function)", "(no finer function)"],
            "amount_pence": [200, 100],
        }
    )
    labels = [y for t in service_line_bar(frame).data for y in t.y]
    assert labels == [
        "(no finer function) (7. Health)",
        "(no finer function) (10. Social protection)",
    ]


def test_a_split_is_one_stacked_bar_named_with_amounts_and_shares() -> None:
    split = pd.DataFrame(
        {"mode": ["reactive", "preventative"], "amount_pence": [176_258_211_619, 4_392_096_954]}
    )
    fig = split_bar(split, "mode")
    assert fig.layout.barmode == "relative"
    assert [t.name for t in fig.data] == [
        "Reactive: £1.8bn (98%)",
        "Preventative: £44m (2%)",
    ]
    assert [t.marker.color for t in fig.data] == [
        SPLIT_COLOURS["reactive"],
        SPLIT_COLOURS["preventative"],
    ]
    assert fig.layout.title.text == "Reactive or preventative: £1.8bn"
    assert sum(t.x[0] for t in fig.data) == pytest.approx(1_806_503_085.73)


def test_empty_frames_say_so_in_words() -> None:
    empty = service_line_bar(_by_function().iloc[0:0])
    assert empty.layout.meta["empty"] is True
    assert "No theme spend" in empty.layout.annotations[0].text
    split = split_bar(pd.DataFrame(columns=["control", "amount_pence"]), "control")
    assert "local or national" in split.layout.annotations[0].text


# -- the bridge's tables ---------------------------------------------------------------------------
THEME = {
    "id": "tiny",
    "name": "Tiny",
    "population": "age_65_plus",
    "relevant": {"function_code": ["10"]},
    "rule": [
        {
            "id": "pensions",
            "label": "Pensions",
            "match": {"description": "PENSION"},
            "share": 1,
            "mode": "reactive",
            "control": "national",
            "service_type": "income",
            "source": "benefit rules",
        },
        {
            "id": "care",
            "label": "Care",
            "match": {"agency_type": "Councils"},
            "share": 0.5,
            "mode": "preventative",
            "control": "local",
            "service_type": "income",
            "assumption": "half of it",
        },
    ],
}


def _line(**fields: Any) -> dict[str, Any]:
    base = {
        "area_code": "E06000001",
        "agency": "Department for Work and Pensions",
        "agency_type": "Benefits and employment (DWP)",
        "function_code": "10",
        "function": "10. Social protection",
        "description": None,
        "file": "cra.xlsx",
        "row": 1,
        "amount_pence": 0,
    }
    return base | fields


@pytest.fixture()
def result() -> ThemeBreakdown:
    lines = pd.DataFrame(
        [
            _line(description="STATE PENSION", row=10, amount_pence=1_000_001),
            _line(description="=HYPERLINK(evil) PENSION", row=11, amount_pence=5_000),
            _line(agency="Dorset", agency_type="Councils", file="rs.xls", row=73, amount_pence=301),
        ]
    )
    theme = theme_from_dict(THEME, "tiny.toml")
    populations = {"population": 1000, "age_65_plus": 250}
    return breakdown(
        lines, theme, populations, place_name="Somewhere", year="2010-11", population_year=2019
    )


def test_drill_lines_by_rule_and_by_agency_type(result: ThemeBreakdown) -> None:
    by_rule = data_themes.drill_lines(result, rule="pensions")
    assert list(by_rule["row"]) == [10, 11]  # largest first
    assert list(by_rule["file"]) == ["cra.xlsx", "cra.xlsx"]
    councils = data_themes.drill_lines(result, agency_type="Councils")
    assert councils[["file", "row", "source_pence", "amount_pence"]].to_dict("records") == [
        {"file": "rs.xls", "row": 73, "source_pence": 301, "amount_pence": 150}
    ]
    assert data_themes.drill_lines(result, rule="nothing").empty


def test_csv_is_formula_safe_with_pounds_beside_pence(result: ThemeBreakdown) -> None:
    text = data_themes.table_csv(result, "lines").decode("utf-8-sig")
    assert "'=HYPERLINK(evil) PENSION" in text
    assert "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    header = text.splitlines()[0].split(",")
    assert header.index("amount_gbp") == header.index("amount_pence") + 1


def test_xlsx_has_a_sheet_per_table(result: ThemeBreakdown) -> None:
    book = load_workbook(io.BytesIO(data_themes.tables_xlsx(result)))
    assert book.sheetnames == list(data_themes.TABLES)
    assert data_themes.file_stem(result) == "deepdive_tiny_Somewhere_2010-11"


class _FakeWorkspace:
    """Just enough of a workspace for the bridge: counts its deep dives, fails on 'Nowhere'."""

    def __init__(self, result: ThemeBreakdown) -> None:
        self.result = result
        self.dives = 0

    def count(self, place: str, year: str) -> None:
        return None

    def deepdive(self, place: str, year: str, theme: str, count: Any = None) -> ThemeBreakdown:
        if place == "Nowhere":
            raise TotalPlaceError("no such place")
        self.dives += 1
        return self.result


@pytest.fixture()
def fake(result: ThemeBreakdown) -> Iterator[_FakeWorkspace]:
    ws = _FakeWorkspace(result)
    data.set_workspace(ws)  # type: ignore[arg-type]
    data_themes.clear_caches()
    yield ws
    data.set_workspace(None)
    data_themes.clear_caches()


def test_a_view_is_built_once_per_place_year_theme_and_key(fake: _FakeWorkspace) -> None:
    built: list[tuple[str, ...]] = []

    def rows(b: ThemeBreakdown, *key: str) -> list[str]:
        built.append(key)
        return [b.place_name, *key]

    first = data_themes.view("Somewhere", "2010-11", "tiny", rows, "rule", "pensions")
    again = data_themes.view("Somewhere", "2010-11", "tiny", rows, "rule", "pensions")
    other = data_themes.view("Somewhere", "2010-11", "tiny", rows, "agency", "Councils")
    assert first is again and first == ["Somewhere", "rule", "pensions"]
    assert other == ["Somewhere", "agency", "Councils"]
    assert built == [("rule", "pensions"), ("agency", "Councils")]
    assert fake.dives == 1  # one breakdown behind every view of the place, year and theme
    with pytest.raises(TotalPlaceError):
        data_themes.view("Nowhere", "2010-11", "tiny", rows)
    with pytest.raises(TotalPlaceError):  # failures are not kept
        data_themes.view("Nowhere", "2010-11", "tiny", rows)
    data_themes.clear_caches()
    data_themes.view("Somewhere", "2010-11", "tiny", rows, "rule", "pensions")
    assert fake.dives == 2 and len(built) == 3
