"""Every figure to its source: a count row's source lines (file, row, line amount, share taken)
sum to the row to the penny, on the real mirror, for apportioned, actual and eliminated rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from totalplace.count.consolidate import read_transfers
from totalplace.count.engine import GROUP, count_place
from totalplace.count.provenance import source_lines, source_lines_json
from totalplace.count.result import ROW_KEY, row_ids
from totalplace.errors import StoreError
from totalplace.ledger.store import Store

pytestmark = pytest.mark.mirror


def _by_row(lines: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in lines.groupby("row_id")["taken_pence"].sum().items()}


def _rows(result) -> dict[str, int]:  # type: ignore[no-untyped-def]
    ids = row_ids(result.rows)
    return {i: int(a) for i, a in zip(ids, result.rows["amount_pence"], strict=True)}


def test_row_key_is_the_engines_grouping() -> None:
    assert set(ROW_KEY) == set(GROUP)


def test_row_ids_are_unique_and_stable(workspace) -> None:  # type: ignore[no-untyped-def]
    result = workspace.count("Kent", "2010-11")
    ids = row_ids(result.rows)
    assert ids.is_unique and list(ids) == list(row_ids(result.rows.copy()))
    assert [r["row_id"] for r in result.to_json()["rows"]] == list(ids)


@pytest.mark.parametrize(("place", "year"), [("Kent", "2010-11"), ("Birmingham", "2008-09")])
def test_every_rows_source_lines_sum_to_it_to_the_penny(workspace, place: str, year: str) -> None:  # type: ignore[no-untyped-def]
    result = workspace.count(place, year)
    lines = source_lines(result, workspace.store)
    assert _by_row(lines) == {k: v for k, v in _rows(result).items() if k in _by_row(lines)}
    assert set(_rows(result)) == set(lines["row_id"])
    assert int(lines["taken_pence"].sum()) == result.total_pence


def test_an_apportioned_row_takes_a_share_of_each_regional_line(workspace) -> None:  # type: ignore[no-untyped-def]
    result = workspace.count("Kent", "2010-11")
    rows = result.rows.assign(row_id=row_ids(result.rows))
    row = rows[(rows["basis"] == "apportioned") & (rows["agency_type"] == "NHS and health")].iloc[0]
    lines = source_lines(result, workspace.store, row["row_id"])
    assert int(lines["taken_pence"].sum()) == int(row["amount_pence"])
    assert (lines["source_id"] == row["source_id"]).all() and lines["file"].notna().all()
    # each CRA line is South East's: Kent's twelve districts take a part of it, never all
    assert ((lines["share"] > 0.1) & (lines["share"] < 0.3)).all()
    assert (lines["districts"] == 12).all()
    first = lines.iloc[0]
    ledger = workspace.store.query(
        'SELECT amount_pence FROM ledger WHERE file = ? AND "row" = ? AND area_code = ? '
        "AND year = ?",
        [first["file"], int(first["row"]), "E12000008", "2010-11"],
    )
    assert int(first["line_pence"]) in set(ledger["amount_pence"].astype(int))


def test_an_actual_row_leads_to_the_councils_outturn_lines(workspace) -> None:  # type: ignore[no-untyped-def]
    result = workspace.count("Kent", "2010-11")
    rows = result.rows.assign(row_id=row_ids(result.rows))
    row = rows[(rows["basis"] == "actual") & (rows["function_code"] == "9")].iloc[0]
    lines = source_lines(result, workspace.store, row["row_id"])
    assert int(lines["taken_pence"].sum()) == int(row["amount_pence"])
    assert set(lines["source_id"]) == {"rs_2010_11"}
    assert (lines["file"].str.contains("RS_2010-11")).all()
    # Kent County Council's footprint is the pilot's: all of its education line is taken
    assert list(lines["share"]) == [1.0] and list(lines["description"]) == ["Education services"]


@pytest.fixture()
def store_with_transfer(built_settings, fixtures: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A copy of the built store with one hand-made transfer between two Kent councils."""
    path = tmp_path / "store.duckdb"
    shutil.copy(built_settings.store_path, path)
    store = Store(path)
    store.replace_table("transfers", read_transfers(fixtures / "transfer-recycling-credits.csv"))
    yield store
    store.close()


def test_an_eliminated_row_leads_to_its_transfer(workspace, store_with_transfer) -> None:  # type: ignore[no-untyped-def]
    result = count_place(store_with_transfer, workspace.place("Kent"), "2010-11")
    lines = source_lines(result, store_with_transfer)
    assert _by_row(lines) == _rows(result)
    elim = lines[lines["basis"] == "eliminated"]
    assert len(elim) == 1
    line = elim.iloc[0]
    assert int(line["taken_pence"]) == -200_000_000 == int(line["line_pence"])
    assert line["share"] == 1.0 and line["description"].startswith("recycling credits")
    assert "RS_2010-11" in line["file"]  # the payer's outturn line it is taken from
    assert json.loads(json.dumps(source_lines_json(elim)))[0]["taken_gbp"] == -2_000_000.0


def test_a_count_from_another_store_is_refused(workspace, store_with_transfer) -> None:  # type: ignore[no-untyped-def]
    result = workspace.count("Kent", "2010-11")
    lines = result.lines.copy()
    lines["row"] = lines["row"] + 1  # as if the store had changed under the count
    moved = type(result)(**{**result.__dict__, "lines": lines})
    with pytest.raises(StoreError, match="changed since this count"):
        source_lines(moved, store_with_transfer)


def test_cli_count_names_each_rows_source_lines(built_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from totalplace.cli import app

    ws = ["--workspace", str(built_settings.workspace)]
    base = ["count", "--place", "Kent", "--year", "2010-11", *ws]
    res = CliRunner().invoke(app, [*base, "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    for row in data["rows"]:
        taken = sum(round(s["taken_gbp"] * 100) for s in row["source_lines"])
        assert taken == round(row["amount_gbp"] * 100)
    row_id = data["rows"][0]["row_id"]
    one = CliRunner().invoke(app, [*base, "--sources", row_id, "--format", "json"])
    assert json.loads(one.stdout) == data["rows"][0]["source_lines"]
    table = CliRunner().invoke(app, [*base, "--sources", row_id])
    assert "source lines of row" in table.output and "to the penny" in table.output
    bad = CliRunner().invoke(app, [*base, "--sources", "000000000000"])
    assert bad.exit_code == 1 and "no count row" in bad.output
    out = tmp_path / "kent.xlsx"
    assert CliRunner().invoke(app, [*base, "--output", str(out)]).exit_code == 0
    wb = openpyxl.load_workbook(out)
    assert {"data", "source lines", "notes"} <= set(wb.sheetnames)
    header = [c.value for c in wb["data"][1]]
    assert "row_id" in header
    assert [c.value for c in wb["source lines"][1]][:4] == ["row_id", "source_id", "file", "row"]


def test_cli_says_which_place_a_name_was_resolved_to(built_settings) -> None:  # type: ignore[no-untyped-def]
    from totalplace.cli import app

    ws = ["--workspace", str(built_settings.workspace)]
    res = CliRunner().invoke(app, ["count", "--place", "Dorset", "--year", "2010-11", *ws])
    assert res.exit_code == 0, res.output
    assert "resolved to Dorset (E06000059)" in res.output
    assert "'Dorset, Poole and Bournemouth'" in res.output
    res = CliRunner().invoke(app, ["count", "--place", "England", "--year", "2010-11", *ws])
    assert res.exit_code == 0 and "England 2010-11" in res.output
    res = CliRunner().invoke(app, ["count", "--place", "South East", "--year", "2010-11", *ws])
    assert res.exit_code == 0 and "South East 2010-11" in res.output


def test_clicking_an_overview_row_lists_its_source_lines(workspace) -> None:  # type: ignore[no-untyped-def]
    import sys

    import dash

    from dashboards import data
    from dashboards.app import create_app

    create_app(workspace)  # registers the pages (and uses this workspace)
    # the module Dash registered (importing it again under another name would register the
    # page twice, which Dash refuses on the next request)
    registered = next(p["module"] for p in dash.page_registry.values() if p["path"] == "/")
    overview = sys.modules[registered]

    try:
        result = data.count("Kent", "2010-11")
        grid = overview._grid_rows(result)
        clicked = next(r for r in grid if r["basis"] == "apportioned")
        records, sentence = overview.show_sources([clicked], "Kent", "2010-11")
        assert sum(round(r["taken_gbp"] * 100) for r in records) == round(
            clicked["amount_gbp"] * 100
        )
        assert all(r["file"] and 0 < r["share"] <= 1 for r in records)
        assert "source lines" in sentence
        assert overview.show_sources([], "Kent", "2010-11") == ([], overview.SOURCES_PROMPT)
    finally:
        data.set_workspace(None)
