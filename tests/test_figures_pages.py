"""The analysts' pages' pure pieces, without a browser: figure builders (trace types, totals
conserved, labels in pounds), URL-state helpers and table downloads (formula-safe, with notes)."""

from __future__ import annotations

import io

import pandas as pd
import plotly.graph_objects as go
import pytest
from openpyxl import load_workbook

from dashboards.components.controls import choose, query_string, split_list
from dashboards.components.downloads import file_stem, graph_config, table_bytes
from dashboards.figures.breakdown import OKABE_ITO
from dashboards.figures.compare import (
    PILOT_GREY,
    compare_lines,
    compare_ranked,
    coverage_heatmap,
    function_stack,
)
from dashboards.figures.maps import area_choropleth, feature_bounds, view_for
from dashboards.figures.sankey import (
    NOT_COUNTED_NODE,
    REPLACED_COLOUR,
    REPLACED_NODE,
    flow_sankey,
    group_funders,
)

# -- Sankey ------------------------------------------------------------------------------------


def _flows(with_credit: bool = False) -> pd.DataFrame:
    rows = [
        (
            "Department for Work and Pensions",
            "central",
            "Benefits and employment (DWP)",
            "10. Social protection",
            290_000_000_000,
            False,
        ),
        ("Department of Health", "central", "NHS and health", "7. Health", 250_000_000_000, False),
        ("Kent (council)", "council", "Councils", "9. Education", 118_000_000_000, False),
        ("Kent (council)", "council", "Councils", "10. Social protection", 51_000_000_000, False),
        (
            "Local government (England)",
            "central",
            "Councils",
            "9. Education",
            14_000_000_000,
            False,
        ),
        (
            "Ashford (council)",
            "council",
            "Councils",
            "5. Environment protection",
            1_300_000_000,
            False,
        ),
        (
            "Local government (England)",
            "central",
            "Councils",
            "9. Education",
            108_000_000_000,
            True,
        ),
        (
            "Local government (England)",
            "central",
            "Councils",
            "10. Social protection",
            56_000_000_000,
            True,
        ),
    ]
    if with_credit:
        rows.append(
            (
                "NHS Pension Scheme",
                "central",
                "Other central government",
                "10. Social protection",
                -5_000_000_000,
                False,
            )
        )
    return pd.DataFrame(
        rows,
        columns=["funder", "funder_kind", "agency_type", "function", "amount_pence", "replaced"],
    )


def _links(fig: go.Figure) -> pd.DataFrame:
    (trace,) = fig.data
    assert isinstance(trace, go.Sankey)
    labels = list(trace.node.label)
    return pd.DataFrame(
        {
            "source": [labels[i] for i in trace.link.source],
            "target": [labels[i] for i in trace.link.target],
            "value": list(trace.link.value),
            "colour": list(trace.link.color),
        }
    )


def test_sankey_conserves_the_count_at_every_stage() -> None:
    flows = _flows()
    total = flows.loc[~flows["replaced"], "amount_pence"].sum() / 100
    fig = flow_sankey(flows, "Kent, 2010-11", min_share=0)
    links = _links(fig)
    counted = links[links["colour"] != REPLACED_COLOUR]
    funders = {"Department", "Kent", "Local", "Ashford"}
    stage1 = counted[counted["source"].str.split().str[0].isin(funders)]
    stage2 = counted.drop(stage1.index)
    assert stage1["value"].sum() == pytest.approx(total)
    assert stage2["value"].sum() == pytest.approx(total)
    assert fig.layout.meta["total_gbp"] == pytest.approx(total)


def test_replaced_lines_run_grey_into_their_own_nodes_and_are_not_counted() -> None:
    flows = _flows()
    replaced = flows.loc[flows["replaced"], "amount_pence"].sum() / 100
    fig = flow_sankey(flows, "Kent, 2010-11", min_share=0)
    links = _links(fig)
    grey = links[links["colour"] == REPLACED_COLOUR]
    into = grey[grey["target"].str.startswith(REPLACED_NODE)]
    out = grey[grey["target"].str.startswith(NOT_COUNTED_NODE)]
    assert into["value"].sum() == pytest.approx(replaced)
    assert out["value"].sum() == pytest.approx(replaced)
    labels = list(fig.data[0].node.label)
    lg = next(label for label in labels if label.startswith("Local government (England)"))
    assert lg == "Local government (England) · £140m + £1.6bn replaced"
    assert "replaced by councils' outturn, not counted" in fig.layout.title.text
    assert fig.layout.meta["replaced_gbp"] == pytest.approx(replaced)


def test_sankey_labels_carry_totals_in_pounds() -> None:
    fig = flow_sankey(_flows(), "Kent, 2010-11", min_share=0)
    labels = list(fig.data[0].node.label)
    assert "Department for Work and Pensions · £2.9bn" in labels
    assert "Councils · £1.8bn" in labels  # 1.18bn + 510m + 140m + 13m, counted only
    assert all(" · £" in label for label in labels)
    assert fig.layout.title.text.startswith("Kent, 2010-11: £7.2bn counted")


def test_sankey_groups_small_funders_and_says_credits_in_words() -> None:
    flows = _flows(with_credit=True)
    grouped = group_funders(flows, top=2)
    names = set(grouped["funder"])
    assert "Other councils (2)" in names  # Kent and Ashford
    assert any(n.startswith("Other central bodies") for n in names)
    assert grouped["amount_pence"].sum() == flows["amount_pence"].sum()

    fig = flow_sankey(flows, "Kent", top=10, min_share=0)
    total = flows.loc[~flows["replaced"], "amount_pence"].sum() / 100
    links = _links(fig)
    counted = links[links["colour"] != REPLACED_COLOUR]
    credits = fig.layout.meta["credits_stage1_gbp"]
    assert credits == pytest.approx(50_000_000)
    stage1 = counted[
        ~counted["source"]
        .str.split(" · ")
        .str[0]
        .isin(["Benefits and employment (DWP)", "NHS and health", "Councils"])
    ]
    assert stage1["value"].sum() - credits == pytest.approx(total)
    assert "net credits of £50m not drawn" in fig.layout.title.text


def test_sankey_without_flows_says_so() -> None:
    fig = flow_sankey(_flows().iloc[0:0], "Kent")
    assert fig.layout.meta["empty"] is True


# -- comparisons -------------------------------------------------------------------------------


def _series() -> pd.DataFrame:
    rows = []
    for year, bump in (("2009-10", 0), ("2010-11", 100)):
        for name, role, per_head in (
            ("Kent", "place", 7000),
            ("Croydon", "pilot", 9000),
            ("Medway", "peer", 7100),
            ("England", "england", 8000),
        ):
            rows.append((name, role, year, 1000, (per_head + bump) * 1000, per_head + bump))
    return pd.DataFrame(
        rows, columns=["name", "role", "year", "population", "amount_gbp", "per_head_gbp"]
    )


def test_compare_lines_draw_the_place_on_top_in_vermillion() -> None:
    fig = compare_lines(_series(), "per_head", "Spend per head")
    scatter = [t for t in fig.data if isinstance(t, go.Scatter) and t.x[0] is not None]
    assert [t.name for t in scatter][-1] == "Kent"  # drawn last, on top
    kent = scatter[-1]
    assert kent.line.color == OKABE_ITO["vermillion"]
    assert list(kent.customdata) == ["£7,000 a head", "£7,100 a head"]
    croydon = next(t for t in scatter if t.name == "Croydon")
    assert croydon.line.color == PILOT_GREY and croydon.showlegend is False
    assert any(t.name == "Other pilots" for t in fig.data)


def test_compare_ranked_is_largest_on_top_with_pound_labels() -> None:
    frame = _series()
    fig = compare_ranked(frame[frame["year"] == "2010-11"], "per_head", "2010-11")
    (bar,) = fig.data
    assert list(bar.y) == ["Kent", "Medway", "England", "Croydon"]  # ascending: top = largest
    assert list(bar.text) == ["£7,100", "£7,200", "£8,100", "£9,100"]
    assert bar.marker.color[0] == OKABE_ITO["vermillion"]


def test_total_measure_uses_pounds_not_per_head() -> None:
    frame = _series()
    fig = compare_ranked(frame[frame["year"] == "2009-10"], "total", "2009-10")
    assert fig.data[0].text[-1] == "£9m"


def test_function_stack_adds_up_to_each_places_total() -> None:
    frame = pd.DataFrame(
        {
            "name": ["Kent", "Kent", "Croydon", "Croydon"],
            "function": ["7. Health", "10. Social protection"] * 2,
            "amount_gbp": [10.0, 5.0, 8.0, 9.0],
            "per_head_gbp": [100.0, 50.0, 80.0, 90.0],
        }
    )
    fig = function_stack(frame, "per_head", "By function", place="Kent")
    assert fig.layout.barmode == "relative"
    assert {t.name for t in fig.data} == {"7. Health", "10. Social protection"}
    totals: dict[str, float] = {}
    for t in fig.data:
        for name, x in zip(t.y, t.x, strict=True):
            totals[name] = totals.get(name, 0) + x
    assert totals == {"Kent": 150.0, "Croydon": 170.0}
    assert "<b>Kent</b>" in fig.layout.yaxis.ticktext


def test_coverage_heatmap_counts_sources_and_names_them() -> None:
    frame = pd.DataFrame(
        {
            "source_id": ["cra_2010", "cra_2014", "rs_2010_11", "cra_2014"],
            "agency_type": ["Councils", "Councils", "Councils", "Police"],
            "year": ["2010-11", "2010-11", "2010-11", "2011-12"],
            "rows": [10, 20, 30, 4],
            "amount_pence": [100, 200, 300, 400],
        }
    )
    fig = coverage_heatmap(frame)
    (hm,) = fig.data
    assert isinstance(hm, go.Heatmap)
    grid = dict(zip(hm.y, hm.z, strict=True))
    assert list(grid["Councils"]) == [3, None]
    assert list(grid["Police"]) == [None, 1]
    councils = list(hm.y).index("Councils")
    assert hm.customdata[councils][0].startswith("cra_2010, cra_2014, rs_2010_11 · 60 rows")
    assert coverage_heatmap(frame.iloc[0:0]).layout.meta["empty"] is True


# -- maps --------------------------------------------------------------------------------------

GEO = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "A",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[0.0, 51.0], [0.5, 51.0], [0.5, 51.5], [0.0, 51.0]]],
            },
        },
        {
            "type": "Feature",
            "id": "B",
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [[[[1.0, 52.0], [1.5, 52.0], [1.5, 52.5], [1.0, 52.0]]]],
            },
        },
    ],
}


def _areas(values: tuple[float, float] = (7000.0, 8000.0)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area_code": ["A", "B"],
            "area_name": ["Ashford", "Bexley"],
            "per_head_gbp": list(values),
            "in_place": [True, False],
        }
    )


def test_area_choropleth_sends_no_boundaries_and_names_the_level() -> None:
    bounds = feature_bounds(GEO)
    assert bounds == {"A": (0.0, 51.0, 0.5, 51.5), "B": (1.0, 52.0, 1.5, 52.5)}
    view = view_for(bounds, ["A", "B"])
    fig = area_choropleth(
        _areas(), "per_head_gbp", "Spend per head", "T", level="district", view=view
    )
    assert all(isinstance(t, go.Choroplethmap) for t in fig.data)
    assert all(t.geojson is None for t in fig.data)
    assert fig.layout.meta["geometry"] == "district"
    assert fig.layout.map.style == "white-bg"
    assert 0.0 < fig.layout.map.center.lon < 1.5
    main, outline = fig.data
    assert list(main.customdata) == ["£7,000", "£8,000"]
    assert "Spend per head" in main.hovertemplate
    assert list(outline.locations) == ["A"]
    assert outline.marker.line.color == OKABE_ITO["vermillion"]
    assert len(fig.to_json()) < 5_000  # figures only: small whatever the boundaries weigh


def test_area_choropleth_says_a_flat_value_in_words() -> None:
    fig = area_choropleth(
        _areas((7000.4, 7000.2)),
        "per_head_gbp",
        "Spend per head",
        "T",
        level="upper_tier",
        view=({"lon": 0, "lat": 52}, 6),
    )
    assert fig.layout.meta["flat"] is True
    assert "£7,000" in fig.layout.annotations[0].text
    assert fig.data[0].showscale is False


def test_area_choropleth_without_figures_says_so() -> None:
    frame = _areas().assign(per_head_gbp=[None, None])
    fig = area_choropleth(
        frame,
        "per_head_gbp",
        "Spend per head",
        "T",
        level="district",
        view=({"lon": 0, "lat": 52}, 6),
    )
    assert fig.layout.meta["empty"] is True


# -- URL state and downloads ------------------------------------------------------------------


def test_url_state_helpers() -> None:
    assert choose("Kent", ["Kent", "Croydon"], "Croydon") == "Kent"
    assert choose("<script>", ["Kent"], "Kent") == "Kent"
    assert split_list("E1,E2, ,E3", ["E1", "E3"]) == ["E1", "E3"]
    assert split_list(["E1", "E2,E3"]) == ["E1", "E2", "E3"]
    assert split_list(None) == []
    state = {"place": "Kent & Medway", "peers": ["E1", "E2"], "q": "", "basis": "all"}
    assert query_string(state) == ("?place=Kent+%26+Medway&peers=E1%2CE2")
    assert query_string({}) == ""


def test_table_downloads_are_formula_safe_with_notes() -> None:
    frame = pd.DataFrame({"agency": ['=HYPERLINK("x")', "Kent"], "amount_gbp": [-1.5, 2.0]})
    notes = ["Source: HM Treasury CRA 2014.", "=not a formula"]
    csv = table_bytes(frame, "csv", notes).decode("utf-8-sig")
    assert csv.splitlines()[1].startswith("\"'=HYPERLINK")  # quoted by CSV, neutralised
    assert "-1.5" in csv  # numbers stay numbers
    book = load_workbook(io.BytesIO(table_bytes(frame, "xlsx", notes)))
    assert book.sheetnames == ["data", "notes"]
    assert book["data"]["A2"].value.startswith("'=")
    assert book["data"]["B2"].value == -1.5
    assert [c.value for c in book["notes"]["A"]][1:] == [
        "Source: HM Treasury CRA 2014.",
        "'=not a formula",
    ]
    assert table_bytes(frame, "notes", notes).decode().splitlines() == notes


def test_file_names_and_figure_config() -> None:
    assert file_stem("map", "Dorset, Poole and Bournemouth", "2010-11", None) == (
        "totalplace-map-dorset-poole-and-bournemouth-2010-11"
    )
    config = graph_config("totalplace-map")
    assert config["toImageButtonOptions"]["filename"] == "totalplace-map"
    assert config["displaylogo"] is False
