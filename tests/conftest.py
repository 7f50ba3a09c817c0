"""Shared fixtures: the data mirror (skip with a reason where absent) and temporary workspaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from totalplace.config import default_mirror

# Property tests check behaviour, not speed: no per-example deadline (a loaded CI machine would
# make timing flaky; speed is measured in benchmarks/).
settings.register_profile("totalplace", deadline=None)
settings.load_profile("totalplace")

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


@pytest.fixture(scope="session")
def built_settings(mirror: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Settings of a workspace built once per test session from the real mirror."""
    from totalplace.build import build_workspace
    from totalplace.config import Settings

    settings = Settings(workspace=tmp_path_factory.mktemp("ws"), mirror=mirror)
    reports = build_workspace(settings)
    bad = [r for r in reports if r.status == "error"]
    assert not bad, bad
    return settings


@pytest.fixture(scope="session")
def workspace(built_settings):  # type: ignore[no-untyped-def]
    """A read-only Workspace over the session's built store."""
    from totalplace.workspace import Workspace

    ws = Workspace(built_settings)
    yield ws
    ws.store.close()
