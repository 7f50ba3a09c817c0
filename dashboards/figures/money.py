"""Money and count formatting for people: '£1.2bn', '£340m', '£7,425', '£7,425 a head'."""

from __future__ import annotations

import math

#: What a missing figure shows (never 'nan' or an empty cell).
MISSING = "n/a"


def _is_missing(value: float | int | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_gbp(value: float | int | None) -> str:
    """Pounds, shortened the way budget papers print them.

    ``1.2e9 -> '£1.2bn'``, ``3.4e8 -> '£340m'``, ``2.5e6 -> '£2.5m'``, ``7425 -> '£7,425'``,
    ``-1.2e9 -> '-£1.2bn'``, ``0 -> '£0'``. Billions keep one decimal below £100bn ('£12.3bn'),
    millions below £10m ('£2.5m'), a trailing '.0' is dropped; smaller amounts are whole pounds.
    The unit is chosen after rounding, so £999.96m prints as '£1bn', not '£1,000m'.
    """
    if _is_missing(value):
        return MISSING
    assert value is not None
    a = abs(float(value))
    text = _scaled(a)
    sign = "-" if value < 0 and text != "0" else ""
    return f"{sign}£{text}"


def _scaled(a: float) -> str:
    """``a`` (>= 0) as '7.3bn', '340m' or '7,425'."""
    m = a / 1e6
    if round(m, 1 if round(m, 1) < 10 else 0) >= 1000:
        return _unit(a / 1e9, "bn", one_decimal_below=100)
    if round(a) >= 1e6:
        return _unit(m, "m", one_decimal_below=10)
    return f"{a:,.0f}"


def _unit(x: float, unit: str, one_decimal_below: float) -> str:
    text = f"{x:,.1f}" if round(x, 1) < one_decimal_below else f"{x:,.0f}"
    return (text[:-2] if text.endswith(".0") else text) + unit


def format_per_head(value: float | int | None) -> str:
    """Pounds a head, whole pounds: ``7425.4 -> '£7,425 a head'``."""
    if _is_missing(value):
        return MISSING
    assert value is not None
    sign = "-" if round(value) < 0 else ""
    return f"{sign}£{abs(value):,.0f} a head"


def format_count(value: float | int | None) -> str:
    """A whole number with thousands separators: ``1427400 -> '1,427,400'``."""
    if _is_missing(value):
        return MISSING
    assert value is not None
    return f"{value:,.0f}"


def format_share(part: float, whole: float) -> str:
    """A share as a whole percentage ('23%'); '<1%' for small non-zero parts; n/a if no whole."""
    if not whole:
        return MISSING
    pct = 100 * part / whole
    if 0 < abs(pct) < 0.5:
        return "<1%"
    return f"{pct:.0f}%"
