"""Consolidation: money one public body pays another inside the count is counted once, where it
is finally spent (Italy's Conti Pubblici Territoriali call this consolidation).

Transfers are recorded in the store's ``transfers`` table (loaded with `totalplace transfers`
from a CSV: year, payer_code, payee_code, function_code, amount_gbp, reason, source). When both
the payer's and the payee's own spend are in a count, the transfer is eliminated from the
payer's lines and listed, so partners see what was taken out and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from totalplace.count.apportion import apportion
from totalplace.errors import TotalPlaceError
from totalplace.ingest.values import normalise_financial_year, parse_amount_pence
from totalplace.ledger.store import Store

TRANSFER_COLUMNS = (
    "year",
    "payer_code",
    "payee_code",
    "function_code",
    "amount_pence",
    "reason",
    "source",
)


def read_transfers(path: Path) -> pd.DataFrame:
    """A transfers CSV as the store's table; errors name the file and line."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise TotalPlaceError(f"{path.name}: cannot read transfers ({exc})") from exc
    need = {"year", "payer_code", "payee_code", "function_code", "amount_gbp", "reason", "source"}
    if not need <= set(raw.columns):
        raise TotalPlaceError(f"{path.name}: transfers need columns {', '.join(sorted(need))}")
    rows = []
    for i, r in enumerate(raw.to_dict("records"), start=2):
        try:
            rows.append(
                {
                    "year": normalise_financial_year(r["year"]),
                    "payer_code": r["payer_code"].strip(),
                    "payee_code": r["payee_code"].strip(),
                    "function_code": r["function_code"].strip(),
                    "amount_pence": parse_amount_pence(r["amount_gbp"]),
                    "reason": r["reason"].strip(),
                    "source": r["source"].strip(),
                }
            )
        except ValueError as exc:
            raise TotalPlaceError(f"{path.name} line {i}: {exc}") from exc
        if not rows[-1]["reason"] or not rows[-1]["source"]:
            raise TotalPlaceError(f"{path.name} line {i}: a transfer needs a reason and a source")
    return pd.DataFrame(rows, columns=list(TRANSFER_COLUMNS))


def consolidate(
    store: Store,
    lines: pd.DataFrame,
    year: str,
    *,
    outturn_sources: Sequence[str],
    crosswalk: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Eliminate transfers whose payer and payee both have own-spend lines in ``lines``.

    ``outturn_sources`` and ``crosswalk`` (service line -> function) are the count's own: the
    payer's whole outturn for the function is read from them.

    Returns the lines with one negative 'eliminated' line per transfer and district, and the
    list of eliminations (payer, payee, function, amount, reason, source).
    """
    empty = pd.DataFrame(
        columns=["payer", "payee", "function_code", "amount_pence", "reason", "source"]
    )
    if "transfers" not in store.tables() or lines.empty or "agency_code" not in lines:
        return lines, empty
    transfers = store.query("SELECT * FROM transfers WHERE year = ?", [year])
    if transfers.empty:
        return lines, empty
    actual = lines[lines["basis"] == "actual"]
    extra, listed = [], []
    for t in transfers.itertuples():
        payer = actual[
            (actual["agency_code"] == t.payer_code)
            & (actual["function_code"].astype(str) == str(t.function_code))
        ]
        payee = actual[actual["agency_code"] == t.payee_code]
        if payer.empty or payee.empty:
            continue
        by_area = payer.groupby("area_code")["amount_pence"].sum()
        weights = {str(a): int(max(v, 0)) for a, v in by_area.items()}
        whole = payer_total(
            store, t.payer_code, str(t.function_code), year, outturn_sources, crosswalk
        )
        if sum(weights.values()) <= 0 or whole <= 0:
            continue
        # the transfer falls in these districts as the payer's own spend does; the part of the
        # payer's footprint outside the count keeps the rest
        outside = max(whole - sum(weights.values()), 0)
        share = apportion(int(t.amount_pence), {**weights, "\uffff outside": outside})
        share.pop("\uffff outside")
        first = payer.iloc[0]
        for area, pence in share.items():
            extra.append(
                {
                    **first.to_dict(),
                    "area_code": area,
                    "amount_pence": -pence,
                    "basis": "eliminated",
                    "driver": f"transfer to {t.payee_code}",
                    "confidence": "actual",
                    "description": t.reason,
                }
            )
        listed.append(
            {
                "payer": first["agency"],
                "payee": payee.iloc[0]["agency"],
                "function_code": t.function_code,
                "amount_pence": int(sum(share.values())),
                "reason": t.reason,
                "source": t.source,
            }
        )
    if not extra:
        return lines, empty
    return pd.concat([lines, pd.DataFrame(extra)], ignore_index=True), pd.DataFrame(listed)


def payer_total(
    store: Store,
    payer_code: str,
    function_code: str,
    year: str,
    outturn_sources: Sequence[str],
    crosswalk: pd.DataFrame,
) -> int:
    """The payer's whole own outturn for a function and year (all of its footprint)."""
    cw = crosswalk
    lines = list(cw.loc[cw["function_code"] == function_code, "service_line"])
    df = store.query(
        "SELECT coalesce(sum(amount_pence), 0)::BIGINT AS n FROM ledger WHERE area_code = ? "
        "AND year = ? AND list_contains(?, source_id) AND list_contains(?, service_line)",
        [payer_code, year, list(outturn_sources), lines],
    )
    return int(df["n"].iloc[0])
