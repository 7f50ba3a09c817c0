"""Layout pieces the analysts' pages share: a figure with its loading state and downloads, a
table grid, and the page a view shows when the workspace cannot answer."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
from dash import dcc, html

from dashboards.components.downloads import figure_downloads, graph_config
from dashboards.figures.breakdown import placeholder
from dashboards.figures.compare import MEASURES

#: The measure picker of the pages comparing places (value, label).
MEASURE_OPTIONS = [(key, label) for key, (_column, label) in MEASURES.items()]
#: Grid columns for a population, an amount in pounds and a per-head figure (largest first).
AMOUNT_COLUMNS: list[dict[str, Any]] = [
    {
        "field": "population",
        "headerName": "Population",
        "flex": 1,
        "type": "rightAligned",
        "valueFormatter": {"function": "d3.format(',.0f')(params.value)"},
    },
    {
        "field": "amount_gbp",
        "headerName": "Spend",
        "flex": 1,
        "type": "rightAligned",
        "valueFormatter": {"function": "'£' + d3.format(',.0f')(params.value)"},
    },
    {
        "field": "per_head_gbp",
        "headerName": "Per head",
        "flex": 1,
        "type": "rightAligned",
        "sort": "desc",
        "valueFormatter": {
            "function": "params.value == null ? 'n/a' : '£' + d3.format(',.0f')(params.value)"
        },
    },
]


def figure(graph_id: str, stem: str) -> list[Any]:
    """A graph (says 'Loading…' until its callback answers) and its PNG/SVG download buttons;
    ``stem`` names the downloaded files."""
    graph = dcc.Graph(id=graph_id, figure=placeholder(), config=graph_config(stem))
    return [dcc.Loading(graph, type="dot"), figure_downloads(graph_id, stem)]


def figure_panel(graph_id: str, stem: str, class_name: str = "panel") -> html.Div:
    """``figure`` in a panel."""
    return html.Div(figure(graph_id, stem), className=class_name)


def grid(
    grid_id: str,
    columns: list[dict[str, Any]],
    rows: list[dict[str, Any]] | None = None,
    page_size: int = 0,
) -> dag.AgGrid:
    """A sortable, filterable table as tall as its rows (``page_size`` rows a page if set)."""
    options: dict[str, Any] = {"domLayout": "autoHeight"}
    if page_size:
        options |= {
            "pagination": True,
            "paginationPageSize": page_size,
            "paginationPageSizeSelector": False,
        }
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=rows or [],
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        dashGridOptions=options,
        className="ag-theme-alpine",
        style={"width": "100%"},
    )


def error_page(title: str, message: str) -> html.Div:
    """The page, saying in words why it cannot be shown (e.g. no built workspace)."""
    return html.Div([html.H1(title), html.P(message, className="error")], className="page")
