"""Published values: amounts to exact pence, dates in every published style, financial years."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from totalplace.ingest.values import (
    AMOUNT_PATTERN,
    AMOUNT_SEPARATORS,
    PLAUSIBLE_MIN_YEAR,
    check_plausible_date,
    excel_serial_to_date,
    financial_year,
    floats_to_pence,
    normalise_financial_year,
    parse_amount_pence,
    parse_date,
    plausible_years,
)

# -- amounts --------------------------------------------------------------------------------------
pounds = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False
)


def _styles(d: Decimal) -> list[str]:
    """The ways publishers print one amount in pounds."""
    a = abs(d)
    plain, commas = f"{a:.2f}", f"{a:,.2f}"
    short = format(a.normalize(), "f") if a else "0"  # '1234.5', '1200'
    if d >= 0:
        return [
            plain,
            commas,
            f" {commas} ",
            f"£{commas}",
            f"£ {plain}",
            short,
            f"+{plain}",
            commas.replace(",", "\u00a0"),
            f"{commas} GBP",
        ]
    return [
        f"-{plain}",
        f"-{commas}",
        f" -{commas} ",
        f"({commas})",
        f"(£{commas})",
        f"£({commas})",
        f"-£{commas}",
        f"£-{commas}",
        f"{commas}-",
        f"{commas} CR",
        f"{plain}cr",
        f"-{short}",
        f"({plain}-)",
    ]


@given(pounds)
@example(Decimal("0.00"))
@example(Decimal("-0.01"))
@example(Decimal("999999999999.99"))
def test_amount_round_trips_in_every_published_style(d: Decimal) -> None:
    for style in _styles(d):
        assert parse_amount_pence(style) == int(d * 100), style


@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=5, allow_nan=False))
def test_scaled_amounts_are_exact(d: Decimal) -> None:
    """£ thousand with five decimals is an exact number of pence."""
    assert parse_amount_pence(f"{d:,.5f}", scale=1000) == int(d * 100_000)
    assert parse_amount_pence(d, scale=1000) == int(d * 100_000)


@pytest.mark.parametrize(
    ("text", "pence"),
    [
        ("1424.00", 142400),
        ("9792.5", 979250),
        ('" 200,768.88 "'.strip('"'), 20076888),
        ("0.005", 1),
        ("-0.005", -1),  # half away from zero, symmetric
        ("0.0049", 0),
        (2.675, 268),  # a float is read as the decimal it prints as, not its binary value
        (1424, 142400),
        (Decimal("12.345"), 1235),
        ("1e3", 100000),
        ("1.00499999999999999999999999999999", 100),  # no double rounding on long inputs
        ("5e10", 5_000_000_000_000),
    ],
)
def test_amount_examples(text: object, pence: int) -> None:
    assert parse_amount_pence(text) == pence


def test_amount_scales() -> None:
    assert parse_amount_pence(0.08214446287753811, scale=1_000_000) == 8214446
    assert parse_amount_pence(213738.6, scale=1000) == 21373860000


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        None,
        "abc",
        "12,3O4.00",
        "1.2.3",
        "£",
        "()",
        "-",
        True,
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        "1e30",
        1e300,
        "99999999999999999999",
    ],
)
def test_amount_errors_are_value_errors(text: object) -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_amount_pence(text)


def test_amount_error_names_the_text() -> None:
    with pytest.raises(ValueError, match=r"'12,3O4\.00' is not a number"):
        parse_amount_pence(" 12,3O4.00 ")


@pytest.mark.parametrize("text", ["1,2,3", "1,23,4.5,6", "1.234,56", "12,34", "1,2345", "0,5"])
def test_misplaced_thousands_separators_are_not_amounts(text: str) -> None:
    """'1,2,3' was read as £123 and '1,23,4.5,6' as £1,234.56: commas were dropped anywhere."""
    with pytest.raises(ValueError, match=r"misplaced thousands separators"):
        parse_amount_pence(text)
    assert not re.fullmatch(AMOUNT_PATTERN, text)


@pytest.mark.parametrize(
    ("text", "pence"),
    [
        ("1,234,567.89", 123456789),
        ("1234567.89", 123456789),
        ("-1,234", -123400),
        ("(1,234.00)", -123400),
        ("£12,345", 1234500),
        ("1\u00a0234\u00a0567.00", 123456700),
        ("999", 99900),
    ],
)
def test_well_formed_thousands_groups_are_amounts(text: str, pence: int) -> None:
    assert parse_amount_pence(text) == pence


def test_amount_pattern_reads_the_same_in_duckdb() -> None:
    """`AMOUNT_PATTERN` is for the vectorised path too: RE2 agrees with Python's re."""
    import duckdb

    cells = ["1,2,3", "1,234,567.89", "-1,234", "1\u00a0234.50", "1e3", "12,3O4", ".5", "1.234,56"]
    con = duckdb.connect()
    sql = "SELECT regexp_full_match(?, ?), regexp_replace(?, ?, '', 'g')"
    for cell in cells:
        matched, bare = con.execute(
            sql, [cell, AMOUNT_PATTERN, cell, f"[{AMOUNT_SEPARATORS}]"]
        ).fetchone()  # type: ignore[misc]
        assert matched == bool(re.fullmatch(AMOUNT_PATTERN, cell)), cell
        if matched:
            assert parse_amount_pence(cell) == parse_amount_pence(bare), cell


def test_excel_error_values_are_named() -> None:
    with pytest.raises(ValueError, match=r"'#DIV/0!' is an Excel error value, not a number"):
        parse_amount_pence("#DIV/0!")
    with pytest.raises(ValueError, match=r"'#N/A' is an Excel error value, not a date"):
        parse_date("#N/A")


finite = st.floats(min_value=-1e13, max_value=1e13, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, max_size=30), st.sampled_from([1, 1000, 1_000_000]))
@example([0.005, -0.005, 2.675, 1.005, 0.0, -0.0, 1e-300], 1)
@example([0.08214446287753811, 0.0000005], 1_000_000)
def test_floats_to_pence_matches_parse_amount_pence(values: list[float], scale: int) -> None:
    try:
        expected = [parse_amount_pence(v, scale=scale) for v in values]
    except ValueError:
        with pytest.raises(ValueError):
            floats_to_pence(values, scale)
        return
    assert floats_to_pence(values, scale).tolist() == expected
    assert floats_to_pence(np.array(values), scale).dtype == np.int64


# -- dates ----------------------------------------------------------------------------------------
DATE_STYLES = [
    "%d/%m/%Y",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S+00:00",
    "%Y-%m-%dT%H:%M:%S.000Z",
    "%Y-%m-%dT%H:%M",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%d %B %Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
]
dates = st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(2068, 12, 31))


@given(dates, st.sampled_from(DATE_STYLES), st.sampled_from([str.upper, str.lower, str]))
def test_date_round_trips_in_every_style(d: dt.date, style: str, case: object) -> None:
    moment = dt.datetime.combine(d, dt.time(13, 45, 10))
    printed = moment.strftime(style)
    if "%b" in style or "%B" in style:
        printed = case(printed)  # type: ignore[operator]  # '01-JUN-2012', '1 june 2012'
    assert parse_date(printed) == d, printed


@given(dates)
def test_two_digit_years_are_uk_order(d: dt.date) -> None:
    assert parse_date(d.strftime("%d/%m/%y")) == d


@given(st.dates(min_value=dt.date(1927, 6, 1), max_value=dt.date(2099, 12, 31)))
def test_excel_serials(d: dt.date) -> None:
    serial = (d - dt.date(1899, 12, 30)).days
    assert parse_date(serial) == d
    assert parse_date(float(serial) + 0.5) == d  # a time of day
    assert parse_date(str(serial)) == d
    assert excel_serial_to_date(serial) == d


def test_date_examples() -> None:
    assert parse_date(40302) == dt.date(2010, 5, 4)  # Devon May 2010
    assert parse_date("04/05/2010") == dt.date(2010, 5, 4)  # never US order
    assert parse_date("01-JUN-2012") == dt.date(2012, 6, 1)
    assert parse_date("2020-10-01 00:00:00") == dt.date(2020, 10, 1)
    assert parse_date("2020-05-05T00:00:00.000Z") == dt.date(2020, 5, 5)
    assert parse_date(dt.datetime(2010, 5, 4, 9, 30)) == dt.date(2010, 5, 4)
    assert parse_date(dt.date(2010, 5, 4)) == dt.date(2010, 5, 4)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "31/02/2010",
        "13/13/2010",
        "yesterday",
        "P13-2009-10",
        True,
        float("nan"),
        0,
        3_000_000,
    ],
)
def test_date_errors(value: object) -> None:
    with pytest.raises(ValueError):
        parse_date(value)


@pytest.mark.parametrize("text", ["9999-12-31", "01/01/1800", "31/12/1989", "01/01/2100"])
def test_implausible_dates_are_refused(text: str) -> None:
    """9999-12-31 gave financial year '9999-00' and 01/01/1800 gave '1799-00'."""
    years = plausible_years(today=dt.date(2026, 12, 6))
    assert years == (PLAUSIBLE_MIN_YEAR, 2027)
    with pytest.raises(ValueError, match=r"outside the plausible range 1990-01-01 to 2027-12-31"):
        check_plausible_date(parse_date(text), years)


def test_plausible_range_is_an_option() -> None:
    today = dt.date(2026, 12, 6)
    assert plausible_years({"min_year": "1980", "max_year": ""}, today=today) == (1980, 2027)
    assert plausible_years({"max_year": 2040}, today=today) == (1990, 2040)
    day = dt.date(1985, 6, 1)
    assert check_plausible_date(day, plausible_years({"min_year": "1980"})) == day
    for bad in ({"min_year": "80"}, {"min_year": "2020", "max_year": "2010"}):
        with pytest.raises(ValueError, match="option"):
            plausible_years(bad, today=today)


# -- financial years ------------------------------------------------------------------------------
starts = st.integers(min_value=1950, max_value=2098)


@given(
    starts,
    st.sampled_from(
        [
            "{a}-{b2}",
            "{a}/{b2}",
            "{a}-{b4}",
            "{a} - {b2}",
            "FY{a}-{b2}",
            "fy {a}/{b4}",
            " {a}-{b2} ",
        ]
    ),
)
def test_financial_year_styles(start: int, style: str) -> None:
    text = style.format(a=start, b2=f"{(start + 1) % 100:02d}", b4=start + 1)
    assert normalise_financial_year(text) == f"{start}-{(start + 1) % 100:02d}"


@given(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2098, 12, 31)))
def test_financial_year_of_a_date(d: dt.date) -> None:
    fy = financial_year(d)
    start = int(fy[:4])
    assert dt.date(start, 4, 1) <= d <= dt.date(start + 1, 3, 31)
    assert normalise_financial_year(fy) == fy


def test_financial_year_examples() -> None:
    assert financial_year(dt.date(2010, 5, 4)) == "2010-11"
    assert financial_year(dt.date(2010, 3, 31)) == "2009-10"
    assert normalise_financial_year("1999-00") == "1999-00"
    assert normalise_financial_year("1999-2000") == "1999-00"


@given(st.dates())
def test_financial_year_labels_are_always_well_formed(d: dt.date) -> None:
    try:
        fy = financial_year(d)
    except ValueError:
        assert d < dt.date(1000, 4, 1) or d >= dt.date(9999, 4, 1)
        return
    assert re.fullmatch(r"\d{4}-\d{2}", fy) and normalise_financial_year(fy) == fy


@pytest.mark.parametrize(
    "text",
    ["2009-11", "2009", "09-10", "2009-2011", "abc", "", "2009-2110", "9999-00", "0999-00"],
)
def test_financial_year_errors(text: str) -> None:
    with pytest.raises(ValueError, match="financial year"):
        normalise_financial_year(text)
