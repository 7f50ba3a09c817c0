"""totalplace.queries: the pure shaping on tiny frames, and the store queries on the real data
(the session's built workspace; skipped with a reason where the mirror is absent)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from totalplace import queries
from totalplace.count.engine import district_lines
from totalplace.queries import LineFilter

SOUTH_EAST = "E12000008"

# -- pure shaping ------------------------------------------------------------------------------


@pytest.fixture()
def spend() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("D1", "Dept of Health", "NHS and health", "7", "7. Health", "apportioned", 1_000),
            ("D1", "Kent", "Councils", "9", "9. Education", "actual", 500),
            ("D2", "Dept of Health", "NHS and health", "7", "7. Health", "apportioned", 2_000),
            ("D3", "Dept of Health", "NHS and health", "7", "7. Health", "apportioned", 300),
        ],
        columns=[*queries.SPEND_KEY, "amount_pence"],
    )


@pytest.fixture()
def reference() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area_code": ["D1", "D2", "D3", "D4"],
            "area_name": ["One", "Two", "Three", "Four"],
            "utla_code": ["C1", "C1", "D3", "D4"],
            "utla_name": ["County", "County", "Three", "Four"],
            "region_code": ["R1", "R1", "R1", "R2"],
            "region_name": ["South", "South", "South", "North"],
        }
    )


@pytest.fixture()
def population() -> pd.DataFrame:
    return pd.DataFrame({"area_code": ["D1", "D2", "D3", "D4"], "population": [10, 20, 3, 0]})


def test_measure_by_area_at_district_and_upper_tier(
    spend: pd.DataFrame, reference: pd.DataFrame, population: pd.DataFrame
) -> None:
    d = queries.measure_by_area(spend, reference, population, regions=["R1"])
    assert list(d["area_code"]) == ["D1", "D2", "D3"]
    assert list(d["amount_pence"]) == [1_500, 2_000, 300]
    assert list(d["per_head_gbp"]) == [1.5, 1.0, 1.0]
    ut = queries.measure_by_area(spend, reference, population, level="upper_tier")
    county = ut.set_index("area_code").loc["C1"]
    assert county["area_name"] == "County"
    assert county["amount_pence"] == 3_500 and county["population"] == 30
    assert pd.isna(ut.set_index("area_code").loc["D4", "per_head_gbp"])  # no people: n/a
    assert ut["amount_pence"].sum() == spend["amount_pence"].sum()


def test_measure_by_area_filters_function_and_agency(
    spend: pd.DataFrame, reference: pd.DataFrame, population: pd.DataFrame
) -> None:
    d = queries.measure_by_area(spend, reference, population, function_code="9")
    assert d.set_index("area_code")["amount_pence"].to_dict() == {
        "D1": 500,
        "D2": 0,
        "D3": 0,
        "D4": 0,
    }
    d = queries.measure_by_area(spend, reference, population, agency_type="NHS and health")
    assert d["amount_pence"].sum() == 3_300


def test_group_totals_sum_members_and_divide_by_their_people(
    spend: pd.DataFrame, population: pd.DataFrame
) -> None:
    groups = {"Pilot": ["D1", "D2"], "Alone": ["D3"], "Empty": []}
    t = queries.group_totals(spend, population, groups).set_index("name")
    assert t.loc["Pilot", "amount_pence"] == 3_500 and t.loc["Pilot", "population"] == 30
    assert t.loc["Alone", "per_head_gbp"] == 1.0
    assert t.loc["Empty", "amount_pence"] == 0
    by = queries.group_totals(spend, population, groups, by="function")
    pilot = by[by["name"] == "Pilot"].set_index("function")["amount_pence"]
    assert pilot.to_dict() == {"7. Health": 3_000, "9. Education": 500}


def _naive_group_totals(
    spend: pd.DataFrame, population: pd.DataFrame, members: dict[str, list[str]], by: str | None
) -> dict[tuple[str, Any], tuple[int, int]]:
    """The obvious loop over groups: {(name, by value): (amount_pence, population)}."""
    pop = population.set_index("area_code")["population"]
    out: dict[tuple[str, Any], tuple[int, int]] = {}
    for name, codes in members.items():
        codes = list(dict.fromkeys(codes))
        part = spend[spend["area_code"].isin(codes)]
        people = int(pop.reindex(codes).fillna(0).sum())
        if by is None:
            out[(name, None)] = (int(part["amount_pence"].sum()), people)
        else:
            for value, amount in part.groupby(by)["amount_pence"].sum().items():
                out[(name, value)] = (int(amount), people)
    return out


@given(
    groups=st.dictionaries(
        st.sampled_from(["A", "B", "C", "England"]),
        st.lists(st.sampled_from(["D1", "D2", "D3", "D4", "D9"]), max_size=6),
        max_size=4,
    ),
    by=st.sampled_from([None, "function", "agency_type"]),
)
def test_group_totals_equal_the_obvious_loop(groups: dict[str, list[str]], by: str | None) -> None:
    spend = pd.DataFrame(
        [
            ("D1", "Dept of Health", "NHS and health", "7", "7. Health", "apportioned", 1_000),
            ("D1", "Kent", "Councils", "9", "9. Education", "actual", -500),
            ("D2", "Dept of Health", "NHS and health", "7", "7. Health", "apportioned", 2_000),
            ("D3", "Dept of Health", "NHS and health", "7", "7. Health", "apportioned", 300),
            ("D4", "Kent", "Councils", "9", "9. Education", "actual", 7),
        ],
        columns=[*queries.SPEND_KEY, "amount_pence"],
    )
    population = pd.DataFrame({"area_code": ["D1", "D2", "D3"], "population": [10, 20, 300]})
    got = queries.group_totals(spend, population, groups, by=by)
    assert list(dict.fromkeys(got["name"])) == [
        n for n in groups if by is None or any(c in set(spend["area_code"]) for c in groups[n])
    ]
    as_dict = {
        (r["name"], r[by] if by else None): (r["amount_pence"], r["population"])
        for _, r in got.iterrows()
    }
    assert as_dict == _naive_group_totals(spend, population, groups, by)


@given(
    groups=st.dictionaries(
        st.sampled_from(["A", "B", "England"]),
        st.lists(st.sampled_from(["D1", "D2", "D3", "D9"]), max_size=4),
        min_size=1,
        max_size=3,
    ),
    by=st.sampled_from([None, "function"]),
)
def test_group_totals_over_years_equal_one_year_at_a_time(
    groups: dict[str, list[str]], by: str | None
) -> None:
    rows = [
        ("D1", "Dept of Health", "NHS and health", "7", "7. Health", "apportioned", 1_000),
        ("D1", "Kent", "Councils", "9", "9. Education", "actual", 500),
        ("D2", "Dept of Health", "NHS and health", "7", "7. Health", "apportioned", 2_000),
        ("D3", "Kent", "Councils", "9", "9. Education", "actual", 30),
    ]
    cols = [*queries.SPEND_KEY, "amount_pence"]
    y1 = pd.DataFrame(rows, columns=cols)
    y2 = pd.DataFrame(rows[:2], columns=cols).assign(amount_pence=[7, -3])
    p1 = pd.DataFrame({"area_code": ["D1", "D2", "D3"], "population": [10, 20, 30]})
    p2 = pd.DataFrame({"area_code": ["D1", "D2"], "population": [11, 21]})
    both = queries.group_totals(
        pd.concat([y1.assign(year="2009-10"), y2.assign(year="2010-11")]),
        pd.concat([p1.assign(year="2009-10"), p2.assign(year="2010-11")]),
        groups,
        by=by,
    )
    for year, spend, pop in (("2009-10", y1, p1), ("2010-11", y2, p2)):
        one = queries.group_totals(spend, pop, groups, by=by)
        part = both[both["year"] == year].drop(columns="year").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, one, check_dtype=False)


@pytest.fixture()
def lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area_name": ["Ashford", "Dover", "Ashford", "Dover"],
            "agency": ["Department of Health", "Department of Health", "Kent", "Kent"],
            "agency_type": ["NHS and health", "NHS and health", "Councils", "Councils"],
            "function": ["7. Health", "7. Health", "9. Education", "9. Education"],
            "subfunction": ["7.A Medical services", "7.A Medical services", None, None],
            "service_line": [None, None, "Education services", "Education services"],
            "description": ["S1", "S1", None, None],
            "basis": ["apportioned", "apportioned", "actual", "actual"],
            "driver": ["population", "population", "own outturn", "own outturn"],
            "confidence": ["apportioned", "apportioned", "actual", "actual"],
            "source_id": ["cra_2014", "cra_2014", "rs_2010_11", "rs_2010_11"],
            "file": ["cra.xlsx", "cra.xlsx", "rs.xls", "rs.xls"],
            "row": [10, 10, 4, 4],
            "amount_pence": [300, 100, 250, 50],
            "rid": [1, 1, 2, 2],
        }
    )


def test_lines_page_filters_sorts_and_pages(lines: pd.DataFrame) -> None:
    page, n = queries.lines_page(lines, LineFilter(basis="actual"), (("amount_gbp", True),), 0, 1)
    assert n == 2 and len(page) == 1
    assert page.iloc[0]["amount_gbp"] == 0.5 and page.iloc[0]["area_name"] == "Dover"
    page, n = queries.lines_page(lines, LineFilter(text="ashford"), (("amount_gbp", False),))
    assert list(page["amount_pence"]) == [300, 250]
    assert list(page.columns) == [*queries.LINE_COLUMNS, "amount_gbp"]  # provenance kept
    _, n = queries.lines_page(lines, LineFilter(agency_type="Police"))
    assert n == 0
    page, _ = queries.lines_page(lines, LineFilter(), (("no_such_column", True),), 2, 99)
    assert len(page) == 2


def test_flow_table_names_funders_and_keeps_replaced_apart(lines: pd.DataFrame) -> None:
    replaced = pd.DataFrame(
        {
            "agency_type": ["Councils"],
            "function_code": ["9"],
            "function": ["9. Education"],
            "driver": ["school age"],
            "amount_pence": [999],
        }
    )
    lg = lines.iloc[[0]].assign(agency="Local government (England)", agency_type="Councils")
    flows = queries.flow_table(pd.concat([lines, lg], ignore_index=True), replaced)
    counted = flows[~flows["replaced"]]
    assert counted["amount_pence"].sum() == lines["amount_pence"].sum() + 300
    assert set(counted["funder"]) == {
        "Department of Health",
        "Kent (council)",
        "Local government (England)",
    }
    rep = flows[flows["replaced"]]
    assert rep.iloc[0]["funder"] == "Local government (England)"
    assert rep["amount_pence"].sum() == 999
    kinds = counted.set_index("funder")["funder_kind"].to_dict()
    assert kinds["Kent (council)"] == "council" and kinds["Department of Health"] == "central"


# -- the real data -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(workspace: Any) -> Any:
    return workspace.store


@pytest.mark.mirror
@pytest.mark.parametrize("year", ["2010-11", "2008-09"])
def test_district_spend_equals_the_engines_lines(store: Any, year: str) -> None:
    """The fast path and the engine agree to the penny for every district x agency x function
    x basis of a region (with councils' outturn in 2010-11, without in 2008-09)."""
    spend = queries.district_spend(store, year)
    engine, _ = district_lines(store, year, regions=[SOUTH_EAST])
    keys = ["area_code", "agency", "function_code", "basis"]
    ours = spend[spend["area_code"].isin(set(engine["area_code"]))]
    a = engine.groupby(keys, dropna=False)["amount_pence"].sum()
    b = ours.groupby(keys, dropna=False)["amount_pence"].sum()
    assert a.equals(b)
    assert set(spend["basis"]) == (
        {"apportioned", "actual"} if year == "2010-11" else {"apportioned"}
    )


@pytest.mark.mirror
def test_a_pilots_districts_add_up_to_its_count(workspace: Any, store: Any) -> None:
    result = workspace.count("Kent", "2010-11")
    spend = queries.district_spend(store, "2010-11")
    pop = queries.count_population(store, "2010-11")
    assert pop.year == result.population_year
    t = queries.group_totals(spend, pop.frame, {"Kent": result.place_codes}).iloc[0]
    assert t["amount_pence"] == result.total_pence
    assert t["population"] == result.population
    assert t["per_head_gbp"] == pytest.approx(result.per_head_gbp)
    by_type = (
        spend[spend["area_code"].isin(result.place_codes)]
        .groupby("agency_type")["amount_pence"]
        .sum()
    )
    assert (
        by_type.to_dict()
        == result.by("agency_type").set_index("agency_type")["amount_pence"].to_dict()
    )


@pytest.mark.mirror
def test_upper_tier_measure_sums_its_districts(store: Any) -> None:
    spend = queries.district_spend(store, "2012-13")
    ref = queries.district_reference(store)
    pop = queries.district_population(store, 2019)
    d = queries.measure_by_area(spend, ref, pop, regions=[SOUTH_EAST])
    ut = queries.measure_by_area(spend, ref, pop, level="upper_tier", regions=[SOUTH_EAST])
    assert (
        ut["amount_pence"].sum()
        == d["amount_pence"].sum()
        == (spend[spend["area_code"].isin(set(d["area_code"]))]["amount_pence"].sum())
    )
    kent = ut.set_index("area_code").loc["E10000016"]  # Kent County Council's area
    assert kent["area_name"] == "Kent" and kent["population"] > 1_500_000
    geo = queries.geojson(store, "upper_tier")
    assert set(ut["area_code"]) <= {str(f["id"]) for f in geo["features"]}


@pytest.mark.mirror
def test_flow_table_of_a_count_conserves_the_total(workspace: Any) -> None:
    from dashboards.figures.sankey import REPLACED_COLOUR, flow_sankey

    result = workspace.count("Kent", "2010-11")
    flows = queries.flow_table(result.lines, result.replaced)
    assert flows.loc[~flows["replaced"], "amount_pence"].sum() == result.total_pence
    assert (
        flows.loc[flows["replaced"], "amount_pence"].sum() == result.replaced["amount_pence"].sum()
    )
    fig = flow_sankey(flows, "Kent, 2010-11")
    link = fig.data[0].link
    funders = set(link.source) - set(link.target)  # the first column: never a target
    stage1 = [
        v
        for v, c, src in zip(link.value, link.color, link.source, strict=True)
        if src in funders and c != REPLACED_COLOUR
    ]
    assert sum(stage1) - fig.layout.meta["credits_stage1_gbp"] == pytest.approx(result.total_gbp)
    assert fig.layout.meta["total_gbp"] == pytest.approx(result.total_gbp)


@pytest.mark.mirror
def test_explore_pages_the_count_lines(workspace: Any) -> None:
    result = workspace.count("Kent", "2010-11")
    page, n = queries.lines_page(
        result.lines, LineFilter(basis="actual"), (("amount_gbp", False),), 0, 50
    )
    assert n == (result.lines["basis"] == "actual").sum() and len(page) == 50
    assert page["amount_gbp"].is_monotonic_decreasing
    assert page[["source_id", "file", "row", "driver"]].notna().all().all()


@pytest.mark.mirror
def test_what_is_loaded(store: Any) -> None:
    loaded = queries.loaded_sources(store)
    assert {"cra_2010", "cra_2014", "rs_2010_11"} <= set(loaded["source_id"])
    cra = loaded.set_index("source_id").loc["cra_2014"]
    assert cra["publisher"] == "HM Treasury" and "Open Government Licence" in cra["licence"]
    assert cra["url"].startswith("https://")
    cover = queries.coverage(store)
    assert cover["rows"].sum() == store.query("SELECT count(*) AS n FROM ledger")["n"].iloc[0]
    assert {"2004-05", "2013-14"} <= set(cover["year"])
    counts = queries.quarantine_counts(store)
    sample = queries.quarantine_sample(store, limit=5)
    assert counts["rows"].sum() == store.query("SELECT count(*) AS n FROM quarantine")["n"].iloc[0]
    assert len(sample) == min(5, counts["rows"].sum()) and sample["reason"].notna().all()
    assert queries.population_years(store)[0] == 2019
    dims = queries.spend_dimensions(store)
    assert "Department of Health" in set(
        dims.loc[dims["agency_type"] == "NHS and health", "agency"]
    )
    fns = queries.functions(store)
    assert list(fns["function_code"])[:2] == ["1", "2"]
