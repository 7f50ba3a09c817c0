"""A page's answer for a place and year is built once per workspace and shared (`data.view`):
the same object for a repeat, built again for another key or another workspace, and, for the
overview, the same cards, figures and rows as building it afresh."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import dash
import pytest

from dashboards import data


class _Workspace:
    """Stands for a workspace: `data.view` keys on its identity."""


@pytest.fixture()
def builds() -> Iterator[list[tuple[Any, ...]]]:
    data.set_workspace(_Workspace())  # type: ignore[arg-type]
    yield []
    data.set_workspace(None)


def test_a_view_is_built_once_per_key_and_again_for_another_workspace(
    builds: list[tuple[Any, ...]],
) -> None:
    def build(*key: Any) -> dict[str, Any]:
        builds.append(key)
        return {"key": key}

    first = data.view(build, "Kent", "2010-11", None)
    assert data.view(build, "Kent", "2010-11", None) is first
    assert data.view(build, "Kent", "2010-11", "real") is not first
    assert builds == [("Kent", "2010-11", None), ("Kent", "2010-11", "real")]
    data.set_workspace(_Workspace())  # type: ignore[arg-type]
    assert data.view(build, "Kent", "2010-11", None) == first
    assert len(builds) == 3  # another workspace: built again


@pytest.mark.mirror
def test_the_overview_answer_is_shared_and_equal_to_one_built_afresh(workspace: Any) -> None:
    from dashboards.app import create_app

    create_app(workspace)  # registers the pages (and uses this workspace)
    # the module Dash registered (importing it again under another name would register the
    # page twice, which Dash refuses on the next request)
    registered = next(p["module"] for p in dash.page_registry.values() if p["path"] == "/")
    overview = sys.modules[registered]
    try:
        answer = overview.update_count("Kent", "2010-11", None)
        assert overview.update_count("Kent", "2010-11", None) is answer  # a repeat: a look-up
        fresh = overview.count_view("Kent", "2010-11", None)
        assert fresh is not answer
        assert json.dumps(fresh, default=_plain) == json.dumps(answer, default=_plain)
        result = data.count_in("Kent", "2010-11", None)
        agency = overview.agency_bar(result.by("agency_type"), "Spend by agency type")
        assert answer[2] == agency.to_plotly_json()
        assert answer[2]["layout"]["meta"]["total_gbp"] == pytest.approx(result.total_gbp)
        assert overview.update_map("Kent", "2010-11", None) is overview.update_map(
            "Kent", "2010-11", None
        )
        map_page = sys.modules[
            next(p["module"] for p in dash.page_registry.values() if p["path"] == "/map")
        ]
        choice = ("Kent", "2010-11", "per_head", None, None, "district", "region", None)
        shown = map_page.update_map(*choice)
        assert map_page.update_map(*choice) is shown
        assert json.dumps(map_page.map_view(*choice), default=_plain) == json.dumps(
            shown, default=_plain
        )
        assert shown[1] and shown[0]["data"]  # the table's rows and the map's figures
    finally:
        data.set_workspace(None)


def _plain(value: Any) -> Any:
    return value.to_plotly_json() if hasattr(value, "to_plotly_json") else str(value)


def _page(path: str) -> Any:
    """The module Dash registered for the page at ``path``."""
    return sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == path)]


@pytest.mark.mirror
def test_compare_and_flows_answers_are_shared_and_equal_to_ones_built_afresh(
    workspace: Any,
) -> None:
    from dashboards.app import create_app

    create_app(workspace)
    compare, flows = _page("/compare"), _page("/flows")
    try:
        choice = ("Kent", "2010-11", "per_head", None, ["E07000110", "E07000111"], None)
        shown = compare.update_compare(*choice)
        assert compare.update_compare(*choice) is shown  # the peers' list is part of the key
        fresh = compare.compare_view(*choice[:4], tuple(choice[4]), None)
        assert json.dumps(fresh, default=_plain) == json.dumps(shown, default=_plain)
        lines, ranked, rows, note = shown
        names = {r["name"] for r in rows}
        assert {"Kent", "England", "Peer group"} <= names and note
        assert lines["data"] and ranked["data"]
        other = compare.update_compare(*choice[:4], ["E07000110"], None)
        assert other is not shown and "Peer group" not in {r["name"] for r in other[2]}

        sankey = flows.update_flows("Kent", "2010-11", "8", None)
        assert flows.update_flows("Kent", "2010-11", "8", None) is sankey
        again = flows.flows_view("Kent", "2010-11", "8", None)
        assert json.dumps(again, default=_plain) == json.dumps(sankey, default=_plain)
        figure, table, _ = sankey
        assert figure["data"][0]["type"] == "sankey" and table
        assert flows.update_flows("Kent", "2010-11", "8", "real") is not sankey
    finally:
        data.set_workspace(None)
