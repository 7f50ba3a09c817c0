"""The workshop page's own pieces, without a browser: long text clipped with the whole of it kept,
the People-and-links form only for facilitators (and its callback refused by the server for
anyone else), challenge rows newest first, and the audit detail saying what an update changed."""

from __future__ import annotations

from typing import Any

import pytest
from dash import html

from dashboards.pages import workshop_challenges, workshop_pack
from dashboards.pages.workshop_common import CLIP, clip, long_text

from .conftest import Room


def test_long_text_is_clipped_and_kept_whole_behind_read_in_full() -> None:
    text = "word " * 2_000
    short = clip(text)
    assert len(short) <= CLIP + 2 and short.endswith(" …")
    shown = long_text(text)
    assert isinstance(shown, html.Details)
    summary, body = shown.children
    assert isinstance(summary, html.Summary) and "read in full (10,000 characters)" in str(summary)
    assert body.children == text  # nothing lost
    assert isinstance(long_text("short"), html.Span) and clip("short") == "short"


def _texts(component: Any) -> str:
    return str(component.to_plotly_json())


def test_people_and_links_is_for_facilitators_only(room: Room, monkeypatch) -> None:
    from dashboards import data_workshop

    monkeypatch.setattr(data_workshop, "_service", room.svc)
    refused, links, _rev = workshop_pack.issue(1, "Eve", "partner", [], room.partner, 0)
    assert "Refused by the server" in _texts(refused) and "may not issue" in _texts(refused)
    assert links is not None and not isinstance(links, list)  # no link was made (no_update)
    assert [t.role.value for t in room.svc.list_tokens(room.facilitator)].count("partner") == 1


def test_challenge_rows_are_newest_first_and_clipped(room: Room) -> None:
    for text in ("first", "x" * 10_000, "third"):
        room.svc.create_challenge(room.partner, room.cell(), text)
    rows = workshop_challenges.rows(room.svc.list_challenges(room.partner))
    assert [r["id"] for r in rows] == [3, 2, 1]
    assert len(rows[1]["text"]) <= CLIP + 2


def test_the_audit_says_what_an_update_changed(room: Room, monkeypatch) -> None:
    from dashboards import data_workshop
    from totalplace.workshop.scenarios import CellRef, Move

    monkeypatch.setattr(data_workshop, "_service", room.svc)
    move = Move(
        CellRef("NHS and health", "7. Health"), CellRef("Councils", "7. Health"), 2_000_000_00
    )
    sid = room.svc.create_scenario(room.partner, "Plan").id
    room.svc.update_scenario(room.partner, sid, 1, [move])
    top = workshop_pack.audit_rows(room.observer)[0]
    assert top["action"] == "scenario.update"
    assert (
        top["why"]
        == "added change 1: move £2.0m from NHS and health × 7. Health to Councils × 7. Health"
    )


@pytest.mark.parametrize("role", ["partner", "observer"])
def test_the_layout_has_no_links_form_for_others(room: Room, role: str, monkeypatch) -> None:
    import sys

    import dash

    from dashboards.app import create_app

    create_app()  # pages register only once an app exists
    # the module Dash registered: importing it under another name would register the page
    # twice, which Dash refuses on the next request (other tests' servers in this session)
    registered = next(p["module"] for p in dash.page_registry.values() if p["path"] == "/workshop")
    workshop = sys.modules[registered]

    class _Count:
        total_gbp, per_head_gbp, place_codes = 1.0, 1.0, ("E08000025",)

    monkeypatch.setattr("dashboards.data_workshop._service", room.svc)
    monkeypatch.setattr("dashboards.data.count", lambda place, year: _Count())
    monkeypatch.setattr("dashboards.data_workshop.baseline", lambda place, year: room.baseline)
    page = _texts(workshop.layout(token=room.token(role)))
    assert "ws-inv-name" not in page and "People and links" not in page
    assert "ws-inv-name" in _texts(workshop.layout(token=room.facilitator))
