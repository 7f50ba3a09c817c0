"""Is a challenge's proposed amount plausible? One documented rule, so a slip of units
(£1,000,000bn typed for £1bn) is refused with the bound instead of landing in a scenario.

The rule: a proposed amount for a cell may be at most the larger of ``CELL_MULTIPLE`` times the
cell's current figure and the place's total spend (all cells of the count), and never more than
``CEILING_PENCE`` (£2 trillion, more than all UK public spending in any year). A cell that is
£0 today (or a theme cell, not in the count by function) can still be proposed up to the place's
total. Without the count, only the ceiling applies.
"""

from __future__ import annotations

from totalplace.workshop.models import WorkshopError
from totalplace.workshop.scenarios import gbp

CELL_MULTIPLE = 10
CEILING_PENCE = 2_000_000_000_000_00  # £2 trillion


class ImplausibleChallenge(WorkshopError):
    """A proposed amount beyond the bound (the message says the bound and why)."""


def bound(cell_pence: int | None, place_total_pence: int | None) -> int:
    """The largest amount a challenge may propose for a cell (pence)."""
    if place_total_pence is None:
        return CEILING_PENCE
    return min(CEILING_PENCE, max(CELL_MULTIPLE * max(cell_pence or 0, 0), place_total_pence))


def check_proposed_amount(
    proposed_pence: int, cell_label: str, cell_pence: int | None, place_total_pence: int | None
) -> None:
    """Raise ImplausibleChallenge when ``proposed_pence`` is over ``bound``."""
    limit = bound(cell_pence, place_total_pence)
    if proposed_pence <= limit:
        return
    if place_total_pence is None or limit == CEILING_PENCE:
        why = "more than all UK public spending in any year"
    else:
        now = gbp(cell_pence or 0)
        why = (
            f"the larger of {CELL_MULTIPLE}× the cell's figure ({now}) and the place's total "
            f"spend ({gbp(place_total_pence)})"
        )
    raise ImplausibleChallenge(
        f"a proposed {gbp(proposed_pence)} for {cell_label} is not plausible: a challenge may "
        f"propose at most {gbp(limit)} ({why}); check the units (£m or £bn?)"
    )
