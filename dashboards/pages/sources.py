"""Sources: what data is loaded, from whom and under which licence; what it covers by agency
type and year; what was held back at ingest and why; and the caveats to read figures with.

``/sources?source=cra_2014&colour=rows`` (the coverage map's source and colour).
"""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards import data
from dashboards.components.controls import choose, control, controls, dropdown, url_sync
from dashboards.components.downloads import (
    clicked_format,
    download_inputs,
    download_output,
    file_stem,
    send_table,
    table_downloads,
)
from dashboards.components.kpi import kpi_card, kpi_row
from dashboards.components.layout import error_page, figure_panel, grid
from dashboards.components.prices import terms_field, terms_switch, terms_value
from dashboards.figures.breakdown import empty_figure
from dashboards.figures.compare import coverage_heatmap
from dashboards.figures.money import format_count
from totalplace.errors import TotalPlaceError

dash.register_page(
    __name__, path="/sources", name="Sources", title="Sources · totalplace", order=90
)

P = "sources-"
SOURCE, COLOUR, URL, COVERAGE, LOADED, QCOUNTS, QSAMPLE = (
    f"{P}{k}" for k in ("source", "colour", "url", "coverage", "loaded", "qcounts", "qsample")
)
TERMS = f"{P}terms"
ALL = "all"
COLOUR_OPTIONS = [
    ("sources", "How many sources"),
    ("rows", "Ledger rows"),
    ("amount", "Pounds (£bn)"),
]
OGL = "Open Government Licence v3.0"
LOADED_COLUMNS: list[dict[str, Any]] = [
    {"field": "source_id", "headerName": "Source", "width": 150},
    {
        "field": "title",
        "headerName": "Title",
        "flex": 3,
        "minWidth": 260,
        "wrapText": True,
        "autoHeight": True,
    },
    {
        "field": "publisher",
        "headerName": "Publisher",
        "flex": 2,
        "minWidth": 160,
        "wrapText": True,
        "autoHeight": True,
    },
    {
        "field": "licence",
        "headerName": "Licence",
        "flex": 2,
        "minWidth": 150,
        "wrapText": True,
        "autoHeight": True,
    },
    {"field": "link", "headerName": "Where from", "width": 130, "cellRenderer": "markdown"},
    {
        "field": "file",
        "headerName": "File",
        "flex": 2,
        "minWidth": 200,
        "wrapText": True,
        "autoHeight": True,
    },
    {
        "field": "rows_read",
        "headerName": "Rows read",
        "width": 120,
        "type": "rightAligned",
        "valueFormatter": {"function": "d3.format(',')(params.value)"},
    },
    {
        "field": "rows_ledger",
        "headerName": "In ledger",
        "width": 120,
        "type": "rightAligned",
        "valueFormatter": {"function": "d3.format(',')(params.value)"},
    },
    {
        "field": "rows_quarantined",
        "headerName": "Quarantined",
        "width": 130,
        "type": "rightAligned",
    },
]
QCOUNT_COLUMNS: list[dict[str, Any]] = [
    {"field": "source_id", "headerName": "Source", "width": 140},
    {"field": "file", "headerName": "File", "flex": 2, "minWidth": 220},
    {
        "field": "reason",
        "headerName": "Reason",
        "flex": 3,
        "minWidth": 300,
        "wrapText": True,
        "autoHeight": True,
    },
    {"field": "rows", "headerName": "Rows", "width": 100, "type": "rightAligned"},
    {
        "field": "example",
        "headerName": "For example",
        "flex": 3,
        "minWidth": 280,
        "tooltipField": "example",
    },
]
QSAMPLE_COLUMNS: list[dict[str, Any]] = [
    {"field": "source_id", "headerName": "Source", "width": 120},
    {"field": "file", "headerName": "File", "width": 220, "tooltipField": "file"},
    {"field": "row", "headerName": "Row", "width": 90, "type": "rightAligned"},
    {
        "field": "reason",
        "headerName": "Reason",
        "flex": 2,
        "minWidth": 240,
        "tooltipField": "reason",
    },
    {
        "field": "raw",
        "headerName": "The row as read",
        "flex": 3,
        "minWidth": 320,
        "tooltipField": "raw",
    },
]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype("object").where(frame.notna(), None).to_dict("records")


def layout(
    source: str | None = None,
    colour: str | None = None,
    terms: str | None = None,
    **_other: Any,
) -> html.Div:
    """The sources page (the coverage view from the URL query)."""
    try:
        loaded = data.loaded_sources()
        cover = data.coverage()
        qcounts = data.quarantine_counts()
        qsample = data.quarantine_sample()
    except TotalPlaceError as exc:
        return error_page("Sources", str(exc))
    ledger_sources = sorted(cover["source_id"].astype(str).unique())
    source_opts = [(ALL, "All sources"), *((s, s) for s in ledger_sources)]
    links = loaded.assign(link=[f"[publisher page]({u})" if u else "" for u in loaded["url"]])
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            html.H1("Sources"),
            html.P(
                "What is loaded, from whom and under which licence; what it covers; what was "
                "held back at ingest and why; and what to bear in mind when reading the figures.",
                className="lead",
            ),
            _kpis(loaded, cover, qcounts),
            html.H2("What is loaded"),
            grid(LOADED, LOADED_COLUMNS, _records(links)),
            table_downloads(LOADED),
            html.H2("What it covers, by agency type and year"),
            controls(
                control(
                    "Source",
                    dropdown(
                        SOURCE,
                        source_opts,
                        choose(source, [v for v, _ in source_opts], ALL),
                        searchable=False,
                    ),
                ),
                control(
                    "Colour shows",
                    dropdown(
                        COLOUR,
                        COLOUR_OPTIONS,
                        choose(colour, [v for v, _ in COLOUR_OPTIONS], "sources"),
                        searchable=False,
                    ),
                ),
                terms_switch(TERMS, terms),
            ),
            html.P(
                "A grey cell: nothing loaded for that agency type and year. Amounts add every "
                "source and area level loaded, so read them one source at a time.",
                className="note",
            ),
            figure_panel(COVERAGE, "totalplace-coverage"),
            html.H2("Held back at ingest (quarantine)"),
            html.P(
                "Rows the adapters could not place or read are kept aside with their reason, not "
                "dropped: every row read is in the ledger, in quarantine, or excluded for a named "
                "reason.",
                className="note",
            ),
            grid(QCOUNTS, QCOUNT_COLUMNS, _records(qcounts), page_size=10)
            if len(qcounts)
            else html.P("Nothing is in quarantine.", className="note"),
            table_downloads(QCOUNTS),
            html.H3("A sample of quarantined rows"),
            grid(QSAMPLE, QSAMPLE_COLUMNS, _records(qsample), page_size=5)
            if len(qsample)
            else html.P("Nothing to show.", className="note"),
            html.H2("Read the figures with these caveats"),
            html.Ul([html.Li(c) for c in caveats()], className="caveats", id=f"{P}caveats"),
        ],
        className="page",
    )


def _kpis(loaded: pd.DataFrame, cover: pd.DataFrame, qcounts: pd.DataFrame) -> html.Div:
    years = sorted(cover["year"].astype(str).unique())
    span = f"{years[0]} to {years[-1]}" if years else "none"
    return kpi_row(
        [
            kpi_card(
                "Files loaded",
                format_count(len(loaded)),
                f"{loaded['source_id'].nunique()} sources",
                card_id="kpi-files",
            ),
            kpi_card(
                "Ledger rows",
                format_count(int(cover["rows"].sum())),
                "amounts as published",
                card_id="kpi-rows",
            ),
            kpi_card(
                "Quarantined rows",
                format_count(int(qcounts["rows"].sum()) if len(qcounts) else 0),
                "kept aside with a reason",
                card_id="kpi-quarantine",
            ),
            kpi_card(
                "Years", span, f"{len(years)} financial years", card_id="kpi-years", text=True
            ),
        ]
    )


def caveats() -> list[str]:
    """What a reader must know, from what is loaded (some sentences are worked out)."""
    out = []
    years = data.years()
    pop_years = data.population_years()
    mids = sorted({data.mid_year(y) for y in years})
    cover = data.coverage()
    cra10 = cover[cover["source_id"] == "cra_2010"]["year"].astype(str)
    if len(cra10) and "2010-11" in set(cra10):
        out.append(
            "CRA 2010's 2010-11 column is plans, not outturn. For every year both CRA releases "
            "cover, the later release (CRA 2014, outturn) is used, so those plans are never "
            "counted."
        )
    if pop_years:
        out.append(
            "District population is loaded for mid-"
            + " and mid-".join(map(str, pop_years))
            + f"; drivers share spend among districts by ONS mid-{'/'.join(map(str, mids))} "
            "(the vintage on 2019 boundaries). " + data.population_sentence()
        )
    rs = cover[cover["source_id"].astype(str).str.startswith("rs_")]
    if len(rs):
        rs_years = ", ".join(sorted(rs["year"].astype(str).unique()))
        types = ", ".join(sorted(rs["agency_type"].astype(str).unique()))
        out.append(
            f"Authorities' own revenue outturn (RS) is loaded for {rs_years} only ({types}); it "
            "replaces CRA local-government current spend for the functions it covers within "
            "each authority's area. Other years' council, police and fire spend is CRA's, "
            "shared by drivers. Outturn with no known area (e.g. some joint bodies) is not "
            "counted and is named in each count's caveats."
        )
    out += [
        "HM Treasury CRA covers identifiable spend only (spend that benefits a region); "
        "non-identifiable spend such as defence and debt interest is not in any place's count. "
        "Rows whose region is 'Not identifiable' are held in quarantine.",
        "Maps, comparisons and agency profiles add up districts' count lines; a place's own "
        "count also eliminates transfers between its bodies where they are loaded.",
        "Places are on 2019 district boundaries; earlier codes are translated (the count says "
        "so where it happens).",
        f"Licences: most sources are published under the {OGL}; see each source above.",
    ]
    return out


url_sync(URL, [("source", SOURCE), ("colour", COLOUR), terms_field(TERMS)])


@callback(
    Output(COVERAGE, "figure"),
    Input(SOURCE, "value"),
    Input(COLOUR, "value"),
    Input(TERMS, "value"),
)
def update_coverage(source: str | None, colour: str | None, terms: str | None = None) -> Any:
    """The coverage heatmap for one source or all (pounds in cash or real terms)."""
    try:
        cover = data.in_terms(data.coverage(), terms_value(terms))
    except TotalPlaceError as exc:
        return empty_figure(str(exc))
    if source and source != ALL:
        cover = cover[cover["source_id"] == source]
    what = "all sources" if not source or source == ALL else source
    title = f"Ledger coverage: {what}" + data.terms_label(terms) * (colour == "amount")
    return coverage_heatmap(cover, colour or "sources", title)


def _sources_notes(what: str) -> list[str]:
    return [f"totalplace {what}.", *caveats()]


@callback(download_output(LOADED), *download_inputs(LOADED), prevent_initial_call=True)
def download_loaded(_csv: int, _xlsx: int, _notes: int) -> Any:
    """The loaded sources as CSV / XLSX / notes."""
    fmt = clicked_format(LOADED)
    if not fmt:
        return no_update
    return send_table(
        data.loaded_sources(), file_stem("sources"), fmt, _sources_notes("sources loaded")
    )


@callback(
    download_output(QCOUNTS),
    *download_inputs(QCOUNTS),
    State(SOURCE, "value"),
    prevent_initial_call=True,
)
def download_quarantine(_csv: int, _xlsx: int, _notes: int, _source: str | None) -> Any:
    """Quarantine counts by kind of reason (with an example each) as CSV / XLSX / notes."""
    fmt = clicked_format(QCOUNTS)
    if not fmt:
        return no_update
    return send_table(
        data.quarantine_counts(), file_stem("quarantine"), fmt, _sources_notes("quarantine")
    )
