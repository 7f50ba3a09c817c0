"""Published values: amounts to exact pence, dates in every published style, financial years."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from totalplace.ingest.values import (
    excel_serial_to_date,
    financial_year,
    floats_to_pence,
    normalise_financial_year,
    parse_amount_pence,
    parse_date,
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


@pytest.mark.parametrize("text", ["2009-11", "2009", "09-10", "2009-2011", "abc", ""])
def test_financial_year_errors(text: str) -> None:
    with pytest.raises(ValueError, match="financial year"):
        normalise_financial_year(text)
