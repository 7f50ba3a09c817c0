"""Apportionment drivers: integer weights per district, each with a source and a vintage.

Built-in drivers come from ONS single-year-of-age population (data/codes/drivers.csv); users
can add a driver from a CSV of ``area_code,value``. Which driver shares which spend is data
(data/codes/default_drivers.csv), overridable per count.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from totalplace.config import REFERENCE_DIR
from totalplace.errors import TotalPlaceError

#: User-supplied driver values are scaled to integers with this many decimal places kept.
USER_SCALE = 1_000_000


@dataclass(frozen=True)
class Driver:
    name: str
    label: str
    age_min: int | None
    age_max: int | None
    population_label: str


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


@lru_cache(maxsize=2)
def builtin_drivers(reference_dir: Path = REFERENCE_DIR) -> dict[str, Driver]:
    return {
        r["driver"]: Driver(
            r["driver"], r["label"], int(r["age_min"]), int(r["age_max"]), r["population_label"]
        )
        for r in _rows(reference_dir / "codes" / "drivers.csv")
    }


@lru_cache(maxsize=2)
def default_rules(reference_dir: Path = REFERENCE_DIR) -> tuple[tuple[str, str, str], ...]:
    """(match, driver, reasoning), most specific match first."""
    rules = [
        (r["match"], r["driver"], r["reasoning"])
        for r in _rows(reference_dir / "codes" / "default_drivers.csv")
    ]
    return tuple(sorted(rules, key=lambda r: -len(r[0])))


def driver_for(
    function_code: str | None, subfunction: str | None, overrides: dict[str, str] | None = None
) -> str:
    """The driver for a line: overrides first, then defaults; most specific match wins."""
    rules: list[tuple[str, str]] = [(m, d) for m, d, _ in default_rules()]
    if overrides:
        rules = sorted(overrides.items(), key=lambda r: -len(r[0])) + rules
    sub = subfunction.split(" ")[0] if isinstance(subfunction, str) else ""
    if not isinstance(function_code, str):
        function_code = None
    for match, driver in rules:
        if match == "*":
            return driver
        if "." in match:
            if sub == match or sub.startswith(match + "."):
                return driver
        elif function_code is not None and str(function_code) == match:
            return driver
    return "population"


def population_weights(population: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Weights ``driver, area_code, w`` for built-in drivers from a long population table
    (``area_code, age, persons`` of one mid-year)."""
    known = builtin_drivers()
    frames = []
    for name in names:
        if name not in known:
            continue
        d = known[name]
        sel = population[
            (population["age"] >= (d.age_min or 0))
            & (population["age"] <= (d.age_max if d.age_max is not None else 999))
        ]
        w = sel.groupby("area_code", as_index=False)["persons"].sum()
        frames.append(
            pd.DataFrame(
                {"driver": name, "area_code": w["area_code"], "w": w["persons"].astype("int64")}
            )
        )
    if not frames:
        return pd.DataFrame({"driver": [], "area_code": [], "w": []})
    return pd.concat(frames, ignore_index=True)


def read_user_driver(path: Path) -> pd.DataFrame:
    """A user driver CSV (``area_code,value``) as integer weights; clear errors naming the line."""
    try:
        df = pd.read_csv(path, dtype={"area_code": "string"})
    except (OSError, ValueError) as exc:
        raise TotalPlaceError(f"{path.name}: cannot read driver file ({exc})") from exc
    if not {"area_code", "value"} <= set(df.columns):
        raise TotalPlaceError(f"{path.name}: a driver file needs columns area_code,value")
    values = pd.to_numeric(df["value"], errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        line = int(bad.idxmax()) + 2
        raise TotalPlaceError(
            f"{path.name} line {line}: value {df['value'].iloc[line - 2]!r} "
            "is not a non-negative number"
        )
    return pd.DataFrame(
        {"area_code": df["area_code"], "w": (values * USER_SCALE).round().astype("int64")}
    )
