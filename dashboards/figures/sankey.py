"""A count as a Sankey: funder -> agency type -> function, totals on the nodes.

Input is ``totalplace.queries.flow_table``: one row per funder x agency type x function with
``amount_pence`` and ``replaced`` (CRA lines that councils' own outturn stands in for). Counted
flows are coloured by agency type; replaced lines run grey from their funder through
"Replaced by councils' outturn" to "Not counted (replaced)", so partners see that nothing is
counted twice. Link values are pounds. Plotly cannot draw a negative flow: net credits are left
out of the drawing and said in words (and in ``layout.meta``), so the drawn counted flows at
each stage equal the count's total plus those credits.

The table is a few hundred rows: it is aggregated in plain Python (quicker than pandas here).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.breakdown import FONT, OKABE_ITO, empty_figure
from dashboards.figures.money import format_gbp

#: How many funders are drawn by name; the rest are summed into 'Other …' nodes.
TOP_FUNDERS = 10
REPLACED_NODE = "Replaced by councils' outturn"
NOT_COUNTED_NODE = "Not counted (replaced)"
#: Agency types and functions below this share of the count are drawn as one 'Other …' node.
MIN_SHARE = 0.01
REPLACED_COLOUR = "rgba(120,120,120,0.35)"
FUNDER_COLOUR = "#4d5b70"
GREY = "#9a9a9a"
#: Okabe-Ito (no yellow: it is unreadable as a thin link on white).
_PALETTE = [
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["green"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["purple"],
    OKABE_ITO["sky"],
    "#6b6b6b",
]
COLUMNS = ["funder", "funder_kind", "agency_type", "function", "replaced", "amount_pence"]


class Flow(NamedTuple):
    funder: str
    funder_kind: str
    agency_type: str
    function: str
    replaced: bool
    amount_pence: int


def _flows(frame: pd.DataFrame) -> list[Flow]:
    cols = [frame[c].tolist() for c in COLUMNS]
    return [
        Flow(str(f), str(k), str(t), str(fn), bool(r), int(a))
        for f, k, t, fn, r, a in zip(*cols, strict=True)
    ]


def _merge(flows: list[Flow]) -> list[Flow]:
    """Sum flows with the same funder, kind, agency type, function and replaced flag."""
    sums: dict[tuple[str, str, str, str, bool], int] = defaultdict(int)
    for f in flows:
        sums[f[:5]] += f.amount_pence
    return [Flow(*key, amount) for key, amount in sums.items()]


def _frame(flows: list[Flow]) -> pd.DataFrame:
    return pd.DataFrame(flows, columns=COLUMNS)


def _group_funders(flows: list[Flow], top: int) -> list[Flow]:
    totals: dict[str, int] = defaultdict(int)
    for f in flows:
        if not f.replaced:
            totals[f.funder] += f.amount_pence
    keep = set(sorted(totals, key=lambda k: -totals[k])[:top])
    keep |= {f.funder for f in flows if f.replaced}
    labels = {"central": "Other central bodies", "council": "Other councils"}
    others: dict[str, set[str]] = defaultdict(set)
    for f in flows:
        if f.funder not in keep:
            others[f.funder_kind].add(f.funder)
    out = []
    for f in flows:
        if f.funder in keep:
            out.append(f)
        else:
            label = labels.get(f.funder_kind, "Other bodies")
            out.append(f._replace(funder=f"{label} ({len(others[f.funder_kind])})"))
    return _merge(out)


def _group_small(flows: list[Flow], column: str, label: str, share: float) -> list[Flow]:
    sizes: dict[str, int] = defaultdict(int)
    for f in flows:
        if not f.replaced:
            sizes[getattr(f, column)] += f.amount_pence
    total = sum(abs(v) for v in sizes.values()) or 1
    small = {k for k, v in sizes.items() if abs(v) / total < share}
    if len(small) < 2:
        return flows
    name = f"{label} ({len(small)})"

    def rename(f: Flow) -> Flow:
        if f.replaced or getattr(f, column) not in small:
            return f
        if column == "agency_type":
            return f._replace(agency_type=name)
        return f._replace(function=name)

    return _merge([rename(f) for f in flows])


def group_funders(flows: pd.DataFrame, top: int = TOP_FUNDERS) -> pd.DataFrame:
    """The ``top`` largest funders by name; the others summed as 'Other central bodies (n)' or
    'Other councils (n)' (replaced lines keep their funder)."""
    return _frame(_group_funders(_flows(flows), top))


def group_small(flows: pd.DataFrame, column: str, label: str, share: float) -> pd.DataFrame:
    """Categories of ``column`` ('agency_type' or 'function') with less than ``share`` of the
    counted total summed into one '<label> (n)' category, so small nodes do not crowd labels."""
    return _frame(_group_small(_flows(flows), column, label, share))


@dataclass
class _Drawing:
    """Nodes and links, built up in order."""

    names: list[str] = field(default_factory=list)
    colours: list[str] = field(default_factory=list)
    index: dict[tuple[int, str], int] = field(default_factory=dict)
    source: list[int] = field(default_factory=list)
    target: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    link_colours: list[str] = field(default_factory=list)
    hover: list[str] = field(default_factory=list)

    def node(self, column: int, name: str, colour: str) -> int:
        key = (column, name)
        if key not in self.index:
            self.index[key] = len(self.names)
            self.names.append(name)
            self.colours.append(colour)
        return self.index[key]

    def link(self, s: int, t: int, pence: int, colour: str, hover: str) -> None:
        self.source.append(s)
        self.target.append(t)
        self.value.append(pence / 100)
        self.link_colours.append(colour)
        self.hover.append(hover)


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _sum(flows: list[Flow], *keys: str) -> dict[tuple[str, ...], int]:
    out: dict[tuple[str, ...], int] = defaultdict(int)
    for f in flows:
        out[tuple(getattr(f, k) for k in keys)] += f.amount_pence
    return out


def _largest_first(sums: dict[tuple[str, ...], int], position: int) -> list[str]:
    totals: dict[str, int] = defaultdict(int)
    for key, v in sums.items():
        if v > 0:
            totals[key[position]] += v
    return sorted(totals, key=lambda k: -totals[k])


def flow_sankey(
    flows: pd.DataFrame, title: str, top: int = TOP_FUNDERS, min_share: float = MIN_SHARE
) -> go.Figure:
    """Funder -> agency type -> function, counted flows coloured by agency type, replaced lines
    grey through their own nodes; every node label carries its total in pounds."""
    rows = _flows(flows) if len(flows) else []
    counted_rows = [f for f in rows if not f.replaced]
    if not counted_rows:
        return empty_figure("No spend to show as flows for this count.")
    data = _group_funders(rows, top)
    data = _group_small(data, "agency_type", "Other agency types", min_share)
    data = _group_small(data, "function", "Other functions", min_share)
    counted = [f for f in data if not f.replaced]
    stage1 = _sum(counted, "funder", "agency_type")
    stage2 = _sum(counted, "agency_type", "function")
    replaced = _sum([f for f in data if f.replaced], "funder")

    types = _largest_first(stage2, 0)
    type_colour = {t: _PALETTE[i % len(_PALETTE)] for i, t in enumerate(types)}
    d = _Drawing()
    funders = _largest_first(stage1, 0)
    functions = _largest_first(stage2, 1)
    for f in funders:
        d.node(0, f, FUNDER_COLOUR)
    for t in types:
        d.node(1, t, type_colour[t])
    for (funder, agency_type), pence in stage1.items():
        if pence > 0:
            colour = type_colour.get(agency_type, "#6b6b6b")
            d.link(
                d.node(0, funder, FUNDER_COLOUR),
                d.node(1, agency_type, colour),
                pence,
                _rgba(colour, 0.45),
                f"{funder} → {agency_type}: {format_gbp(pence / 100)}",
            )
    rep_total = sum(p for p in replaced.values() if p > 0)
    for (funder,), pence in replaced.items():
        if pence > 0:
            d.link(
                d.node(0, funder, FUNDER_COLOUR),
                d.node(1, REPLACED_NODE, GREY),
                pence,
                REPLACED_COLOUR,
                f"{funder}: {format_gbp(pence / 100)} of CRA local-government current spend, "
                "replaced by councils' own outturn (not counted)",
            )
    if rep_total:
        d.link(
            d.node(1, REPLACED_NODE, GREY),
            d.node(2, NOT_COUNTED_NODE, GREY),
            rep_total,
            REPLACED_COLOUR,
            f"{format_gbp(rep_total / 100)} replaced by councils' own outturn: not in the count",
        )
    for fn in functions:
        d.node(2, fn, OKABE_ITO["orange"])
    for (agency_type, fn), pence in stage2.items():
        if pence > 0:
            colour = type_colour.get(agency_type, "#6b6b6b")
            d.link(
                d.node(1, agency_type, colour),
                d.node(2, fn, OKABE_ITO["orange"]),
                pence,
                _rgba(colour, 0.45),
                f"{agency_type} → {fn}: {format_gbp(pence / 100)}",
            )

    keys = ((1, REPLACED_NODE), (2, NOT_COUNTED_NODE))
    totals = _node_totals(d, {d.index[k] for k in keys if k in d.index})
    labels = [
        f"{name} · {format_gbp(total)}" + (f" + {format_gbp(rep)} replaced" if rep else "")
        for name, (total, rep) in zip(d.names, totals, strict=True)
    ]
    total_gbp = sum(f.amount_pence for f in counted) / 100
    credit1 = -sum(p for p in stage1.values() if p < 0) / 100
    credit2 = -sum(p for p in stage2.values() if p < 0) / 100
    notes = [f"{title}: {format_gbp(total_gbp)} counted"]
    if rep_total:
        notes.append(
            f"grey: {format_gbp(rep_total / 100)} replaced by councils' outturn, not counted"
        )
    if credit1:
        notes.append(f"net credits of {format_gbp(credit1)} not drawn")
    return go.Figure(
        go.Sankey(
            arrangement="snap",
            valueformat=",.0f",
            valuesuffix=" GBP",
            node={
                "label": labels,
                "color": d.colours,
                "pad": 10,
                "thickness": 16,
                "line": {"color": "white", "width": 0.5},
                "hovertemplate": "%{label}<extra></extra>",
            },
            link={
                "source": d.source,
                "target": d.target,
                "value": d.value,
                "color": d.link_colours,
                "customdata": d.hover,
                "hovertemplate": "%{customdata}<extra></extra>",
            },
        ),
        layout={
            "title": {"text": " · ".join(notes), "x": 0, "xanchor": "left", "font": {"size": 15}},
            "font": {**FONT, "size": 12},
            "height": max(620, 30 * max(len(funders) + 1, len(types) + 1, len(functions) + 1)),
            "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
            "paper_bgcolor": "white",
            "meta": {
                "total_gbp": total_gbp,
                "replaced_gbp": rep_total / 100,
                "credits_stage1_gbp": credit1,
                "credits_stage2_gbp": credit2,
            },
        },
    )


def _node_totals(d: _Drawing, replaced: set[int]) -> list[tuple[float, float]]:
    """Each node's (counted, replaced) total: what flows out of it (into it for the last
    column and the replaced nodes); a funder's flow into the replaced node is kept apart."""
    n = len(d.names)
    out, rep, into = [0.0] * n, [0.0] * n, [0.0] * n
    for s, t, v in zip(d.source, d.target, d.value, strict=True):
        if t in replaced and s not in replaced:
            rep[s] += v
        else:
            out[s] += v
        into[t] += v
    return [(into[k], 0.0) if k in replaced else ((out[k] or into[k]), rep[k]) for k in range(n)]
