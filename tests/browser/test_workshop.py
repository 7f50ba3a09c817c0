"""A whole workshop in a real browser: a facilitator starts it and sends links; two partners, each
in their own browser context, challenge a cell and build a scenario (one saving over the other is
told and merges); the facilitator accepts the challenge, freezes a snapshot and exports the pack;
a partner trying a facilitator action is refused by the server, in words.

Workshop state lives in a SQLite file in tmp (``set_workshop_service``). Every page fails the
test on a request leaving 127.0.0.1 or a browser console error, as in conftest.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.browser.conftest import Watched

pytestmark = pytest.mark.browser

NHS = re.compile(r"^NHS and health × 7\. Health")
DWP = re.compile(r"^Benefits and employment \(DWP\) × 10\. Social protection")


@pytest.fixture()
def workshop_db(tmp_path: Path, base_url: str) -> Iterator[str]:
    """The app's workshop service on a fresh SQLite file (migrated), for this test only."""
    from dashboards import data_workshop
    from totalplace.workshop.service import WorkshopService

    url = f"sqlite:///{tmp_path / 'workshop.db'}"
    service = WorkshopService.from_url(url, migrate=True)
    data_workshop.set_workshop_service(service)
    try:
        yield url
    finally:
        data_workshop.set_workshop_service(None)
        service.close()


@pytest.fixture()
def person(browser_context: Any, workshop_db: str) -> Iterator[Any]:
    """Opens a page in a browser context of its own (one per partner), watched like conftest's."""
    opened: list[tuple[Any, Watched]] = []

    def open_page() -> Any:
        context = browser_context.browser.new_context(
            viewport={"width": 1360, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        w = Watched(page)

        def on_request(request: Any) -> None:
            if _off_host(request.url):
                w.external_requests.append(request.url)

        def on_console(message: Any) -> None:
            if message.type == "error":
                w.console_errors.append(message.text)

        page.on("request", on_request)
        page.on("console", on_console)
        page.on("pageerror", lambda exc: w.console_errors.append(f"page error: {exc}"))
        page.set_default_timeout(30_000)
        opened.append((context, w))
        return page

    yield open_page
    for context, _w in opened:
        context.close()
    for _, w in opened:
        w.assert_clean()


def _off_host(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme not in ("data", "blob", "about") and parsed.hostname != "127.0.0.1"


def _pick(page: Any, dropdown_id: str, option: re.Pattern[str] | str) -> None:
    page.click(f"#{dropdown_id}")
    page.get_by_role("option", name=option).first.click()
    page.keyboard.press("Escape")


def _select_row(page: Any, grid_id: str, text: str) -> None:
    page.wait_for_selector(f"#{grid_id} .ag-row")
    page.locator(f"#{grid_id} .ag-row").filter(has_text=text).first.click()


def _done(page: Any, box_id: str, words: str) -> str:
    """Wait until the box confirms something saying ``words``; its whole text."""
    page.wait_for_function(
        "([s, w]) => (document.querySelector(s)?.textContent || '').includes(w)",
        arg=[f"#{box_id} .ws-done", words],
    )
    return str(page.inner_text(f"#{box_id}"))


def _add_move(page: Any, source: re.Pattern[str], target: re.Pattern[str], amount: str) -> None:
    _pick(page, "ws-sc-from", source)
    _pick(page, "ws-sc-to", target)
    page.fill("#ws-sc-amount", amount)
    page.click("#ws-sc-add")


def test_a_workshop_from_start_to_pack(
    watched: Any, person: Any, base_url: str, tmp_path: Path
) -> None:
    # the facilitator starts the workshop and gets a link with their token
    fac = watched.page
    fac.goto(f"{base_url}/workshop")
    fac.fill("#ws-start-name", "Fay")
    fac.click("#ws-start-create")
    fac.wait_for_url(re.compile(r"/workshop\?token=[\w-]{20,}"))
    assert "Fay" in fac.inner_text("#ws-whoami")
    for name in ("Pat", "Quinn"):
        fac.fill("#ws-inv-name", name)
        fac.click("#ws-inv-issue")
        fac.wait_for_selector(f".ws-link-box:has-text('{name}')")
    pat_link = fac.get_attribute("#ws-link-0", "href")
    quinn_link = fac.get_attribute("#ws-link-1", "href")
    assert pat_link and quinn_link and pat_link != quinn_link

    # partner Pat challenges a cell, proposing an amount
    pat = person()
    pat.goto(pat_link)
    assert "(partner)" in pat.inner_text("#ws-role")
    _select_row(pat, "ws-count-grid", "NHS and health")
    pat.wait_for_selector("#ws-cell-label")
    pat.fill("#ws-ch-text", "Includes the pooled budget already counted by the council")
    pat.fill("#ws-ch-amount", "£1.5m")
    pat.click("#ws-ch-submit")
    _done(pat, "ws-ch-msg", "Challenge #1 raised")
    pat.wait_for_selector("#ws-history-list")

    # a partner may not freeze: the server refuses and the page says so
    pat.click("#ws-snap-freeze")
    pat.wait_for_selector("#ws-snap-msg .ws-refused")
    refusal = pat.inner_text("#ws-snap-msg")
    assert "Refused by the server" in refusal and "may not freeze snapshots" in refusal

    # the facilitator accepts it, with a reason
    fac.click("#ws-refresh")
    _select_row(fac, "ws-ch-grid", "pooled budget")
    fac.fill("#ws-ch-reason", "Agreed: the council's return shows it")
    fac.click("#ws-ch-accept")
    _done(fac, "ws-ch-decided", "Challenge #1 accepted")

    # partner Quinn builds a scenario; the comparison shows the difference
    quinn = person()
    quinn.goto(quinn_link)
    quinn.fill("#ws-sc-name", "Prevention")
    quinn.click("#ws-sc-create")
    _done(quinn, "ws-sc-msg", "created")
    _add_move(quinn, NHS, DWP, "£10m")
    _done(quinn, "ws-sc-msg", "is now version 2")
    quinn.wait_for_selector("#ws-sc-compare .ag-row")
    assert quinn.locator("#ws-sc-compare .ag-row").count() == 2
    assert "-£10,000,000" in quinn.inner_text("#ws-sc-compare")
    assert "2 of" in quinn.inner_text("#ws-sc-totals")
    quinn.wait_for_selector("#ws-sc-wf .waterfalllayer .point")

    # the facilitator (who may edit anyone's scenario) edits Quinn's from an older version:
    # told, then merges (a partner may not edit it at all: tests/browser/test_workshop_partner.py)
    fac.click("#ws-refresh")
    _pick(fac, "ws-sc-pick", re.compile(r"^Prevention"))
    fac.wait_for_function(
        "() => (document.querySelector('#ws-sc-status')?.textContent || '').includes('Prevention')"
    )
    _add_move(quinn, NHS, DWP, "£1m")
    _done(quinn, "ws-sc-msg", "is now version 3")
    _add_move(fac, DWP, NHS, "£2m")
    fac.wait_for_selector("#ws-sc-stale", state="visible")
    assert "Someone saved first: Quinn saved version 3" in fac.inner_text("#ws-sc-stale")
    fac.click("#ws-sc-merge")
    _done(fac, "ws-sc-msg", "is now version 4")
    fac.wait_for_function("() => document.querySelectorAll('#ws-sc-log li').length === 3")

    # the facilitator freezes a snapshot and exports the pack (three files)
    fac.fill("#ws-snap-label", "End of the session")
    fac.click("#ws-snap-freeze")
    fac.wait_for_selector("#ws-snap-hash")
    assert re.fullmatch(r"[0-9a-f]{64}", fac.inner_text("#ws-snap-hash").strip())
    downloads: list[Any] = []
    fac.on("download", lambda d: downloads.append(d))
    fac.wait_for_function(
        "() => (document.querySelector('#ws-snap-pick')?.textContent || '').includes('End of')"
    )
    fac.click("#ws-snap-export")
    _done(fac, "ws-export-msg", "Pack exported")
    for _ in range(100):  # the three downloads start from the one click
        if len(downloads) == 3:
            break
        fac.wait_for_timeout(100)
    names = sorted(d.suggested_filename for d in downloads)
    assert [Path(n).suffix for n in names] == [".zip", ".html", ".xlsx"], names
    for d in downloads:
        d.save_as(tmp_path / d.suggested_filename)
    assert (tmp_path / names[2]).read_bytes()[:2] == b"PK"
    assert "Prevention" in (tmp_path / names[1]).read_text(encoding="utf-8")
    with zipfile.ZipFile(tmp_path / names[0]) as zf:
        assert "01_summary.csv" in zf.namelist()

    # the audit trail lists what happened, the refusal included
    fac.wait_for_selector("#ws-audit .ag-row")
    audit = fac.inner_text("#ws-audit")
    for action in ("workshop.create", "challenge.accept", "scenario.update", "denied"):
        assert action in audit, action
