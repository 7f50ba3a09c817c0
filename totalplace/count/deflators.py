"""Real terms with HM Treasury's GDP deflators ("GDP deflators at market prices, and money GDP",
published on gov.uk as an .xlsx, read by the ``hmt_deflators`` adapter into the ``deflators``
table: ``year, index, status``).

Pure functions: a deflator series (a frame of ``year, index`` and optionally ``status``) gives
the factor that turns one year's cash into another year's prices. The default prices year is
the series' latest **outturn** year; forecast years (derived from published per-cent changes)
may be asked for and are marked as such.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import pandas as pd

from totalplace.count.result import CountResult
from totalplace.errors import TotalPlaceError

_D = TypeVar("_D")


def latest_outturn(deflators: pd.DataFrame) -> str:
    """The latest year of the series that is outturn (not forecast): the default prices year."""
    if "status" in deflators:
        deflators = deflators[deflators["status"] != "forecast"]
    if deflators.empty:
        raise TotalPlaceError("the GDP deflator series has no outturn years")
    return str(deflators["year"].max())


def _describe(deflators: pd.DataFrame) -> str:
    years = sorted(map(str, deflators["year"]))
    return f"{years[0]} to {years[-1]}" if years else "none"


def real_terms_factor(
    deflators: pd.DataFrame, year: str, base: str | None = None
) -> tuple[float, str]:
    """Multiply ``year``'s cash by the factor to express it in ``base``-year prices (default:
    the latest outturn year). Raises a TotalPlaceError naming the year that has no deflator."""
    series = dict(zip(map(str, deflators["year"]), deflators["index"], strict=True))
    base_year = base or latest_outturn(deflators)
    for what, y in (("prices year", base_year), ("year", year)):
        if y not in series:
            raise TotalPlaceError(
                f"no GDP deflator for {what} {y!r} (the series has {_describe(deflators)})"
            )
    return float(series[base_year]) / float(series[year]), base_year


def real_terms_factors(
    deflators: pd.DataFrame, years: Iterable[str], base: str | None = None
) -> dict[str, float]:
    """``{year: factor}`` into ``base`` prices for each of ``years`` that the series covers."""
    known = set(map(str, deflators["year"]))
    return {y: real_terms_factor(deflators, y, base)[0] for y in years if y in known}


def is_forecast(deflators: pd.DataFrame, year: str) -> bool:
    """Whether ``year``'s index is a forecast (derived from published per-cent changes)."""
    if "status" not in deflators:
        return False
    return bool((deflators.loc[deflators["year"] == year, "status"] == "forecast").any())


def real_terms_summary(
    deflators: pd.DataFrame, year: str, total_pence: int, population: int, base: str | None = None
) -> dict[str, Any]:
    """``total_pence`` of ``year`` in ``base`` prices: base_year, base_is_forecast, factor,
    total_gbp, per_head_gbp, source (the JSON ``real_terms`` object of counts and deep dives)."""
    factor, base_year = real_terms_factor(deflators, year, base)
    total = total_pence / 100 * factor
    source = str(deflators["source_id"].iloc[0]) if "source_id" in deflators else ""
    return {
        "base_year": base_year,
        "base_is_forecast": is_forecast(deflators, base_year),
        "factor": factor,
        "total_gbp": round(total, 2),
        "per_head_gbp": round(total / population, 2) if population else None,
        "source": source,
    }


def describe_real_terms(real: Mapping[str, Any]) -> str:
    """One line for people: 'in 2018-19 prices: £1,234 (£5 per head; GDP deflator x1.1488)'."""
    forecast = " forecast" if real.get("base_is_forecast") else ""
    return (
        f"in {real['base_year']}{forecast} prices: £{real['total_gbp']:,.0f} "
        f"(£{real['per_head_gbp'] or 0:,.0f} per head; GDP deflator x{real['factor']:.4f})"
    )


def with_real_column(
    frame: pd.DataFrame,
    deflators: pd.DataFrame,
    base: str | None = None,
    value: str = "tool_gbp",
    year: str = "year",
) -> pd.DataFrame:
    """``frame`` with ``<value>_real`` (``value`` in ``base`` prices; empty where the row's year
    has no deflator) and ``prices`` (the base year) columns."""
    base_year = base or latest_outturn(deflators)
    real_terms_factor(deflators, base_year, base_year)  # an unknown prices year is an error
    factors = real_terms_factors(deflators, frame[year].astype(str).unique(), base_year)
    stem = value.removesuffix("_gbp")
    return frame.assign(
        **{
            f"{stem}_real_gbp": frame[value] * frame[year].astype(str).map(factors),
            "prices": base_year,
        }
    )


#: CountResult frames that hold money, each in an ``amount_pence`` column.
_COUNT_MONEY_FRAMES = (
    "rows",
    "districts",
    "reported_by_councils",
    "replaced",
    "lines",
    "eliminated",
    "cra_lines",
)


def scaled_copy(obj: _D, factor: float, frames: Iterable[str], pence: Iterable[str] = ()) -> _D:
    """A copy of the dataclass ``obj`` with the ``*_pence`` columns of its ``frames`` and its
    ``pence`` whole-pence fields multiplied by ``factor`` (rounded to whole pence)."""
    changes: dict[str, Any] = {
        name: in_prices(frame, factor, [c for c in frame.columns if str(c).endswith("_pence")])
        for name in frames
        if (frame := getattr(obj, name)) is not None
    }
    changes |= {name: round(getattr(obj, name) * factor) for name in pence}
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]


def prices_caveat(year: str, factor: float, base_year: str) -> str:
    return (
        f"Figures are in {base_year} prices: cash for {year} multiplied by {factor:.4f} "
        "(HM Treasury GDP deflators)."
    )


def count_in_prices(result: CountResult, factor: float, base_year: str) -> CountResult:
    """``result`` with every amount (rows, districts, councils' outturn, replaced, lines,
    eliminated) multiplied by ``factor`` into ``base_year`` prices, in whole pence. A caveat
    says so."""
    out = scaled_copy(result, factor, _COUNT_MONEY_FRAMES)
    out.caveats = [prices_caveat(result.year, factor, base_year), *result.caveats]
    return out


def prices_label(base_year: str) -> str:
    """How real figures are labelled everywhere: '(2018-19 prices)'."""
    return f"({base_year} prices)"


def in_prices(
    frame: pd.DataFrame, factor: float | pd.Series, columns: Iterable[str]
) -> pd.DataFrame:
    """A copy of ``frame`` with its money ``columns`` multiplied by ``factor`` (one number, or
    one per row); integer (pence) columns stay integer pence, rounded half to even."""
    out = frame.copy()
    for c in columns:
        if c not in out:
            continue
        scaled = out[c] * factor
        out[c] = (
            scaled.round().astype(out[c].dtype) if pd.api.types.is_integer_dtype(out[c]) else scaled
        )
    return out
