"""Parsing of published values: amounts to exact pence, dates, financial years.

Pure functions, shared by every adapter, tested with hypothesis.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

import numpy as np

_AMOUNT_JUNK = re.compile(r"[£,\s\u00a0]|GBP", re.IGNORECASE)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_FY = re.compile(r"^(?:FY\s*)?(\d{4})\s*[-/]\s*(\d{2}|\d{4})$", re.IGNORECASE)


def parse_amount_pence(text: object, scale: int = 1) -> int:
    """Parse a published amount into integer pence, exactly.

    Accepts ``1424.00``, ``" 200,768.88 "``, ``£1,234``, ``(123.45)``, ``-5``, ``123.45-``,
    ``123.45 CR``, numbers already parsed (int/float/Decimal). ``scale`` multiplies first (1000
    for £ thousand, 1_000_000 for £ million). Raises ValueError with the offending text.
    """
    if text is None:
        raise ValueError("amount is empty")
    if isinstance(text, bool):
        raise ValueError(f"amount {text!r} is not a number")
    if isinstance(text, int | Decimal):
        value = Decimal(text)
    elif isinstance(text, float):
        if text != text or text in (float("inf"), float("-inf")):
            raise ValueError("amount is empty")
        value = Decimal(repr(text))
    else:
        raw = str(text)
        s = raw.strip()
        if not s:
            raise ValueError("amount is empty")
        negative = False
        if s.startswith("(") and s.endswith(")"):
            negative, s = True, s[1:-1]
        if s.upper().endswith("CR"):
            negative, s = True, s[:-2]
        s = _AMOUNT_JUNK.sub("", s)
        if s.endswith("-") and len(s) > 1:
            negative, s = True, s[:-1]
        if s.startswith("(") and s.endswith(")"):
            negative, s = True, s[1:-1]
        if not s or not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", s):
            raise ValueError(f"amount {raw.strip()!r} is not a number")
        try:
            value = Decimal(s)
        except InvalidOperation as exc:  # pragma: no cover - regex guards this
            raise ValueError(f"amount {raw.strip()!r} is not a number") from exc
        if negative:
            value = -abs(value)
    if not value.is_finite():
        raise ValueError(f"amount {text!r} is not a number")
    return _to_pence(value, scale, text)


def _to_pence(value: Decimal, scale: int, text: object) -> int:
    # Exact arithmetic: the default 28-digit context would round long inputs before the
    # half-up rounding to pence (double rounding) and raise InvalidOperation on huge ones.
    if value and value.adjusted() + len(str(abs(scale))) + 2 > 19:
        raise ValueError(f"amount {text!r} is too large")
    with localcontext() as ctx:
        ctx.prec = len(value.as_tuple().digits) + len(str(abs(scale))) + 40
        pence = (value * scale * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if abs(pence) >= 2**62:
        raise ValueError(f"amount {text!r} is too large")
    return int(pence)


def financial_year(d: dt.date) -> str:
    """UK financial year (April to March) of a date: 2010-05-04 -> '2010-11'."""
    start = d.year if d.month >= 4 else d.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def normalise_financial_year(text: str) -> str:
    """'2009-10', '2009/10', '2009-2010', 'FY2009-10' -> '2009-10'."""
    m = _FY.match(str(text).strip())
    if not m:
        raise ValueError(f"{text!r} is not a financial year like 2009-10")
    start, end = int(m.group(1)), m.group(2)
    end2 = int(end) % 100
    if end2 != (start + 1) % 100:
        raise ValueError(f"{text!r} is not a financial year like 2009-10")
    return f"{start}-{end2:02d}"


def excel_serial_to_date(serial: float) -> dt.date:
    """Excel (1900 system) serial number to a date: 40302 -> 2010-05-04."""
    if not 1 <= serial < 2958466:
        raise ValueError(f"{serial!r} is not an Excel date serial")
    return _EXCEL_EPOCH + dt.timedelta(days=int(serial))


_DATE_FORMATS = (
    "%d/%m/%Y",
    "%d/%m/%y",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%d %B %Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
)


def parse_date(value: object) -> dt.date:
    """Parse a published date: dd/mm/yyyy (UK order, never US), ISO, ISO date-time with or
    without zone, Excel serial numbers, report style ``01-JUN-2012``. Raises ValueError."""
    if value is None:
        raise ValueError("date is empty")
    if isinstance(value, bool):
        raise ValueError(f"date {value!r} is not a date")
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float):
        if value != value:
            raise ValueError("date is empty")
        return excel_serial_to_date(float(value))
    s = str(value).strip()
    if not s:
        raise ValueError("date is empty")
    if re.fullmatch(r"\d{5}(\.\d+)?", s):
        return excel_serial_to_date(float(s))
    iso = re.match(
        r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(:\d{2}(\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?$", s
    )
    if iso:
        return dt.date.fromisoformat(iso.group(1))
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(s.title() if "%b" in fmt or "%B" in fmt else s, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"date {s!r} is not a date this tool reads (dd/mm/yyyy, ISO, Excel serial)")


def floats_to_pence(values: Sequence[float] | np.ndarray, scale: int = 1) -> np.ndarray:
    """`parse_amount_pence` for many finite numbers at once: the same exact results, faster.

    Rounds in floating point where that provably gives the exact answer (the product is not
    within rounding error of a half-penny) and falls back to `parse_amount_pence` for the rest.
    Raises ValueError (like `parse_amount_pence`) for a non-finite or too large value.
    """
    v = np.asarray(values, dtype="float64")
    x = v * (float(scale) * 100.0)
    ax = np.abs(x)
    frac = ax - np.floor(ax)
    near_half = np.abs(frac - 0.5) <= ax * 1e-12 + 1e-9
    slow = near_half | ~np.isfinite(ax) | (ax >= 2.0**52)
    out = np.where(np.signbit(x), -np.floor(ax + 0.5), np.floor(ax + 0.5))
    out = np.where(slow, 0.0, out).astype("int64")
    for i in np.flatnonzero(slow):
        out[i] = parse_amount_pence(float(v[i]), scale=scale)
    return out
