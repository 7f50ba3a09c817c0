"""Councils' own outturn (DCLG RS) for every CRA 2014 year, 2010-11 to 2013-14, on the real mirror:
each file accounted for, its columns read by header and mapped to COFOG by year, outturn in place
of CRA local-government current spend, and public health (councils' from April 2013) counted once.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from totalplace.count import engine
from totalplace.count.engine import (
    CountOptions,
    apportioned_rows,
    count_place,
    district_lines,
    outturn_years,
    rs_crosswalk,
    unplaced_outturn,
)
from totalplace.ingest.adapters.revenue_outturn import RevenueOutturnAdapter
from totalplace.ingest.base import ParseContext
from totalplace.ingest.excel import open_workbook, text
from totalplace.sources.catalogue import load_catalogue

YEARS = ("2010-11", "2011-12", "2012-13", "2013-14")
SOUTH_EAST = "E12000008"
#: Bodies RS lists whose areas cross district boundaries: unplaced, and the count says so.
UNPLACED = r"National Park Authority|Broads|Lee Valley Regional Park Authority"
pytestmark = pytest.mark.mirror


def rs_source(year: str):  # type: ignore[no-untyped-def]
    return load_catalogue()[f"rs_{year.replace('-', '_')}"]


def test_every_rs_year_is_catalogued_and_counted_as_outturn(workspace) -> None:  # type: ignore[no-untyped-def]
    sources = [rs_source(y) for y in YEARS]
    assert tuple(s.id for s in sources) == engine.OUTTURN_SOURCES
    for s in sources:
        assert s.publisher == "Department for Communities and Local Government"
        assert s.licence.startswith("Open Government Licence")
        assert s.download_url.startswith("https://") and len(s.sha256) == 64 and s.bytes > 10**6
    assert outturn_years(workspace.store) == list(YEARS)


@pytest.mark.parametrize("year", YEARS)
def test_each_rs_file_is_accounted_for_and_read_by_its_headers(mirror: Path, year: str) -> None:
    """Every authority row is in the ledger or quarantine (none is); each year's service
    columns, found by header text, are exactly the crosswalk lines valid that year; and they
    add up to the sheet's own total service expenditure (DCLG rounds lines and total apart)."""
    path = mirror / rs_source(year).path
    result = RevenueOutturnAdapter().parse(path, ParseContext(source_id="t", options={}))
    out = result.rows()
    excluded = result.skipped.get("excluded: all zero", 0)
    assert result.rows_read == 444 == out["row"].nunique() + len(result.quarantine) + excluded
    assert result.quarantine == [] and set(out["year"]) == {year}
    assert set(out["service_line"]) == set(rs_crosswalk(year)["service_line"])
    with open_workbook(path) as book:
        sheet = next(n for n in book.sheet_names if n.endswith("(1)") and "Data" in n)
    raw = pd.read_excel(path, sheet_name=sheet, header=5)
    raw = raw[raw["E-code"].astype(str).str.fullmatch(r"E\d{4}")].set_index("E-code")
    total = next(c for c in raw.columns if text(c).upper().startswith("TOTAL SERVICE"))
    lines = list(rs_crosswalk(year)["service_line"])
    services = (raw[lines] * 100_000).round().sum(axis=1).astype("int64")
    published = (raw[total] * 100_000).round().astype("int64")
    mine = out.groupby("agency_code")["amount_pence"].sum().reindex(raw.index, fill_value=0)
    assert (mine == services).all()
    assert (mine - published).abs().max() <= 100_000  # at most £1 thousand of rounding


def test_crosswalk_lines_follow_the_rs_columns_by_year() -> None:
    lines = {y: set(rs_crosswalk(y)["service_line"]) for y in YEARS}
    assert "Social care" in lines["2010-11"] and "Adult Social Care" not in lines["2010-11"]
    for y in YEARS[1:]:
        assert {"Children Social Care", "Adult Social Care"} <= lines[y]
        assert "Social care" not in lines[y]
    assert "Public Health" in lines["2013-14"] and "Public Health" not in lines["2012-13"]
    for y in YEARS:  # one COFOG division per line and year
        assert not rs_crosswalk(y)["service_line"].duplicated().any()


@pytest.mark.parametrize("year", YEARS)
def test_only_park_authorities_are_unplaced_every_year(workspace, year: str) -> None:  # type: ignore[no-untyped-def]
    unplaced = unplaced_outturn(workspace.store, year)
    assert len(unplaced) == 11 and unplaced["agency"].str.contains(UNPLACED).all()


def test_police_and_crime_commissioners_cover_their_force_area(workspace) -> None:  # type: ignore[no-untyped-def]
    def footprint(code: str) -> set[str]:
        return set(
            workspace.store.query("SELECT area_code FROM footprints WHERE agency_code = ?", [code])[
                "area_code"
            ]
        )

    police = workspace.store.query(
        "SELECT DISTINCT agency_code, area_code, year FROM ledger "
        "WHERE agency_type = 'Police' AND list_contains(?, source_id)",
        [list(engine.OUTTURN_SOURCES)],
    )
    pcc = police[police["year"] >= "2012-13"]
    assert len(set(pcc["agency_code"])) == 37 and pcc["agency_code"].str.startswith("E70").all()
    assert footprint("ECODE:E7022") == footprint("ECODE:E6022") != set()  # Kent PCC, Kent PA
    assert all(footprint(c) for c in set(pcc["area_code"]))


@pytest.mark.parametrize("year", YEARS)
def test_kent_counts_its_councils_own_outturn(workspace, year: str) -> None:  # type: ignore[no-untyped-def]
    kent = workspace.count("Kent", year)
    without = count_place(
        workspace.store, workspace.place("Kent"), year, CountOptions(use_outturn=False)
    )
    actual = int(kent.rows.loc[kent.rows["basis"] == "actual", "amount_pence"].sum())
    replaced = int(kent.replaced["amount_pence"].sum())
    assert actual > 0 and replaced > 0
    assert kent.total_pence == without.total_pence - replaced + actual  # replaced, not added
    assert not any("not loaded for" in c for c in kent.caveats)
    assert {"Councils", "Police", "Fire and rescue"} <= set(
        kent.rows.loc[kent.rows["basis"] == "actual", "agency_type"]
    )


def test_a_year_without_outturn_says_which_years_have_it(workspace) -> None:  # type: ignore[no-untyped-def]
    kent = workspace.count("Kent", "2009-10")
    said = [c for c in kent.caveats if "not loaded for 2009-10" in c]
    assert said and "loaded: 2010-11, 2011-12, 2012-13, 2013-14" in said[0]


@pytest.mark.parametrize("year", YEARS)
def test_south_east_districts_stay_close_to_cra_identifiable_total(workspace, year: str) -> None:  # type: ignore[no-untyped-def]
    lines, replaced = district_lines(workspace.store, year, regions=[SOUTH_EAST])
    cra = workspace.store.query(
        "SELECT sum(amount_pence)::BIGINT AS n FROM ledger "
        "WHERE source_id = 'cra_2014' AND year = ? AND area_code = ?",
        [year, SOUTH_EAST],
    )["n"].iloc[0]
    total = int(lines["amount_pence"].sum())
    actual = int(lines.loc[lines["basis"] == "actual", "amount_pence"].sum())
    assert actual > 0 and len(replaced)
    assert total == cra - int(replaced["amount_pence"].sum()) + actual
    assert abs(total - cra) / cra < 0.08


def test_2010_11_does_not_depend_on_the_later_years(workspace, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Loading 2011-12 to 2013-14 leaves every 2010-11 district line as with 2010-11 alone."""

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(["source_id", "rid", "area_code"], ignore_index=True)

    now = district_lines(workspace.store, "2010-11")
    monkeypatch.setattr(engine, "OUTTURN_SOURCES", ("rs_2010_11",))
    alone = district_lines(workspace.store, "2010-11")
    assert len(now[0]) > 100_000 and (now[0]["basis"] == "actual").any()
    for got, want in zip(now, alone, strict=True):
        pd.testing.assert_frame_equal(ordered(got), ordered(want))


def test_public_health_2013_14_is_counted_once_with_the_council(workspace) -> None:  # type: ignore[no-untyped-def]
    """CRA 2014 records councils' public health as local-government health (7.A): in Kent it
    is replaced by the councils' own public health outturn, by exactly that amount, and the
    Department of Health's lines are untouched."""
    place = workspace.place("Kent")
    kent = workspace.count("Kent", "2013-14")
    without = count_place(workspace.store, place, "2013-14", CountOptions(use_outturn=False))
    councils = kent.reported_by_councils
    health = councils[councils["service_line"] == "Public Health"]
    assert int(health.loc[health["agency"] == "Kent CC", "amount_pence"].sum()) > 0
    cra = apportioned_rows(workspace.store, "2013-14", keep=list(place.districts))
    lg_health = cra[
        (cra["function_code"] == "7")
        & cra["agency"].str.startswith("Local government")
        & (cra["spend_kind"] == "current")
    ]
    assert int(lg_health["amount_pence"].sum()) > 0
    replaced_health = kent.replaced[kent.replaced["function_code"] == "7"]
    assert int(replaced_health["amount_pence"].sum()) == int(lg_health["amount_pence"].sum())
    rows, before = kent.rows, without.rows
    is_health = rows["function_code"] == "7"
    assert set(rows.loc[is_health & (rows["agency_type"] == "Councils"), "basis"]) == {"actual"}
    nhs = rows[is_health & (rows["basis"] == "apportioned")]["amount_pence"].sum()
    nhs_before = before[(before["function_code"] == "7") & (before["agency_type"] != "Councils")]
    assert nhs == nhs_before["amount_pence"].sum()  # Department of Health lines untouched
    change = int(rows.loc[is_health, "amount_pence"].sum()) - int(
        before.loc[before["function_code"] == "7", "amount_pence"].sum()
    )
    assert change == int(health["amount_pence"].sum()) - int(lg_health["amount_pence"].sum())
    assert any("Public health moved from the NHS" in c for c in kent.caveats)
    earlier = workspace.count("Kent", "2012-13")
    assert not (earlier.rows["function_code"] == "7").loc[earlier.rows["basis"] == "actual"].any()
    assert not any("Public health moved" in c for c in earlier.caveats)
