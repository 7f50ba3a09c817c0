"""The deep-dive page in a real browser: it loads for Dorset's older people, follows the theme
control, restores its state from the URL, drills down to source lines and downloads its tables.

Every test also fails on a request leaving 127.0.0.1 or a browser console error (see conftest).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

pytestmark = pytest.mark.browser

DORSET = "Dorset, Poole and Bournemouth"
TOTAL = "#deepdive-kpi-total .kpi-value"


@pytest.fixture()
def deepdive_page(watched: Any, base_url: str, workspace: Any) -> Any:
    if not hasattr(workspace, "deepdive"):
        pytest.skip("the fake workspace has no deep dive (needs the data mirror)")
    return watched.page


def _url(base_url: str, **query: str) -> str:
    return f"{base_url}/deepdive?{urlencode(query)}"


def _wait_for_total(page: Any, old: str | None = None) -> str:
    page.wait_for_function(
        "([s, old]) => { const t = document.querySelector(s)?.textContent || '';"
        " return t.includes('£') && t !== old; }",
        arg=[TOTAL, old or ""],
    )
    return str(page.text_content(TOTAL))


def _choose(page: Any, dropdown_id: str, option: str) -> None:
    page.click(f"#{dropdown_id}")
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def test_deep_dive_loads_follows_the_theme_restores_from_the_url_and_downloads(
    deepdive_page: Any, base_url: str, tmp_path: Path
) -> None:
    page = deepdive_page
    page.goto(_url(base_url, place=DORSET, year="2010-11", theme="older_people"))
    older = _wait_for_total(page)
    assert re.fullmatch(r"£[\d.,]+(bn|m)", older), older
    assert "£" in page.inner_text("#deepdive-kpi-per-head .kpi-value")
    assert "aged 65+" in page.inner_text("#deepdive-kpi-population")
    assert "overlap" in page.inner_text("#deepdive-checks-list").lower()
    page.wait_for_selector("#deepdive-agency .bars .point")
    page.wait_for_selector("#deepdive-function .bars .point")
    page.wait_for_selector("#deepdive-mode .bars .point")
    # drill-down: by default the largest rule's source lines, with file and row
    page.wait_for_selector("#deepdive-drill .ag-row")
    assert ".xls" in page.inner_text("#deepdive-drill")
    page.locator("#deepdive-rules .ag-row").filter(has_text="Winter Fuel Payment").first.click()
    page.wait_for_function(
        "() => (document.querySelector('#deepdive-drill-title')?.textContent || '')"
        ".includes('Winter Fuel Payment')"
    )

    _choose(page, "deepdive-theme", "Housing")
    housing = _wait_for_total(page, old=older)
    assert housing != older
    page.wait_for_function("() => location.search.includes('theme=housing')")
    assert parse_qs(urlparse(page.url).query) == {
        "place": [DORSET],
        "year": ["2010-11"],
        "theme": ["housing"],
    }

    # the shared address opens the same view
    page.goto(page.url)
    assert _wait_for_total(page) == housing
    assert page.inner_text("#deepdive-theme-value").strip() == "Housing"
    assert page.inner_text("#deepdive-place-value").strip() == DORSET

    # the tables download: one as CSV, all of them as one workbook
    with page.expect_download() as got:
        page.click("#deepdive-csv")
    csv_path = tmp_path / got.value.suggested_filename
    got.value.save_as(csv_path)
    assert csv_path.name == "deepdive_housing_Dorset-Poole-and-Bournemouth_2010-11_by_agency.csv"
    head = csv_path.read_text(encoding="utf-8-sig").splitlines()[0]
    assert head.startswith("agency_type,agency,amount_pence,amount_gbp")
    with page.expect_download() as got:
        page.click("#deepdive-xlsx")
    xlsx_path = tmp_path / got.value.suggested_filename
    got.value.save_as(xlsx_path)
    assert xlsx_path.suffix == ".xlsx"
    assert xlsx_path.read_bytes()[:2] == b"PK"  # a zip: an Office Open XML workbook
