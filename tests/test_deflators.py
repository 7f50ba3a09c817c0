"""Real terms from HM Treasury's GDP deflator workbook: the ``hmt_deflators`` adapter reads the
index column by its header (forecast years, with ``-`` there, are derived from their published
per-cent change and marked), and counts, deep dives and reconciliation give real terms in a
chosen year's prices (default: the latest outturn year)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from totalplace.cli import app
from totalplace.count.deflators import (
    describe_real_terms,
    in_prices,
    latest_outturn,
    prices_label,
    real_terms_factor,
    real_terms_factors,
    with_real_column,
)
from totalplace.errors import InputFileError, TotalPlaceError
from totalplace.ingest.adapters.hmt_deflators import HmtDeflatorsAdapter, financial_year
from totalplace.ingest.base import ParseContext, ParseResult, read_head

REAL_WORKBOOK = "deflators/hmt_gdp_deflators_budget_2020-03.xlsx"

#: (label, index or '-', per cent change) of the hand-made financial-year block.
FY_ROWS: list[tuple[str, Any, float | None]] = [
    ("2009-10", 80.0, None),
    ("2010-11", 81.6, 2.0),
    ("2011-12", 83.2, 1.96),
    ("2012-13", 100.0, 20.19),
    ("2013-14 (1), (2)", "-", 2.5),
    ("2014-15 (1), (2)", "-", 10.0),
]


def forecast_dash_workbook(path: Path, swap_columns: bool = False) -> Path:
    """HM Treasury's layout in miniature: title rows, a three-row header, the financial-year
    block (forecast years with '-' as index, footnote marks in their labels), a calendar-year
    block beside it, footnotes below. ``swap_columns`` puts the per-cent column first."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "11032020 deflator update"

    def block(a: Any, b: Any) -> list[Any]:
        return [b, a] if swap_columns else [a, b]

    ws.append([None, "GDP DEFLATORS AT MARKET PRICES, AND MONEY GDP"])
    ws.append([])
    ws.append([None, "Financial year", None, None, None, None, "Calendar year"])
    ws.append([None, None, *block("GDP deflator at market prices ", None), "Money GDP (3)"])
    ws.append(
        [
            None,
            "Financial year",
            *block("2012-13 = 100", "per cent change on previous year"),
            "Cash £ million",
            None,
            "Calendar year",
            "2012 = 100",
            "per cent change on previous year",
        ]
    )
    for i, (label, index, pct) in enumerate(FY_ROWS):
        cy_label = str(2009 + i) + (" (1)" if index == "-" else "")
        ws.append(
            [
                None,
                label,
                *block(index, pct),
                1_500_000 + i,
                None,
                cy_label,
                "-" if pct else 9.0,
                pct,
            ]
        )
    ws.append([None, "Sources and footnotes:"])
    ws.append([None, "(1)", "For years 2013-14 to 2014-15 only percentage changes are shown."])
    wb.save(path)
    return path


def parse(path: Path) -> ParseResult:
    return HmtDeflatorsAdapter().parse(path, ParseContext(source_id="test"))


# -- the adapter ---------------------------------------------------------------------------------
def test_index_is_read_by_its_header_and_forecasts_are_derived_and_marked(tmp_path: Path) -> None:
    path = forecast_dash_workbook(tmp_path / "deflators-forecast-dash.xlsx")
    adapter = HmtDeflatorsAdapter()
    assert adapter.sniff(path, read_head(path))
    result = parse(path)
    rows = result.rows()
    assert list(rows["year"]) == ["2009-10", "2010-11", "2011-12", "2012-13", "2013-14", "2014-15"]
    assert list(rows["status"]) == ["outturn"] * 4 + ["forecast"] * 2
    assert list(rows["index"][:4]) == [80.0, 81.6, 83.2, 100.0]
    # a forecast index is the previous index moved by the published change, never the change
    assert rows["index"].iloc[4] == pytest.approx(102.5)
    assert rows["index"].iloc[5] == pytest.approx(102.5 * 1.10)
    assert set(rows["base_year"]) == {"2012-13"}
    assert list(rows["row"]) == [6, 7, 8, 9, 10, 11]
    assert result.rows_read == 6 and not result.quarantine
    assert "forecast 2013-14 to 2014-15" in result.notes[0]


def test_column_order_does_not_matter_only_the_headers(tmp_path: Path) -> None:
    plain = parse(forecast_dash_workbook(tmp_path / "a.xlsx")).rows()
    swapped = parse(forecast_dash_workbook(tmp_path / "b.xlsx", swap_columns=True)).rows()
    pd.testing.assert_frame_equal(plain, swapped)


def test_a_dash_without_a_per_cent_change_is_quarantined_not_guessed(tmp_path: Path) -> None:
    path = forecast_dash_workbook(tmp_path / "deflators-forecast-dash.xlsx")
    wb = openpyxl.load_workbook(path)
    wb.active["D10"] = None  # 2013-14: '-' and no per-cent change
    wb.save(path)
    result = parse(path)
    rows = result.rows()
    assert list(rows["year"]) == ["2009-10", "2010-11", "2011-12", "2012-13"]
    reasons = {q["row"]: q["reason"] for q in result.quarantine}
    assert "no per-cent change" in reasons[10]
    assert "no 2013-14 index" in reasons[11]  # its change has nothing to apply to
    assert result.rows_read == len(rows) + len(result.quarantine)


def test_a_workbook_without_an_index_header_is_refused_naming_it(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["Financial year", "GDP deflator", "% change"])
    wb.active.append(["2009-10", 80.0, 1.0])
    path = tmp_path / "no-base-year-header.xlsx"
    wb.save(path)
    assert not HmtDeflatorsAdapter().sniff(path, read_head(path))
    with pytest.raises(InputFileError, match=r"no-base-year-header\.xlsx"):
        parse(path)


def test_financial_year_labels() -> None:
    assert financial_year("2019-20 (1), (2)") == "2019-20"
    assert financial_year("1999-00") == "1999-00"
    assert financial_year("2019-21") is None and financial_year(2011) is None
    assert financial_year("(1)") is None


@pytest.mark.mirror
def test_the_real_workbook(mirror: Path) -> None:
    path = mirror / REAL_WORKBOOK
    assert HmtDeflatorsAdapter().sniff(path, read_head(path))
    result = parse(path)
    rows = result.rows().set_index("year")
    assert not result.quarantine and result.rows_read == len(rows) == 70
    outturn = rows[rows["status"] == "outturn"]
    assert (outturn.index.min(), outturn.index.max()) == ("1955-56", "2018-19")
    assert rows.loc["2018-19", "index"] == 100
    assert rows.loc["2010-11", "index"] == pytest.approx(87.043975)
    assert rows.loc["2008-09", "index"] == pytest.approx(84.190175)
    # forecast years: '-' in the workbook, derived from the published per-cent changes
    forecast = rows[rows["status"] == "forecast"]
    assert list(forecast.index) == [f"{y}-{(y + 1) % 100:02d}" for y in range(2019, 2025)]
    assert rows.loc["2019-20", "index"] == pytest.approx(100 * (1 + 1.916868962219013 / 100))
    assert forecast["index"].is_monotonic_increasing and forecast["index"].min() > 100
    factor, base = real_terms_factor(rows.reset_index(), "2010-11")
    assert base == "2018-19" and factor == pytest.approx(100 / 87.043975)


# -- pure conversions ----------------------------------------------------------------------------
SERIES = pd.DataFrame(
    {
        "year": ["2009-10", "2010-11", "2011-12", "2012-13"],
        "index": [80.0, 90.0, 100.0, 110.0],
        "status": ["outturn", "outturn", "outturn", "forecast"],
        "source_id": "test",
    }
)


def test_the_default_prices_year_is_the_latest_outturn_not_a_forecast() -> None:
    assert latest_outturn(SERIES) == "2011-12"
    assert real_terms_factor(SERIES, "2009-10") == (pytest.approx(100 / 80), "2011-12")
    assert real_terms_factor(SERIES, "2009-10", "2012-13")[0] == pytest.approx(110 / 80)
    assert real_terms_factors(SERIES, ["2009-10", "2010-11", "2020-21"], "2010-11") == {
        "2009-10": pytest.approx(90 / 80),
        "2010-11": 1.0,
    }
    with pytest.raises(TotalPlaceError, match=r"prices year '2030-31'.*2009-10 to 2012-13"):
        real_terms_factor(SERIES, "2009-10", "2030-31")
    assert prices_label("2018-19") == "(2018-19 prices)"


def test_in_prices_keeps_pence_whole_and_leaves_other_columns() -> None:
    frame = pd.DataFrame({"amount_pence": [100, 333], "per_head_gbp": [1.5, 2.0], "n": [1, 2]})
    out = in_prices(frame, 1.5, ["amount_pence", "per_head_gbp", "missing"])
    assert out["amount_pence"].tolist() == [150, 500] and out["amount_pence"].dtype == "int64"
    assert out["per_head_gbp"].tolist() == [2.25, 3.0] and out["n"].tolist() == [1, 2]
    assert frame["amount_pence"].tolist() == [100, 333]  # the input is not changed


def test_reconciliation_rows_get_real_columns() -> None:
    frame = pd.DataFrame({"year": ["2009-10", "2008-09"], "tool_gbp": [800.0, 5.0]})
    out = with_real_column(frame, SERIES, "2010-11")
    assert out["tool_real_gbp"].iloc[0] == pytest.approx(900.0)
    assert pd.isna(out["tool_real_gbp"].iloc[1]) and set(out["prices"]) == {"2010-11"}


def test_describe_real_terms_says_when_the_prices_year_is_a_forecast() -> None:
    real = {"base_year": "2024-25", "base_is_forecast": True, "factor": 1.3}
    line = describe_real_terms(real | {"total_gbp": 1300.0, "per_head_gbp": 13.0})
    assert line == "in 2024-25 forecast prices: £1,300 (£13 per head; GDP deflator x1.3000)"


# -- counts after `totalplace build` -------------------------------------------------------------
@pytest.mark.mirror
def test_a_plain_build_gives_counts_in_latest_outturn_prices(workspace: Any) -> None:
    res = CliRunner().invoke(
        app,
        ["count", "--place", "Kent", "--year", "2010-11", "--format", "json"],
        env={"TOTALPLACE_WORKSPACE": str(workspace.settings.workspace)},
    )
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    real = body["real_terms"]
    assert real["base_year"] == "2018-19" and real["base_is_forecast"] is False
    assert real["factor"] == pytest.approx(100 / 87.043975)
    assert real["total_gbp"] == pytest.approx(body["total_gbp"] * 100 / 87.043975, abs=0.01)
    assert real["source"] == "hmt_gdp_deflators_2020_03"
    older = workspace.count("Kent", "2010-11", prices="2008-09").real_terms
    assert older["base_year"] == "2008-09"
    assert older["factor"] == pytest.approx(84.190175 / 87.043975)
    res = CliRunner().invoke(
        app,
        ["count", "--place", "Kent", "--year", "2010-11", "--prices", "2030-31"],
        env={"TOTALPLACE_WORKSPACE": str(workspace.settings.workspace)},
    )
    assert res.exit_code == 1 and "2030-31" in res.output


@pytest.mark.mirror
def test_the_series_loaded_last_is_used(built_settings: Any, tmp_path: Path) -> None:
    from totalplace.config import Settings
    from totalplace.workspace import Workspace

    settings = Settings(workspace=tmp_path / "ws", mirror=built_settings.mirror)
    settings.workspace.mkdir()
    shutil.copy(built_settings.store_path, settings.store_path)
    book = forecast_dash_workbook(tmp_path / "deflators-forecast-dash.xlsx")
    res = CliRunner().invoke(app, ["deflators", str(book), "--workspace", str(settings.workspace)])
    assert res.exit_code == 0 and "6 financial years" in res.output, res.output
    ws = Workspace(settings)
    try:
        real = ws.count("Croydon", "2010-11").real_terms
        assert real is not None and real["base_year"] == "2012-13"
        assert real["factor"] == pytest.approx(100 / 81.6)
        assert ws.count("Croydon", "2009-10", prices="2014-15").real_terms["base_is_forecast"]
        assert ws.count("Croydon", "2008-09").real_terms is None  # not in this series: cash
    finally:
        ws.store.close()
