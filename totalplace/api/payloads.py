"""The API's answers as plain JSON-able dicts, built from the library's results (pure: no I/O).

Every amount leaves as GBP with two decimals (``*_gbp`` keys, from exact pence); every answer
carries a ``source`` note saying which releases, population year and caveats it rests on.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from totalplace.count.result import CountResult
from totalplace.geography.places import Place
from totalplace.sources.catalogue import load_catalogue

FLOW_STAGES = ("funder", "agency_type", "function")
#: Columns of /rows, in order.
ROW_COLUMNS = (
    "area_code",
    "area_name",
    "region_code",
    "agency",
    "agency_type",
    "function_code",
    "function",
    "subfunction",
    "service_line",
    "spend_kind",
    "description",
    "basis",
    "driver",
    "confidence",
    "source_id",
    "release",
    "file",
    "row",
)
#: The order of /rows: these keys, then every other column (lines equal in all are identical).
ROW_ORDER = ("source_id", "file", "row", "service_line", "area_code", "amount_pence")
MAP_MEASURES = ("total", "per_head")
PLACES_NOTE = (
    "The 13 Total Place pilots (2009-10) in April 2019 districts: data/places/pilots.toml; "
    "membership of two-tier pilots is inferred (see each pilot's note)."
)


# -- helpers --------------------------------------------------------------------------------


def gbp(pence: int | float) -> float:
    """Pence as GBP with two decimals."""
    return round(int(pence) / 100, 2)


def plain(value: Any) -> Any:
    """``value`` with numpy/pandas scalars as Python ones, NaN and infinities as None and
    every ``*_gbp`` number rounded to two decimals (JSON without surprises)."""
    if isinstance(value, Mapping):
        return {str(k): _plain_item(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | str):
        return value
    if hasattr(value, "item") and not isinstance(value, int | float):
        return plain(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    try:
        missing = bool(pd.isna(value))
    except (TypeError, ValueError):
        missing = False
    return None if missing else str(value)


def _plain_item(key: str, value: Any) -> Any:
    out = plain(value)
    if key.endswith("_gbp") and isinstance(out, int | float) and not isinstance(out, bool):
        return round(float(out), 2)
    return out


def _text(value: Any) -> str | None:
    out = plain(value)
    return None if out is None else str(out)


def source_note(
    source_ids: Iterable[str],
    caveats: Iterable[str] = (),
    population_year: int | None = None,
    releases: Iterable[str] = (),
) -> dict[str, Any]:
    """Where an answer comes from: releases, catalogued sources (licence), population year,
    and the caveats a reader must see."""
    catalogue = load_catalogue()
    sources = []
    for sid in sorted({str(s) for s in source_ids}):
        src = catalogue.get(sid)
        sources.append(
            {
                "id": sid,
                "publisher": src.publisher if src else None,
                "title": src.title if src else None,
                "licence": src.licence if src else None,
                "url": src.publisher_url if src else None,
            }
        )
    return {
        "releases": sorted(set(releases)),
        "sources": sources,
        "population_year": population_year,
        "caveats": list(caveats),
    }


def count_source(result: CountResult) -> dict[str, Any]:
    lines = result.lines if result.lines is not None else result.rows
    return source_note(
        lines["source_id"].dropna().unique(),
        result.caveats,
        result.population_year,
        lines["release"].dropna().unique(),
    )


# -- answers --------------------------------------------------------------------------------


def place_json(place: Place) -> dict[str, Any]:
    return {
        "name": place.name,
        "aliases": list(place.aliases),
        "districts": list(place.districts),
        "councils": list(place.councils),
        "region_code": place.region_code,
        "theme": place.theme,
        "note": place.note,
        "source": place.source,
    }


def places_json(pilots: Mapping[str, Place]) -> dict[str, Any]:
    return {
        "places": [place_json(p) for p in pilots.values()],
        "source": source_note([], [PLACES_NOTE]),
    }


def count_json(result: CountResult) -> dict[str, Any]:
    """``CountResult.to_json()`` with its councils' rows in GBP under ``amount_gbp`` and the
    source note."""
    out = result.to_json()
    councils = out.get("reported_by_councils")
    if councils is not None:
        # to_json divides the pence by 100 but keeps the key 'amount_pence': name it for what it is
        councils["rows"] = [
            {("amount_gbp" if k == "amount_pence" else k): v for k, v in row.items()}
            for row in councils["rows"]
        ]
    out["source"] = count_source(result)
    return plain(out)


def deepdive_json(breakdown: Any) -> dict[str, Any]:
    """``ThemeBreakdown.to_json()`` with a ``*_gbp`` beside every ``*_pence`` and the source."""
    out = _with_gbp(breakdown.to_json())
    sources = breakdown.allocations["source_id"].dropna().unique()
    out["source"] = source_note(
        sources, breakdown.caveats, breakdown.population_year, [breakdown.release]
    )
    return plain(out)


def _with_gbp(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _with_gbp(v) for k, v in value.items()}
        for k, v in value.items():
            if k.endswith("_pence") and isinstance(v, int) and not isinstance(v, bool):
                out.setdefault(k[: -len("_pence")] + "_gbp", gbp(v))
        return out
    if isinstance(value, list):
        return [_with_gbp(v) for v in value]
    return value


def flows_json(result: CountResult, table: pd.DataFrame) -> dict[str, Any]:
    """Funder -> agency type -> function as nodes and links in GBP, from ``table``
    (``queries.flow_table`` of the count: the dashboard's flows). The CRA lines councils' own
    outturn replaced are links with ``eliminated: true``: not in the count or node amounts."""
    flows = table.assign(
        eliminated=table["replaced"].astype(bool),
        amount_pence=table["amount_pence"].astype("int64"),
    ).fillna({"funder": "(not named)", "agency_type": "(not named)", "function": "-"})
    kinds = dict(zip(flows["funder"], flows["funder_kind"], strict=True))
    links: list[dict[str, Any]] = []
    for a, b in itertools.pairwise(FLOW_STAGES):
        g = flows.groupby([a, b, "eliminated"], as_index=False)["amount_pence"].sum()
        g = g.sort_values(["eliminated", "amount_pence", a, b], ascending=[True, False, True, True])
        links += [
            {
                "source": _node_id(a, s),
                "target": _node_id(b, t),
                "stage": f"{a}->{b}",
                "amount_gbp": gbp(p),
                "eliminated": bool(e),
            }
            for s, t, e, p in zip(g[a], g[b], g["eliminated"], g["amount_pence"], strict=True)
        ]
    nodes: list[dict[str, Any]] = []
    live = flows[~flows["eliminated"]]
    for stage in FLOW_STAGES:
        sums = live.groupby(stage)["amount_pence"].sum()
        labels = sorted(set(flows[stage]), key=lambda x: (-int(sums.get(x, 0)), str(x)))
        nodes += [
            {
                "id": _node_id(stage, x),
                "label": str(x),
                "stage": stage,
                "kind": _text(kinds.get(x)) if stage == "funder" else None,
                "amount_gbp": gbp(sums.get(x, 0)),
            }
            for x in labels
        ]
    eliminated = int(flows.loc[flows["eliminated"], "amount_pence"].sum())
    return plain(
        {
            "place": result.place_name,
            "districts": list(result.place_codes),
            "year": result.year,
            "total_gbp": gbp(result.total_pence),
            "eliminated_gbp": gbp(eliminated),
            "stages": list(FLOW_STAGES),
            "nodes": nodes,
            "links": links,
            "source": count_source(result),
        }
    )


def _node_id(stage: str, label: Any) -> str:
    return f"{stage}:{label}"


def map_json(
    frame: pd.DataFrame,
    year: str,
    measure: str,
    region: str | None,
    source: dict[str, Any],
) -> dict[str, Any]:
    """Per-district values (total GBP or GBP per head) of a region or all England."""
    f = frame.sort_values("area_code", ignore_index=True)
    districts = []
    for r in f.itertuples(index=False):
        pop = plain(r.population)
        amount = gbp(r.amount_pence)
        per_head = round(amount / pop, 2) if pop else None
        value = per_head if measure == "per_head" else amount
        districts.append(
            {
                "area_code": str(r.area_code),
                "area_name": _text(r.area_name),
                "region_code": _text(r.region_code),
                "value": value,
                "amount_gbp": amount,
                "population": int(pop) if pop is not None else None,
            }
        )
    return plain(
        {
            "year": year,
            "measure": measure,
            "unit": "GBP per head" if measure == "per_head" else "GBP",
            "region": region,
            "total_gbp": gbp(int(f["amount_pence"].sum())) if len(f) else 0.0,
            "districts": districts,
            "source": source,
        }
    )


def line_order(result: CountResult) -> np.ndarray:
    """Positions of the count's lines in the API's stable order (kept instead of a sorted copy:
    eight bytes a line)."""
    lines = _conformed(result)
    keys = [*ROW_ORDER, *(c for c in ROW_COLUMNS if c not in ROW_ORDER)]
    ordered = lines.reset_index(drop=True).sort_values(keys, kind="mergesort", na_position="first")
    return ordered.index.to_numpy(dtype="int64")


def _conformed(result: CountResult) -> pd.DataFrame:
    """The count's lines with every ROW_COLUMNS column (missing ones empty)."""
    lines = result.lines if result.lines is not None else pd.DataFrame()
    missing = {c: None for c in (*ROW_COLUMNS, "amount_pence") if c not in lines.columns}
    return lines.assign(**missing) if missing else lines


def pages_of(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / page_size))


def rows_json(result: CountResult, order: np.ndarray, page: int, page_size: int) -> dict[str, Any]:
    """One page of the count's lines (in ``order``, see ``line_order``) with their provenance
    (file, row, basis, driver)."""
    start = (page - 1) * page_size
    part = _conformed(result).iloc[order[start : start + page_size]]
    rows = []
    for rec in part.to_dict("records"):
        row: dict[str, Any] = {c: _text(rec[c]) for c in ROW_COLUMNS if c != "row"}
        r = plain(rec["row"])
        row["row"] = int(r) if r is not None else None
        row["amount_gbp"] = gbp(rec["amount_pence"])
        rows.append(row)
    return plain(
        {
            "place": result.place_name,
            "districts": list(result.place_codes),
            "year": result.year,
            "total_gbp": gbp(result.total_pence),
            "total_rows": len(order),
            "page": page,
            "page_size": page_size,
            "pages": pages_of(len(order), page_size),
            "order": list(ROW_ORDER),
            "rows": rows,
            "source": count_source(result),
        }
    )


def sources_json(
    result: CountResult, lines: pd.DataFrame, row: str, page: int, page_size: int
) -> dict[str, Any]:
    """One page of a count row's source lines (``provenance.source_lines`` of that row)."""
    from totalplace.count.provenance import source_lines_json

    rows = [r for r in result.to_json()["rows"] if r["row_id"] == row]
    start = (page - 1) * page_size
    return plain(
        {
            "place": result.place_name,
            "year": result.year,
            "row": rows[0],
            "total_lines": len(lines),
            "page": page,
            "page_size": page_size,
            "pages": pages_of(len(lines), page_size),
            "taken_gbp": gbp(int(lines["taken_pence"].sum())),
            "lines": source_lines_json(lines.iloc[start : start + page_size]),
            "source": count_source(result),
        }
    )
