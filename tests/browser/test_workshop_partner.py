"""A partner's journey in a real browser (issue #17): the link opens in one round trip, the
facilitator's "People and links" form is not there, another partner's scenario cannot be changed
(the server refuses, the page offers a copy), long challenge text is clipped with a way to read it
in full, the challenge grid keeps its rows (newest first) through live updates, and savings can
be marked non-cashable, which the totals and the savings chart follow.

Workshop state lives in a SQLite file in tmp; the service judges amounts against the count, as
the served app does. Every page fails the test on a request leaving 127.0.0.1 or a console error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_workshop import _add_move, _done, _pick, person  # noqa: F401

pytestmark = pytest.mark.browser

NHS = re.compile(r"^NHS and health × 7\. Health")
DWP = re.compile(r"^Benefits and employment \(DWP\) × 10\. Social protection")
COUNCIL_SP = re.compile(r"^Councils × 10\. Social protection")
LONG = ("The pooled budget is counted twice, see the section 75 agreement. " * 160)[:10_000]
READY = """() => document.querySelectorAll('#ws-ch-grid .ag-row').length > 0
    && (document.querySelector('#ws-sc-status')?.textContent || '').includes('version')
    && document.querySelectorAll('[data-dash-is-loading="true"]').length === 0"""


@pytest.fixture()
def workshop_db(tmp_path: Path, base_url: str) -> Iterator[str]:
    """The app's workshop service on a fresh SQLite file, judging amounts against the count."""
    from dashboards import data_workshop
    from totalplace.workshop.service import WorkshopService

    url = f"sqlite:///{tmp_path / 'workshop.db'}"
    service = WorkshopService.from_url(url, migrate=True, figures=data_workshop.baseline)
    data_workshop.set_workshop_service(service)
    try:
        yield url
    finally:
        data_workshop.set_workshop_service(None)
        service.close()


@pytest.fixture()
def room(workshop_db: str) -> dict[str, Any]:
    """Fay (facilitator), Pat and Quinn (partners); Quinn has a scenario and two long challenges."""
    from dashboards import data, data_workshop
    from totalplace.workshop.scenarios import CellRef, Move
    from totalplace.workshop.service import FigureCell

    svc = data_workshop.get_workshop_service()
    place, year = "Birmingham", "2010-11"
    fay = svc.create_workshop(place, list(data.count(place, year).place_codes), year, None, "Fay")
    pat = svc.issue_token(fay.token, "partner", "Pat").token
    quinn = svc.issue_token(fay.token, "partner", "Quinn").token
    nhs = CellRef("NHS and health", "7. Health")
    dwp = CellRef("Benefits and employment (DWP)", "10. Social protection")
    svc.create_scenario(quinn, "Quinn's plan", [Move(nhs, dwp, amount_pence=5_000_000_00)])
    cell = FigureCell(place, year, nhs.agency_type, nhs.function)
    for _ in range(2):
        svc.create_challenge(quinn, cell, LONG)
    return {"svc": svc, "pat": pat, "quinn": quinn, "cell": cell}


def _grid_ids(page: Any) -> list[int]:
    cells = page.locator("#ws-ch-grid .ag-center-cols-container .ag-row [col-id='id']")
    rows = page.locator("#ws-ch-grid .ag-center-cols-container .ag-row")
    order = sorted(
        (int(rows.nth(i).get_attribute("row-index") or 0), int(cells.nth(i).inner_text()))
        for i in range(rows.count())
    )
    return [ident for _, ident in order]


def test_a_partners_journey(person: Any, room: dict[str, Any], base_url: str) -> None:  # noqa: F811
    pat = person()
    callbacks: list[str] = []
    pat.on(
        "request",
        lambda r: (
            callbacks.append(str(json.loads(r.post_data or "{}").get("output")))
            if "_dash-update-component" in r.url
            else None
        ),
    )

    # the link opens filled in: one callback (the page itself), not a chain of them
    pat.goto(f"{base_url}/workshop?token={room['pat']}")
    pat.wait_for_function(READY)
    assert len(callbacks) == 1 and "_pages_content" in callbacks[0], callbacks
    assert "(partner)" in pat.inner_text("#ws-role")

    # no "People and links" for a partner
    assert pat.locator("#ws-inv-name").count() == 0
    assert "People and links" not in pat.inner_text("body")

    # long challenge text is clipped (the page stays short) and can be read in full
    texts = pat.locator("#ws-ch-grid .ag-center-cols-container [col-id='text']")
    assert texts.count() == 2
    assert all(len(texts.nth(i).inner_text()) < 300 for i in range(2))
    assert "…" in texts.first.inner_text()
    assert pat.evaluate("document.documentElement.scrollHeight") < 9_000
    pat.locator("#ws-ch-grid .ag-row").first.click()
    pat.wait_for_selector("#ws-ch-full details.ws-clipped")
    assert not pat.locator("#ws-ch-full .ws-full-text").is_visible()
    pat.click("#ws-ch-full summary")
    full = pat.locator("#ws-ch-full .ws-full-text")
    assert full.is_visible() and len(full.inner_text()) >= 9_900

    # the grid keeps its rows, newest first, through live updates
    assert _grid_ids(pat) == [2, 1]
    room["svc"].create_challenge(room["quinn"], room["cell"], "A third look at the share")
    pat.click("#ws-refresh")
    pat.wait_for_function("() => document.querySelectorAll('#ws-ch-grid .ag-row').length === 3")
    assert _grid_ids(pat) == [3, 2, 1]
    pat.click("#ws-refresh")  # nothing changed: the rows stay
    pat.wait_for_timeout(1_000)
    assert _grid_ids(pat) == [3, 2, 1]
    assert "No Rows To Show" not in pat.inner_text("#ws-ch-grid")

    # Quinn's scenario: Pat is told it is Quinn's, the server refuses a change, Pat copies it
    owner = pat.inner_text("#ws-sc-owner")
    assert "Quinn's: only they or a facilitator can change it" in owner
    _add_move(pat, DWP, NHS, "£1m")
    pat.wait_for_selector("#ws-sc-msg .ws-refused")
    refusal = pat.inner_text("#ws-sc-msg")
    assert "Refused by the server" in refusal and "it belongs to Quinn" in refusal
    pat.click("#ws-sc-copy")
    _done(pat, "ws-sc-copied", "it is yours to change")
    pat.wait_for_function(
        "() => (document.querySelector('#ws-sc-owner')?.textContent || '').includes('yours')"
    )
    assert "Quinn's plan (Pat)" in pat.inner_text("#ws-sc-status")

    # an invest-to-save change marked non-cashable: the totals and the chart follow
    pat.get_by_text("invest to save").click()
    pat.wait_for_selector("#ws-sc-invest", state="visible")
    pat.locator("#ws-sc-cashable input").uncheck()
    _add_move(pat, COUNCIL_SP, NHS, "£1m")
    _done(pat, "ws-sc-msg", "is now version 2")
    pat.wait_for_function(
        "() => (document.querySelector('#ws-sc-totals')?.textContent || '').includes('£0 cashable')"
    )
    totals = pat.inner_text("#ws-sc-totals")
    assert re.search(r"£[\d.,]+m? non-cashable", totals) and "£0 non-cashable" not in totals
    assert "non-cashable" in (pat.locator("#ws-sc-savings .gtitle").text_content() or "")
    # ticked again in the list of saved changes: cashable now
    box = pat.locator("#ws-sc-cash-edit input")
    assert box.count() == 1 and not box.is_checked()
    box.check()
    pat.click("#ws-sc-cash-save")
    _done(pat, "ws-sc-msg", "is now version 3")
    pat.wait_for_function(
        "() => (document.querySelector('#ws-sc-totals')?.textContent || '')"
        ".includes('£0 non-cashable')"
    )
    audit = room["svc"].audit(room["pat"], target="scenario:2")[-1]
    assert any("saving non-cashable→cashable" in line for line in audit.payload["summary"])
