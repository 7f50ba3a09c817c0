"""The analysts' pages in a real browser: each loads, follows a control, restores its view from
the URL, and gives a file to download (a table as CSV/XLSX/notes, a figure as PNG/SVG).

Every test also fails on a request leaving 127.0.0.1 or a browser console error (conftest).
The pages need a built workspace (the store): with the fake one they are skipped.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from openpyxl import load_workbook

pytestmark = pytest.mark.browser

SLOW = 180_000  # ms: the first comparison over every year computes ten England-wide counts


@pytest.fixture(autouse=True)
def _real_workspace_only(workspace: Any) -> None:
    if getattr(workspace, "store", None) is None:
        pytest.skip("the analysts' pages need a built workspace (the fake one has no store)")


def _choose(page: Any, dropdown_id: str, option: str) -> None:
    """Pick ``option`` in a Dash dropdown the way a person does: open it, click the option."""
    page.click(f"#{dropdown_id}")
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def _shown(page: Any, dropdown_id: str) -> str:
    return str(page.inner_text(f"#{dropdown_id}-value")).strip()


def _text(page: Any, selector: str) -> str:
    """All the text in an element, SVG included (innerText skips what is not laid out)."""
    return str(page.eval_on_selector(selector, "e => e.textContent"))


def _query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def _wait_text(page: Any, selector: str, text: str, timeout: int = 60_000) -> None:
    page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.textContent || '').includes(t)",
        arg=[selector, text],
        timeout=timeout,
    )


def _download(page: Any, selector: str) -> tuple[str, Path]:
    with page.expect_download(timeout=60_000) as info:
        page.click(selector)
    download = info.value
    return str(download.suggested_filename), Path(download.path())


def _figure_download(page: Any, graph_id: str, fmt: str) -> tuple[str, bytes]:
    button = json.dumps(
        {"format": fmt, "graph": graph_id, "type": "figure-download"}, separators=(",", ":")
    )
    name, path = _download(page, f"[id='{button}']")
    return name, path.read_bytes()


def test_map_follows_level_and_measure_and_sends_boundaries_once(
    watched: Any, base_url: str
) -> None:
    page = watched.page
    geometry: list[int] = []
    sizes: list[int] = []

    def on_response(response: Any) -> None:
        if "/_boundaries/" in response.url:  # the cacheable GeoJSON file plotly fetches
            geometry.append(len(response.body()))
        elif "_dash-update-component" in response.url:
            body = response.body()
            sizes.append(len(body))
            assert b"FeatureCollection" not in body, "boundaries come by URL, not in callbacks"

    page.on("response", on_response)
    page.goto(f"{base_url}/map?place=Kent&year=2010-11&level=upper_tier&area=england")
    page.wait_for_selector("#map-graph .maplibregl-canvas", timeout=SLOW)
    _wait_text(page, "#map-graph .gtitle", "upper-tier areas, England · Kent outlined", SLOW)
    assert _shown(page, "map-level") == "Upper tier (counties, unitaries)"
    assert _shown(page, "map-area") == "All England"

    _choose(page, "map-level", "Districts")
    _wait_text(page, "#map-graph .gtitle", "districts, England")
    page.wait_for_function("() => location.search.includes('level=district')")
    _choose(page, "map-measure", "Total spend")
    _wait_text(page, "#map-graph .gtitle", "Total spend, 2010-11")
    assert _query(page)["measure"] == ["total"]
    page.wait_for_timeout(500)
    assert len(geometry) == 2, "each level's boundaries are sent once"
    assert max(sizes) < 150_000, sizes

    name, path = _download(page, "#map-table-csv")
    assert name.endswith(".csv") and "map-kent-2010-11" in name
    header = path.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("area_code,area_name,region_code,population,amount_pence")
    name, png = _figure_download(page, "map-graph", "png")
    assert name.endswith(".png") and png.startswith(b"\x89PNG")


def test_flows_mark_what_outturn_replaced(watched: Any, base_url: str) -> None:
    page = watched.page
    page.goto(f"{base_url}/flows?place=Kent&year=2010-11")
    page.wait_for_selector("#flows-graph .sankey-node", timeout=SLOW)
    _wait_text(page, "#flows-note", "replaced")
    labels = _text(page, "#flows-graph .sankey")
    assert "Replaced by councils' outturn" in labels and "Not counted (replaced)" in labels
    assert "Kent (council)" in labels

    _choose(page, "flows-year", "2008-09")
    _wait_text(page, "#flows-note", "No councils' outturn is loaded for 2008-09", SLOW)
    assert _query(page) == {"place": ["Kent"], "year": ["2008-09"], "top": ["10"]}

    name, path = _download(page, "#flows-table-xlsx")
    assert name == "totalplace-flows-kent-2008-09.xlsx"
    book = load_workbook(io.BytesIO(path.read_bytes()))
    assert book.sheetnames == ["data", "notes"]
    assert "Funder" in str(book["notes"]["A2"].value)


def test_compare_shows_peers_and_restores_from_the_url(watched: Any, base_url: str) -> None:
    page = watched.page
    page.goto(f"{base_url}/compare?place=Kent&year=2010-11&peers=E06000035")
    page.wait_for_selector("#compare-ranked .bars .point", timeout=SLOW)
    ranked = _text(page, "#compare-ranked")
    assert "Medway" in ranked and "England" in ranked and "Lewisham" in ranked
    assert "Medway" in page.inner_text("#compare-peers")
    _wait_text(page, "#compare-note", "Per head divides by the population the count uses")
    page.wait_for_selector("#compare-lines .scatterlayer .trace")

    _choose(page, "compare-measure", "Total spend")
    _wait_text(page, "#compare-ranked .gtitle", "Total spend, 2010-11")
    assert "bn" in _text(page, "#compare-ranked")
    assert _query(page)["measure"] == ["total"] and _query(page)["peers"] == ["E06000035"]

    name, path = _download(page, "#compare-table-csv")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "year,name,role,population,population_year,amount_gbp,per_head_gbp"
    assert any(",Medway,peer," in line for line in lines)
    name, svg = _figure_download(page, "compare-ranked", "svg")
    assert name.endswith(".svg") and b"<svg" in svg[:400]


def test_agency_profile_follows_the_agency_type(watched: Any, base_url: str) -> None:
    page = watched.page
    page.goto(f"{base_url}/agency?type=NHS+and+health&year=2010-11&place=Kent")
    page.wait_for_selector("#agency-ranked .bars .point", timeout=SLOW)
    _wait_text(page, "#agency-ranked .gtitle", "NHS and health, 2010-11")
    assert _shown(page, "agency-place") == "Kent"

    _choose(page, "agency-type", "Police")
    _wait_text(page, "#agency-ranked .gtitle", "Police, 2010-11", SLOW)
    page.wait_for_function("() => location.search.includes('type=Police')")
    name, path = _download(page, "#agency-table-notes")
    assert name == "totalplace-agency-police.notes.txt"
    assert "Police in the 13 Total Place pilots" in path.read_text(encoding="utf-8")


def test_explore_pages_filters_and_downloads_the_lines(watched: Any, base_url: str) -> None:
    page = watched.page
    page.goto(f"{base_url}/explore?place=Birmingham&year=2010-11&basis=actual")
    page.wait_for_selector("#explore-grid .ag-row", timeout=SLOW)
    _wait_text(page, "#explore-note", "lines in the count of Birmingham", SLOW)
    actual = page.inner_text("#explore-note")
    bases = page.locator(
        "#explore-grid .ag-center-cols-container [col-id='basis']"
    ).all_inner_texts()
    assert bases and set(bases) == {"actual"}
    assert _shown(page, "explore-basis") == "Actual (own outturn)"

    _choose(page, "explore-basis", "Any basis")
    page.wait_for_function(
        "old => (document.querySelector('#explore-note')?.textContent || '') !== old", arg=actual
    )
    assert "basis" not in _query(page)
    page.click("#explore-grid .ag-header-cell[col-id='amount_gbp']")  # desc -> asc
    page.wait_for_function("() => location.search.includes('sort=amount_gbp%3Aasc')")

    every = page.inner_text("#explore-note")
    page.fill("#explore-text", "education")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "old => (document.querySelector('#explore-note')?.textContent || '') !== old", arg=every
    )
    page.wait_for_function("() => location.search.includes('q=education')")
    matched = int(page.inner_text("#explore-note").split(" of ")[0].replace(",", ""))
    name, path = _download(page, "#explore-table-csv")
    assert name == "totalplace-lines-birmingham-2010-11.csv"
    rows = path.read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) - 1 == matched
    assert rows[0].startswith("area_name,agency,agency_type,function,subfunction,service_line")


def test_sources_show_what_is_loaded_and_follow_the_source(watched: Any, base_url: str) -> None:
    page = watched.page
    page.goto(f"{base_url}/sources?colour=rows")
    page.wait_for_selector("#sources-coverage .hm, #sources-coverage .heatmaplayer", timeout=SLOW)
    assert _shown(page, "sources-colour") == "Ledger rows"
    assert "HM Treasury" in page.inner_text("#sources-loaded")
    assert "Not identifiable" in page.inner_text("#sources-qcounts")
    assert "plans" in page.inner_text("#sources-caveats")

    _choose(page, "sources-source", "cra_2014")
    _wait_text(page, "#sources-coverage .gtitle", "Ledger coverage: cra_2014")
    page.wait_for_function("() => location.search.includes('source=cra_2014')")
    name, path = _download(page, "#sources-loaded-csv")
    assert name == "totalplace-sources.csv"
    assert "Open Government Licence" in path.read_text(encoding="utf-8-sig")


def test_overview_downloads_the_count(watched: Any, base_url: str) -> None:
    page = watched.page
    page.goto(f"{base_url}/?place=Croydon&year=2010-11")
    _wait_text(page, "#kpi-total .kpi-value", "£", SLOW)
    name, path = _download(page, "#overview-table-xlsx")
    assert name == "totalplace-count-croydon-2010-11.xlsx"
    book = load_workbook(io.BytesIO(path.read_bytes()))
    header = [c.value for c in book["data"][1]]
    assert {"basis", "driver", "confidence", "source_id", "amount_gbp"} <= set(header)
    assert any("Release" in str(c.value) for c in book["notes"]["A"])
