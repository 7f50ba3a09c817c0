"""Shared fixtures: the data mirror (skip with a reason where absent) and temporary workspaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from totalplace.config import default_mirror

FIXTURES = Path(__file__).parent / "fixtures"


def _mirror() -> Path | None:
    m = default_mirror()
    return m if m is not None and m.is_dir() else None


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The real public data mirror; tests that need it are skipped (with the reason) without it.

    In CI (``CI=true``) the mirror must be present: a missing mirror fails instead of skipping.
    """
    m = _mirror()
    if m is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have the data mirror (../shared/data or TOTALPLACE_MIRROR)")
        pytest.skip("data mirror not found: set TOTALPLACE_MIRROR or place ../shared/data")
    return m


@pytest.fixture()
def fixtures() -> Path:
    return FIXTURES
