"""The cash / real switch in a real browser: on the overview, choosing real terms changes every
money figure on the page (cards, bar charts, map, table) and labels it with its prices year; the
time-series page draws its breaks. Every test also fails on a request leaving 127.0.0.1 or a
browser console error (see conftest).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.browser

PRICES = "(2018-19 prices)"
#: Every money figure on the overview: the cards, the two bar charts' titles (with their totals),
#: the map's title and the table's first amount.
MONEY = {
    "total": "#kpi-total .kpi-value",
    "per head": "#kpi-per-head .kpi-value",
    "councils": "#kpi-councils .kpi-value",
    "agency chart": "#overview-agency .gtitle",
    "function chart": "#overview-function .gtitle",
    "map": "#overview-map .gtitle",
    "table": "#overview-grid .ag-row[row-index='0'] [col-id='amount_gbp']",
}
LABELS = {
    "total": "#kpi-total .kpi-label",
    "per head": "#kpi-per-head .kpi-label",
    "agency chart": "#overview-agency .gtitle",
    "map": "#overview-map .gtitle",
}


def _texts(page: Any, selectors: dict[str, str]) -> dict[str, str]:
    for s in selectors.values():
        page.wait_for_selector(s)
    return {k: str(page.text_content(s) or "").strip() for k, s in selectors.items()}


def test_the_switch_changes_every_money_figure_on_the_overview(watched: Any, base_url: str) -> None:
    page = watched.page
    page.goto(f"{base_url}/?place=Kent&year=2010-11")
    page.wait_for_function(
        "s => (document.querySelector(s)?.textContent || '').includes('£')",
        arg=MONEY["total"],
    )
    cash = _texts(page, MONEY)
    assert all("£" in v for k, v in cash.items() if k != "map"), cash
    assert not any(PRICES in v for v in _texts(page, LABELS).values())

    page.get_by_label(f"Real {PRICES}").check()
    page.wait_for_function(
        "([s, old]) => (document.querySelector(s)?.textContent || '') !== old",
        arg=[MONEY["total"], cash["total"]],
    )
    for key, selector in MONEY.items():
        page.wait_for_function(
            "([s, old]) => (document.querySelector(s)?.textContent || '').trim() !== old",
            arg=[selector, cash[key]],
        )
    real = _texts(page, MONEY)
    assert all(real[k] != cash[k] for k in MONEY), (cash, real)
    assert all(PRICES in v for v in _texts(page, LABELS).values())
    page.wait_for_function("() => location.search.includes('terms=real')")
    assert parse_qs(urlparse(page.url).query)["terms"] == ["real"]

    # a shared URL opens in real terms; back to cash gives the cash figures again
    page.goto(f"{base_url}/?place=Kent&year=2010-11&terms=real")
    page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.textContent || '') === t",
        arg=[MONEY["total"], real["total"]],
    )
    page.get_by_label("Cash").check()
    page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.textContent || '') === t",
        arg=[MONEY["total"], cash["total"]],
    )


def test_the_time_series_marks_the_release_break(watched: Any, base_url: str) -> None:
    page = watched.page
    page.goto(f"{base_url}/timeseries?place=Kent&terms=real")
    page.wait_for_function(
        "() => (document.querySelector('#timeseries-total .gtitle')?.textContent || '')"
        ".includes('2018-19 prices')"
    )
    note = page.text_content("#timeseries-total .annotation-text") or ""
    assert "dashed line: CRA 2010 release" in note and "CRA 2014" in note
    assert page.locator("#timeseries-total .shapelayer path").count() >= 1
    assert "Councils' own outturn replaces CRA from 2010-11" in page.inner_text("#timeseries-note")
