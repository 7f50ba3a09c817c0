"""Checking a file in the browser: a real upload, reported row by row; a hostile file refused
in words naming it; the page stays on 127.0.0.1 with no console errors (see conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

FIX = Path(__file__).parent.parent / "fixtures"


def test_an_uploaded_file_is_checked_and_a_hostile_one_refused(watched, base_url: str) -> None:  # type: ignore[no-untyped-def]
    page = watched.page
    page.goto(f"{base_url}/upload")
    page.locator("#upload-file input[type=file]").set_input_files(str(FIX / "too-few-fields.csv"))
    page.wait_for_selector("text=read as 'spend'")
    text = page.inner_text("#upload-result")
    assert "would be counted" in text and "Set aside, with reasons" in text
    page.locator("#upload-file input[type=file]").set_input_files(str(FIX / "binary-garbage.csv"))
    page.wait_for_selector("text=Not usable")
    assert "binary-garbage.csv" in page.inner_text("#upload-result")
