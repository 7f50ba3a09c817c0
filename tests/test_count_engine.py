"""The count engine on the real mirror data: exact apportionment, release precedence, drivers,
outturn in place of CRA, two-tier places, and the CLI's JSON."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from totalplace.count.apportion import apportion
from totalplace.count.engine import (
    CountOptions,
    apportioned_rows,
    count_districts,
    count_place,
    release_for_year,
)

pytestmark = pytest.mark.mirror


def _cra_region_totals(ws, year: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    sid = release_for_year(ws.store, year)
    return ws.store.query(
        "SELECT area_code AS region_code, sum(amount_pence)::BIGINT AS cra FROM ledger "
        "WHERE source_id = ? AND year = ? AND area_level = 'region' GROUP BY 1",
        [sid, year],
    )


@pytest.mark.parametrize("year", ["2008-09", "2010-11", "2013-14"])
def test_districts_rebuild_every_cra_region_total_exactly(workspace, year: str) -> None:  # type: ignore[no-untyped-def]
    districts = count_districts(workspace.store, year, options=CountOptions(use_outturn=False))
    rebuilt = districts.groupby("region_code", as_index=False)["amount_pence"].sum()
    both = rebuilt.merge(_cra_region_totals(workspace, year), on="region_code")
    assert len(both) == 9
    assert (both["amount_pence"] == both["cra"]).all(), both


def test_every_ledger_row_is_shared_exactly_like_the_reference_algorithm(workspace) -> None:  # type: ignore[no-untyped-def]
    parts = apportioned_rows(workspace.store, "2012-13", regions=["E12000001"])
    by_row = parts.groupby("rid")["amount_pence"].sum()
    src = workspace.store.query(
        "SELECT rowid AS rid, amount_pence FROM ledger WHERE source_id = 'cra_2014' AND "
        "year = '2012-13' AND area_code = 'E12000001'"
    ).set_index("rid")["amount_pence"]
    assert by_row.sort_index().equals(src.sort_index())
    # one row, recomputed with the pure Python reference, district by district
    rid = int(parts.loc[parts["driver"].str.startswith("population"), "rid"].iloc[0])
    mine = parts[parts["rid"] == rid].set_index("area_code")["amount_pence"].to_dict()
    pop = workspace.store.query(
        "SELECT p.area_code, sum(persons)::BIGINT AS w FROM population p JOIN districts d "
        "USING (area_code) WHERE mid_year = 2019 AND d.region_code = 'E12000001' GROUP BY 1"
    )
    ref = apportion(int(src[rid]), dict(zip(pop["area_code"], pop["w"], strict=True)))
    assert mine == ref


def test_the_later_cra_release_wins_for_shared_years(workspace) -> None:  # type: ignore[no-untyped-def]
    assert release_for_year(workspace.store, "2008-09") == "cra_2010"
    assert release_for_year(workspace.store, "2009-10") == "cra_2014"
    assert release_for_year(workspace.store, "2010-11") == "cra_2014"
    result = workspace.count("Birmingham", "2008-09")
    assert "Country and Regional Analysis 2010" in result.release


def test_kent_is_its_twelve_districts_and_sums_by_district(workspace) -> None:  # type: ignore[no-untyped-def]
    kent = workspace.count("Kent", "2012-13")
    assert len(kent.place_codes) == 12 and "E06000035" not in kent.place_codes  # not Medway
    assert kent.total_pence == int(kent.districts["amount_pence"].sum())
    singles = sum(workspace.count(code, "2012-13").total_pence for code in kent.place_codes)
    assert singles == kent.total_pence
    assert kent.population == int(kent.districts["population"].sum())


def test_rows_name_basis_driver_and_a_different_year(workspace) -> None:  # type: ignore[no-untyped-def]
    result = workspace.count("Croydon", "2009-10")  # a year without outturn
    assert set(result.rows["basis"]) == {"apportioned"}
    assert result.rows["driver"].str.contains(r"mid-2019 \(different year\)").all()
    # education is shared by school-age population, old age by 65+
    drivers = set(result.lines.loc[result.lines["function_code"] == "9", "driver"])
    assert any("5-19" in d for d in drivers)


def test_council_outturn_replaces_cra_local_government_current_spend(workspace) -> None:  # type: ignore[no-untyped-def]
    with_out = workspace.count("Kent", "2010-11")
    place = workspace.place("Kent")
    without = count_place(workspace.store, place, "2010-11", CountOptions(use_outturn=False))
    assert with_out.replaced is not None and with_out.reported_by_councils is not None
    actual = int(with_out.rows.loc[with_out.rows["basis"] == "actual", "amount_pence"].sum())
    replaced = int(with_out.replaced["amount_pence"].sum())
    assert actual > 0 and replaced > 0
    assert with_out.total_pence == without.total_pence - replaced + actual
    # Kent County Council's outturn is shared among its districts; police stay apportioned
    agencies = set(with_out.reported_by_councils["agency"])
    assert any("Kent" in a for a in agencies)
    assert "Police" in set(with_out.rows["agency_type"]) | {"Police and fire (local government)"}


def test_dorset_pilot_counts_its_2010_councils_outturn(workspace) -> None:  # type: ignore[no-untyped-def]
    dorset = workspace.count("Dorset, Poole and Bournemouth", "2010-11")
    assert dorset.reported_by_councils is not None
    names = " ".join(sorted(set(dorset.reported_by_councils["agency"])))
    for council in ("Bournemouth", "Poole", "Dorset", "Christchurch"):
        assert council in names


def test_cli_count_json_has_the_documented_fields(built_settings) -> None:  # type: ignore[no-untyped-def]
    from totalplace.cli import app

    res = CliRunner().invoke(
        app,
        [
            "count",
            "--place",
            "Kent",
            "--year",
            "2010-11",
            "--format",
            "json",
            "--workspace",
            str(built_settings.workspace),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    for key in (
        "place",
        "year",
        "population",
        "population_year",
        "total_gbp",
        "per_head_gbp",
        "rows",
    ):
        assert key in data
    assert data["place"] == "Kent" and data["population_year"] == 2010
    assert "Eurostat" in data["population_basis"]
    assert abs(sum(r["amount_gbp"] for r in data["rows"]) - data["total_gbp"]) < 0.01
    assert {"agency_type", "function", "basis", "driver", "amount_gbp"} <= set(data["rows"][0])


def test_unknown_place_and_year_give_clear_errors(built_settings) -> None:  # type: ignore[no-untyped-def]
    from totalplace.cli import app

    ws = ["--workspace", str(built_settings.workspace)]
    res = CliRunner().invoke(app, ["count", "--place", "Atlantis", "--year", "2010-11", *ws])
    assert res.exit_code == 1 and "Atlantis" in res.output
    res = CliRunner().invoke(app, ["count", "--place", "Kent", "--year", "1999-00", *ws])
    assert res.exit_code == 1 and "1999-00" in res.output


def test_police_fire_and_joint_authorities_have_footprints(workspace) -> None:  # type: ignore[no-untyped-def]
    fp = workspace.store.query(
        "SELECT agency_code, count(*) AS n FROM footprints WHERE agency_code LIKE 'ECODE:%' "
        "GROUP BY 1"
    )
    names = workspace.store.query(
        "SELECT DISTINCT area_code, agency FROM ledger WHERE area_code LIKE 'ECODE:%'"
    )
    police = names[names["agency"].str.endswith("Police Authority")]
    assert len(police) >= 36 and set(police["area_code"]) <= set(fp["agency_code"])
    fire = names[names["agency"].str.contains("Fire")]
    assert set(fire["area_code"]) <= set(fp["agency_code"])
    kent_police = names.loc[names["agency"] == "Kent Police Authority", "area_code"].iloc[0]
    kent_districts = set(workspace.place("Kent").districts) | {"E06000035"}  # and Medway
    got = set(
        workspace.store.query(
            "SELECT area_code FROM footprints WHERE agency_code = ?", [kent_police]
        )["area_code"]
    )
    assert got == kent_districts


def test_police_outturn_replaces_cra_police_and_unplaced_spend_is_named(workspace) -> None:  # type: ignore[no-untyped-def]
    kent = workspace.count("Kent", "2010-11")
    actual = kent.rows[(kent.rows["basis"] == "actual") & (kent.rows["agency_type"] == "Police")]
    assert int(actual["amount_pence"].sum()) > 0
    assert (
        "3.1" in " ".join(kent.replaced["function"].astype(str))
        or (kent.replaced["agency_type"] == "Police").any()
    )
    assert any("National Park" in c for c in kent.caveats)


@pytest.mark.parametrize(
    ("spec", "expected", "said"),
    [
        ("29UB", ("E07000105",), "old ONS code"),
        ("E08000020", ("E08000037",), "earlier GSS code"),
        ("E07000048", ("E06000058",), "merged"),
        ("19,19UC,19UD,19UE,19UG,19UH,19UJ,00HN,00HP", ("E06000058", "E06000059"), "abolished"),
    ],
)
def test_places_in_older_codes_are_translated_to_2019_districts(
    workspace,
    spec: str,
    expected: tuple[str, ...],
    said: str,  # type: ignore[no-untyped-def]
) -> None:
    place = workspace.place(spec)
    assert place.districts == expected
    assert place.note is not None and said in place.note


def test_the_2009_dorset_pilot_in_old_codes_counts_like_todays(workspace) -> None:  # type: ignore[no-untyped-def]
    old = workspace.count("19,19UC,19UD,19UE,19UG,19UH,19UJ,00HN,00HP", "2010-11")
    new = workspace.count("Dorset, Poole and Bournemouth", "2010-11")
    assert old.total_pence == new.total_pence
    assert "translated" in old.caveats[0]


def test_per_head_uses_a_year_matched_population_estimate(workspace) -> None:  # type: ignore[no-untyped-def]
    from totalplace.count.engine import year_matched_population

    est = year_matched_population(workspace.store, "2009-10", 2019)
    assert est is not None and len(est) == 317
    # the estimate's England total matches Eurostat's mid-2009 total (rounding per district)
    eu = workspace.store.query(
        "SELECT sum(persons) / 2 AS mid FROM region_population WHERE jan1_year IN (2009, 2010)"
    )["mid"].iloc[0]
    assert abs(int(est["population"].sum()) - eu) < 400
    # shares within a region are the 2019 shares: the count's amounts do not change
    bham = workspace.count("Birmingham", "2009-10")
    assert bham.population_year == 2009 and "Eurostat" in bham.population_basis
    assert bham.population == int(bham.districts["population"].sum())
    assert any("Per-head figures use population" in c for c in bham.caveats)
    assert workspace.count("Birmingham", "2013-14").population_year == 2013
