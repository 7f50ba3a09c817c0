"""The place overview in a real browser: it loads, responds to its controls, and reads its URL.

Every test also fails on a request leaving 127.0.0.1 or a browser console error (see conftest).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.browser

TOTAL = "#kpi-total .kpi-value"
# (page modules register themselves with Dash, so they cannot be imported before the app)
MAP_SENTENCE = (
    "Per-head spend is flat within a region while population is the only driver: CRA gives spend "
    "by region, and it is shared among districts by population."
)


def _choose(page: Any, dropdown_id: str, option: str) -> None:
    """Pick ``option`` in a Dash dropdown the way a person does: open it, click the option."""
    page.click(f"#{dropdown_id}")
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def _shown(page: Any, dropdown_id: str) -> str:
    return str(page.inner_text(f"#{dropdown_id}-value")).strip()


def _wait_for_total(page: Any) -> str:
    page.wait_for_function(
        "s => (document.querySelector(s)?.textContent || '').includes('£')", arg=TOTAL
    )
    return str(page.inner_text(TOTAL))


def _wait_for_map(page: Any) -> None:
    page.wait_for_selector("#overview-map .maplibregl-canvas")


def test_overview_loads_for_kent_and_follows_the_place_control(watched: Any, base_url: str) -> None:
    page = watched.page
    page.goto(f"{base_url}/?place=Kent&year=2010-11")
    kent = _wait_for_total(page)
    assert re.fullmatch(r"£[\d.,]+bn", kent), kent
    assert "£" in page.inner_text("#kpi-per-head .kpi-value")
    assert page.get_by_text(MAP_SENTENCE).is_visible()
    page.wait_for_selector("#overview-agency .bars .point")
    page.wait_for_selector("#overview-function .bars .point")
    _wait_for_map(page)
    page.screenshot(path="/tmp/overview.png", full_page=True)

    _choose(page, "overview-place", "Birmingham")
    page.wait_for_function(
        "([s, old]) => { const t = document.querySelector(s)?.textContent || '';"
        " return t.includes('£') && t !== old; }",
        arg=[TOTAL, kent],
    )
    assert page.inner_text(TOTAL) != kent
    assert "Birmingham" in page.inner_text("#kpi-total .kpi-detail")
    # the address bar follows the controls, so the view can be shared
    page.wait_for_function("() => location.search.includes('Birmingham')")
    query = parse_qs(urlparse(page.url).query)
    assert query == {"place": ["Birmingham"], "year": ["2010-11"]}


def test_a_shared_url_sets_the_controls(watched: Any, base_url: str) -> None:
    page = watched.page
    page.goto(f"{base_url}/?place=Birmingham&year=2009-10")
    _wait_for_total(page)
    assert _shown(page, "overview-place") == "Birmingham"
    assert _shown(page, "overview-year") == "2009-10"
    assert "Birmingham, 2009-10" in page.inner_text("#kpi-total .kpi-detail")
    _wait_for_map(page)


def test_clicking_a_count_row_shows_its_source_lines(watched: Any, base_url: str) -> None:
    page = watched.page
    page.goto(f"{base_url}/?place=Kent&year=2010-11")
    _wait_for_total(page)
    page.wait_for_selector("#overview-grid .ag-row .ag-cell")
    page.click("#overview-grid .ag-center-cols-container .ag-row[row-index='0'] .ag-cell")
    page.wait_for_function(
        "() => (document.querySelector('#overview-sources-note')?.textContent || '')"
        ".includes('source lines, taking')"
    )
    page.wait_for_selector("#overview-sources .ag-row .ag-cell")
    cells = page.locator("#overview-sources .ag-row[row-index='0'] .ag-cell").all_inner_texts()
    assert any(re.search(r"\.(xls|xlsx|csv)", c) for c in cells), cells  # the file
    assert any(re.fullmatch(r"[\d.]+%", c.strip()) for c in cells), cells  # the share taken
