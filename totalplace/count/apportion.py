"""Exact apportionment: share an amount in pence among areas by integer weights.

Largest-remainder rounding: each area gets floor(amount * w / W) pence, and the pence left over
go one each to the areas with the largest remainders (ties: the earlier key). The parts always
sum to the amount exactly, negative amounts included. The SQL in `engine.py` implements the
same rule inside DuckDB; a test checks they agree.
"""

from __future__ import annotations

from collections.abc import Mapping


def apportion(amount_pence: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Split ``amount_pence`` among ``weights`` (non-negative integers, positive total)."""
    if any(w < 0 for w in weights.values()):
        raise ValueError("driver weights must not be negative")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("driver weights sum to zero: nothing to apportion by")
    floors: dict[str, int] = {}
    remainders: list[tuple[int, str]] = []
    for key, w in weights.items():
        q, r = divmod(amount_pence * w, total)  # floor division, r >= 0 even for negatives
        floors[key] = q
        remainders.append((r, key))
    short = amount_pence - sum(floors.values())
    remainders.sort(key=lambda rk: (-rk[0], rk[1]))
    for _, key in remainders[:short]:
        floors[key] += 1
    return floors
