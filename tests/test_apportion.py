"""Exact apportionment: parts always sum to the whole, in pence, negatives included."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from totalplace.count.apportion import apportion

weights = st.dictionaries(
    st.text(alphabet="ABCDEFGHJK0123456789", min_size=1, max_size=9),
    st.integers(min_value=0, max_value=10_000_000),
    min_size=1,
    max_size=60,
).filter(lambda d: sum(d.values()) > 0)


@given(amount=st.integers(min_value=-(10**15), max_value=10**15), w=weights)
def test_parts_sum_exactly_to_the_amount(amount: int, w: dict[str, int]) -> None:
    parts = apportion(amount, w)
    assert sum(parts.values()) == amount
    assert set(parts) == set(w)


@given(amount=st.integers(min_value=-(10**12), max_value=10**12), w=weights)
def test_each_part_is_within_a_penny_of_its_exact_share(amount: int, w: dict[str, int]) -> None:
    total = sum(w.values())
    for key, part in apportion(amount, w).items():
        exact = amount * w[key] / total
        assert abs(part - exact) < 1 + 1e-6 * abs(exact)


def test_zero_weight_gets_nothing_and_remainders_go_to_the_largest() -> None:
    assert apportion(100, {"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert apportion(-100, {"a": 1, "b": 1, "c": 1}) == {"a": -33, "b": -33, "c": -34}
    assert apportion(7, {"a": 0, "b": 5})["a"] == 0


def test_bad_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="sum to zero"):
        apportion(5, {"a": 0})
    with pytest.raises(ValueError, match="negative"):
        apportion(5, {"a": -1, "b": 3})
