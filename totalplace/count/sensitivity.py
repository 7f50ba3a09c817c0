"""Sensitivity: how a place's count moves under another driver choice, division by division,
so partners see which figures depend on assumptions."""

from __future__ import annotations

import pandas as pd

from totalplace.count.engine import CountOptions, count_place
from totalplace.geography.places import Place
from totalplace.ledger.store import Store


def sensitivity(
    store: Store, place: Place, year: str, alternative: dict[str, str] | None = None
) -> pd.DataFrame:
    """Per COFOG division: the default count, the count under ``alternative`` drivers (default:
    population for everything), the difference and the difference as a share of the default."""
    alt = alternative or {"*": "population"}
    base = count_place(store, place, year).rows
    other = count_place(store, place, year, CountOptions(drivers=alt)).rows
    key = ["function_code", "function"]
    a = base.groupby(key, dropna=False)["amount_pence"].sum().rename("default_pence")
    b = other.groupby(key, dropna=False)["amount_pence"].sum().rename("alternative_pence")
    out = pd.concat([a, b], axis=1).fillna(0).astype("int64").reset_index()
    out["difference_pence"] = out["alternative_pence"] - out["default_pence"]
    out["difference_share"] = out["difference_pence"] / out["default_pence"].where(
        out["default_pence"] != 0
    )
    total = pd.DataFrame(
        [
            {
                "function_code": "TOTAL",
                "function": "Total",
                "default_pence": int(out["default_pence"].sum()),
                "alternative_pence": int(out["alternative_pence"].sum()),
            }
        ]
    )
    total["difference_pence"] = total["alternative_pence"] - total["default_pence"]
    total["difference_share"] = total["difference_pence"] / total["default_pence"]
    return pd.concat([out.sort_values("default_pence", ascending=False), total], ignore_index=True)
