"""Money formatting: the figures people read on every card, bar and hover."""

from __future__ import annotations

import math

import pytest

from dashboards.figures.money import (
    MISSING,
    format_count,
    format_gbp,
    format_per_head,
    format_share,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.2e9, "£1.2bn"),
        (7.3e9, "£7.3bn"),
        (82e9, "£82bn"),
        (12.34e9, "£12.3bn"),
        (123.4e9, "£123bn"),
        (1e9, "£1bn"),
        (3.4e8, "£340m"),
        (699e6, "£699m"),
        (2.5e6, "£2.5m"),
        (9.94e6, "£9.9m"),
        (9.96e6, "£10m"),
        (7425, "£7,425"),
        (7425.4, "£7,425"),
        (12, "£12"),
        (0, "£0"),
        (0.0, "£0"),
        (-1.2e9, "-£1.2bn"),
        (-340e6, "-£340m"),
        (-7425, "-£7,425"),
        (-0.2, "£0"),  # rounds to nothing: no minus sign on zero
    ],
)
def test_format_gbp(value: float, expected: str) -> None:
    assert format_gbp(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (999.96e6, "£1bn"),  # not '£1,000m'
        (999.4e6, "£999m"),
        (950e6, "£950m"),
        (999_999.6, "£1m"),  # not '£1,000,000'
        (999_999.4, "£999,999"),
    ],
)
def test_format_gbp_chooses_the_unit_after_rounding(value: float, expected: str) -> None:
    assert format_gbp(value) == expected


@pytest.mark.parametrize("value", [None, math.nan])
def test_missing_values_say_so(value: float | None) -> None:
    assert format_gbp(value) == MISSING
    assert format_per_head(value) == MISSING
    assert format_count(value) == MISSING


def test_format_per_head_and_count() -> None:
    assert format_per_head(7425.4) == "£7,425 a head"
    assert format_per_head(-12.0) == "-£12 a head"
    assert format_count(1_427_400) == "1,427,400"


def test_numpy_numbers_format_like_python_ones() -> None:
    np = pytest.importorskip("numpy")
    assert format_gbp(np.int64(730_000_000_000) / 100) == "£7.3bn"
    assert format_gbp(np.float64(-3.4e8)) == "-£340m"


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(25, 100, "25%"), (0.1, 100, "<1%"), (0, 100, "0%"), (5, 0, MISSING)],
)
def test_format_share(part: float, whole: float, expected: str) -> None:
    assert format_share(part, whole) == expected
