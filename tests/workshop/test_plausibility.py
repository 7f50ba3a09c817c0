"""Implausible challenges are refused with the bound: a proposal may be at most the larger of
10× the cell and the place's total, never over £2tn (``totalplace.workshop.plausibility``)."""

from __future__ import annotations

import pandas as pd
import pytest

from totalplace.workshop import plausibility as pl
from totalplace.workshop.service import FigureCell, WorkshopService

from .conftest import PLACE, YEAR

BN = 1_000_000_000_00  # £1bn in pence


def test_the_bound_is_ten_times_the_cell_or_the_place_total_whichever_is_larger() -> None:
    assert pl.bound(2 * BN, 12 * BN) == 20 * BN  # 10 × £2bn
    assert pl.bound(1 * BN, 30 * BN) == 30 * BN  # the place's total
    assert pl.bound(0, 30 * BN) == 30 * BN  # a £0 cell can still be challenged up
    assert pl.bound(None, None) == pl.CEILING_PENCE  # no count: only the ceiling
    assert pl.bound(500 * BN, 1_000 * BN) == pl.CEILING_PENCE  # never over £2tn


def test_a_million_billion_pound_challenge_on_a_two_billion_cell_is_refused() -> None:
    with pytest.raises(pl.ImplausibleChallenge) as refused:
        pl.check_proposed_amount(1_000_000 * BN, "Councils × 7. Health", 2 * BN, 12 * BN)
    words = str(refused.value)
    assert "at most £20,000,000,000.00" in words
    assert "10× the cell's figure (£2,000,000,000.00)" in words and "£m or £bn" in words
    pl.check_proposed_amount(20 * BN, "Councils × 7. Health", 2 * BN, 12 * BN)  # the bound is in


def _service(db_url: str, figures: pd.DataFrame | None) -> WorkshopService:
    source = None if figures is None else (lambda place, year: figures)
    return WorkshopService.from_url(db_url, figures=source)


def test_the_service_refuses_implausible_proposals_against_the_count(
    db_url: str, baseline: pd.DataFrame
) -> None:
    svc = _service(db_url, baseline)  # Councils × 7. Health is £20m; the place £664.9m
    try:
        fac = svc.create_workshop(PLACE, ["E08000025"], YEAR, None, "Fay").token
        partner = svc.issue_token(fac, "partner", "Pat").token
        cell = FigureCell(PLACE, YEAR, "Councils", "7. Health")
        with pytest.raises(pl.ImplausibleChallenge, match=r"at most £664,900,000\.00"):
            svc.create_challenge(partner, cell, "typo", amount_pence=1_000_000 * BN)
        ok = svc.create_challenge(partner, cell, "double it", amount_pence=40_000_000_00)
        assert ok.proposed_amount_pence == 40_000_000_00
        theme = FigureCell(PLACE, YEAR, "Councils", theme="Older people")
        with pytest.raises(pl.ImplausibleChallenge):
            svc.create_challenge(partner, theme, "too big", amount_pence=700_000_000_00)
        assert len(svc.list_challenges(partner)) == 1  # the refused ones left nothing
    finally:
        svc.close()


def test_without_the_count_only_the_ceiling_applies(db_url: str) -> None:
    svc = _service(db_url, None)
    try:
        fac = svc.create_workshop(PLACE, ["E08000025"], YEAR, None, "Fay").token
        cell = FigureCell(PLACE, YEAR, "Councils", "7. Health")
        with pytest.raises(pl.ImplausibleChallenge, match="all UK public spending"):
            svc.create_challenge(fac, cell, "typo", amount_pence=1_000_000 * BN)
        assert svc.create_challenge(fac, cell, "big", amount_pence=900 * BN).id == 1
    finally:
        svc.close()
