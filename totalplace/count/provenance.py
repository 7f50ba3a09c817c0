"""Every figure to its source: the source lines behind each row of a count.

A count row (agency type x function x basis x driver x source) is the sum of the count's lines
(``CountResult.lines``: one per ledger line and district, as the engine apportioned them with
largest-remainder rounding in pence). Grouping those lines by the ledger line they came from
gives the row's source lines: file, row, the line's own amount, and the part of it this count
took (its share). Nothing is re-apportioned here, so a row's source-line parts sum to the row's
amount to the penny. Eliminated lines (transfers between bodies in the count) lead to the
transfer, with the payer's line it was taken from.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from totalplace.count.result import CountResult, is_missing, row_ids
from totalplace.errors import StoreError
from totalplace.ledger.store import Store

#: Columns of ``source_lines``.
SOURCE_LINE_COLUMNS = (
    "row_id",
    "source_id",
    "file",
    "row",
    "agency",
    "description",
    "basis",
    "line_pence",
    "taken_pence",
    "share",
    "districts",
)
#: What identifies the ledger line a count line came from.
_LINE_KEY = ("source_id", "file", "row", "rid")


def _plain(value: Any) -> Any:
    return None if is_missing(value) else value


def source_lines(result: CountResult, store: Store, row: str | None = None) -> pd.DataFrame:
    """The source lines of every count row (or of the row with id ``row``): one per ledger
    line, with the line's own amount (``line_pence``), the part the count took
    (``taken_pence``, summed over the place's districts), ``share`` = taken / line and the
    number of districts it reached. Raises StoreError when the store no longer holds a line
    as the count read it (a count computed from another build)."""
    lines = result.lines
    if lines is None or lines.empty:
        return pd.DataFrame(columns=list(SOURCE_LINE_COLUMNS))
    ids = row_ids(lines)
    if row is not None:
        keep = ids == row
        lines, ids = lines[keep], ids[keep]
    frame = lines.assign(
        row_id=ids,
        agency=lines.get("agency"),
        description=_description(lines),
    )
    keys = ["row_id", *_LINE_KEY, "basis"]
    for c in keys:
        if c not in frame:
            frame[c] = None
    frame["_first"] = range(len(frame))
    grouped = (
        frame.groupby(keys, dropna=False, sort=False)
        .agg(
            taken_pence=("amount_pence", "sum"),
            districts=("area_code", "nunique"),
            agency=("agency", "first"),
            description=("description", "first"),
            _first=("_first", "min"),
            **_transfer_aggs(frame),
        )
        .reset_index()
        .sort_values("_first", kind="stable", ignore_index=True)
    )
    grouped["line_pence"] = _line_amounts(store, grouped, result.year)
    taken = grouped["taken_pence"].astype("int64")
    whole = grouped["line_pence"].astype("float64")
    grouped["taken_pence"] = taken
    grouped["share"] = (taken / whole).where(whole != 0)
    return grouped[list(SOURCE_LINE_COLUMNS)]


def _description(lines: pd.DataFrame) -> pd.Series:
    """What a line is, in words: the CRA programme, or the council's service line."""
    desc = lines["description"] if "description" in lines else pd.Series(None, index=lines.index)
    if "service_line" in lines:
        desc = desc.where(desc.notna(), lines["service_line"])
    return desc.astype("object")


def _transfer_aggs(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Columns that identify an eliminated line's transfer (payer, payee, function)."""
    out: dict[str, tuple[str, str]] = {}
    if "agency_code" in frame:
        out["payer"] = ("agency_code", "first")
    out["driver"] = ("driver", "first")
    out["function_code"] = ("function_code", "first")
    return out


def _line_amounts(store: Store, grouped: pd.DataFrame, year: str) -> list[int | None]:
    """Each source line's own amount: the ledger line's (checked to be the same file and row),
    or for an eliminated line the whole transfer."""
    ledger = grouped[grouped["basis"] != "eliminated"]
    rids = sorted({int(r) for r in ledger["rid"].dropna()})
    found = store.query(
        'SELECT rowid AS rid, file, "row", amount_pence FROM ledger WHERE list_contains(?, rowid)',
        [rids],
    ).set_index("rid")
    transfers = _transfers(store, year)
    out: list[int | None] = []
    for rec in grouped.to_dict("records"):
        if rec["basis"] == "eliminated":
            out.append(_transfer_amount(transfers, rec))
            continue
        rid = _plain(rec["rid"])
        if rid is None or int(rid) not in found.index:
            raise StoreError(f"{rec['file']} row {rec['row']}: not in the store as counted")
        hit = found.loc[int(rid)]
        if str(hit["file"]) != str(rec["file"]) or int(hit["row"]) != int(rec["row"]):
            raise StoreError(
                f"{rec['file']} row {rec['row']}: the store has changed since this count "
                "(rebuild, or count again)"
            )
        out.append(int(hit["amount_pence"]))
    return out


def _transfers(store: Store, year: str) -> pd.DataFrame:
    if "transfers" not in store.tables():
        return pd.DataFrame(columns=["payer_code", "payee_code", "function_code", "amount_pence"])
    return store.query("SELECT * FROM transfers WHERE year = ?", [year])


def _transfer_amount(transfers: pd.DataFrame, rec: dict[str, Any]) -> int | None:
    """The whole transfer behind an eliminated line (negative: it is taken out)."""
    payee = str(rec.get("driver") or "").removeprefix("transfer to ")
    hit = transfers[
        (transfers["payer_code"] == rec.get("payer"))
        & (transfers["payee_code"] == payee)
        & (transfers["function_code"].astype(str) == str(rec.get("function_code")))
    ]
    return -int(hit["amount_pence"].sum()) if len(hit) else None


def source_lines_json(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Source lines as JSON records: amounts in GBP, share as a fraction."""
    out = []
    for rec in frame.to_dict("records"):
        line = _plain(rec["line_pence"])
        row = _plain(rec["row"])
        share = _plain(rec["share"])
        out.append(
            {
                "source_id": _plain(rec["source_id"]),
                "file": _plain(rec["file"]),
                "row": None if row is None else int(row),
                "agency": _plain(rec["agency"]),
                "description": _plain(rec["description"]),
                "basis": _plain(rec["basis"]),
                "line_gbp": None if line is None else int(line) / 100,
                "taken_gbp": int(rec["taken_pence"]) / 100,
                "share": None if share is None else round(float(share), 9),
                "districts": int(rec["districts"]),
            }
        )
    return out


def attach(rows: list[dict[str, Any]], frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``rows`` (``CountResult.to_json()['rows']``) each with its ``source_lines``."""
    by_row = {str(k): source_lines_json(g) for k, g in frame.groupby("row_id", sort=False)}
    return [r | {"source_lines": by_row.get(str(r["row_id"]), [])} for r in rows]


def table_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Source lines for a CSV or XLSX sheet: amounts in GBP, share as a fraction."""
    out = frame.drop(columns=["line_pence", "taken_pence"])
    out.insert(6, "line_gbp", frame["line_pence"].astype("float64") / 100)
    out.insert(7, "taken_gbp", frame["taken_pence"].astype("int64") / 100)
    return out
