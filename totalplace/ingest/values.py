"""Parsing of published values: amounts to exact pence, dates, financial years.

Pure functions, shared by every adapter, tested with hypothesis.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

import numpy as np

#: The digits of an amount: plain (``1234567.89``, ``1e3``) or in well-formed groups of three
#: separated by commas or (no-break) spaces (``1,234,567.89``, ``1 234.50``). Anything else
#: (``1,2,3``, ``1,23,4.5,6``, a decimal comma ``1.234,56``) is not an amount. A regex string
#: that Python's ``re`` and DuckDB's RE2 (``regexp_full_match``) both read: no backreferences,
#: and the no-break and narrow no-break spaces are the characters themselves, not escapes.
AMOUNT_NUMBER = (
    r"(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?:[" + " \u00a0\u202f" + r"]\d{3})+)(?:\.\d*)?"
    r"|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?"
    r"|\.\d+(?:[eE][+-]?\d+)?"
)
#: A bare signed amount (no currency sign, brackets or CR): ``-1,234.00``, ``1234.5``. A cell
#: matching it is read exactly by removing the separators; any other cell goes through
#: `parse_amount_pence`, which peels ``£``, ``GBP``, brackets, ``CR`` and trailing minus first.
AMOUNT_PATTERN = rf"[+-]?(?:{AMOUNT_NUMBER})"
#: Separators `AMOUNT_NUMBER` allows between groups of three digits.
AMOUNT_SEPARATORS = ", \u00a0\u202f"
#: Earliest year a published transaction date may fall in (option ``min_year`` changes it).
PLAUSIBLE_MIN_YEAR = 1990
#: Latest plausible year, counted from today (option ``max_year`` changes it): next year.
PLAUSIBLE_YEARS_AHEAD = 1

_AMOUNT = re.compile(AMOUNT_PATTERN)
_AMOUNT_EDGE = re.compile(r"£|GBP|(?<!\d)\s+|\s+(?!\d)", re.IGNORECASE)
_AMOUNT_GROUPING = re.compile(f"[{AMOUNT_SEPARATORS}]")
_EXCEL_ERROR = re.compile(
    r"#(?:DIV/0!|N/A|NAME\?|NULL!|NUM!|REF!|VALUE!|SPILL!|CALC!|GETTING_DATA)"
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_FY = re.compile(r"^(?:FY\s*)?(\d{4})\s*[-/]\s*(\d{2}|\d{4})$", re.IGNORECASE)


def parse_amount_pence(text: object, scale: int = 1) -> int:
    """Parse a published amount into integer pence, exactly.

    Accepts ``1424.00``, ``" 200,768.88 "``, ``£1,234``, ``(123.45)``, ``-5``, ``123.45-``,
    ``123.45 CR``, numbers already parsed (int/float/Decimal). ``scale`` multiplies first (1000
    for £ thousand, 1_000_000 for £ million). Raises ValueError with the offending text, also
    for thousands separators out of place (``1,2,3`` is not £123: see `AMOUNT_NUMBER`).
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
        s = _AMOUNT_EDGE.sub("", s)
        if s.endswith("-") and len(s) > 1:
            negative, s = True, s[:-1]
        if s.startswith("(") and s.endswith(")"):
            negative, s = True, s[1:-1]
        if not s or not _AMOUNT.fullmatch(s):
            raise ValueError(_not_a_number(raw.strip(), s))
        try:
            value = Decimal(_AMOUNT_GROUPING.sub("", s))
        except InvalidOperation as exc:  # pragma: no cover - regex guards this
            raise ValueError(f"amount {raw.strip()!r} is not a number") from exc
        if negative:
            value = -abs(value)
    if not value.is_finite():
        raise ValueError(f"amount {text!r} is not a number")
    return _to_pence(value, scale, text)


def _not_a_number(shown: str, core: str) -> str:
    """Why an amount was refused, in words a person can act on."""
    if _EXCEL_ERROR.fullmatch(shown):
        return f"amount {shown!r} is an Excel error value, not a number"
    if _AMOUNT.fullmatch(_AMOUNT_GROUPING.sub("", core)):
        return (
            f"amount {shown!r} has misplaced thousands separators (groups of three digits, "
            "as in 1,234,567.89): not read as a number"
        )
    return f"amount {shown!r} is not a number"


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
    """UK financial year (April to March) of a date: 2010-05-04 -> '2010-11'.

    Always a well-formed ``YYYY-YY`` label: a date whose year starts before 1000 or in 9999
    (whose year would end in 10000) raises ValueError."""
    start = d.year if d.month >= 4 else d.year - 1
    if not 1000 <= start <= 9998:
        raise ValueError(f"date {d.isoformat()} has no financial year like 2009-10")
    return f"{start}-{(start + 1) % 100:02d}"


def plausible_years(
    options: Mapping[str, object] | None = None, today: dt.date | None = None
) -> tuple[int, int]:
    """The first and last year a published transaction date may fall in: `PLAUSIBLE_MIN_YEAR`
    to next year by default; options ``min_year`` and ``max_year`` change either end."""
    options = options or {}
    today = today or dt.date.today()
    bounds = []
    for key, default in (
        ("min_year", PLAUSIBLE_MIN_YEAR),
        ("max_year", today.year + PLAUSIBLE_YEARS_AHEAD),
    ):
        given = options.get(key)
        if given in (None, ""):
            bounds.append(default)
            continue
        text = str(given).strip()
        if not re.fullmatch(r"\d{4}", text):
            raise ValueError(f"option {key}={given!r}: write a year like {default}")
        bounds.append(int(text))
    if bounds[0] > bounds[1]:
        raise ValueError(f"option min_year={bounds[0]} is after max_year={bounds[1]}")
    return bounds[0], bounds[1]


def check_plausible_date(day: dt.date, years: tuple[int, int]) -> dt.date:
    """``day`` if it falls in ``years`` (first, last; see `plausible_years`), else ValueError:
    9999-12-31 or 01/01/1800 is a placeholder or a typing error, not a payment date."""
    if not years[0] <= day.year <= years[1]:
        raise ValueError(
            f"date {day.isoformat()} is outside the plausible range {years[0]}-01-01 to "
            f"{years[1]}-12-31 (options min_year, max_year)"
        )
    return day


def normalise_financial_year(text: str) -> str:
    """'2009-10', '2009/10', '2009-2010', 'FY2009-10' -> '2009-10' (always ``YYYY-YY``)."""
    m = _FY.match(str(text).strip())
    if not m:
        raise ValueError(f"{text!r} is not a financial year like 2009-10")
    start, end = int(m.group(1)), m.group(2)
    end2 = int(end) % 100
    # '2009-2110' is not 2009-10, and 0999-00 or 9999-00 would not be a YYYY-YY label
    well_formed = int(end) == start + 1 if len(end) == 4 else end2 == (start + 1) % 100
    if not well_formed or not 1000 <= start <= 9998:
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
    if _EXCEL_ERROR.fullmatch(s):
        raise ValueError(f"date {s!r} is an Excel error value, not a date")
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
