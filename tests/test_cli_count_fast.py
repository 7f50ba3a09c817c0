"""`totalplace count` on screen from the figures `totalplace build` kept: the same screen as a
count computed now, never from a store that has changed since, only for the default options,
and without loading pandas, numpy or the count engine."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import totalplace.count.engine as engine
from totalplace.cli import app
from totalplace.config import Settings
from totalplace.count.engine import count_place
from totalplace.count.result import row_ids
from totalplace.count.screen import screen_summary
from totalplace.geography.places import exact_pilot
from totalplace.ledger.store import Store
from totalplace.results import ResultCache

pytestmark = pytest.mark.mirror

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures"
#: A two-tier county, a metropolitan district, and unitaries with a county; years without
#: councils' outturn in the store (2008-09) and with it (2010-11, 2012-13).
PILOTS = ("Kent", "Bradford", "Dorset, Poole and Bournemouth")
YEARS = ("2008-09", "2010-11", "2012-13")
KEPT = "read from the kept screen"  # a caveat only the doctored kept screens carry


def _count(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(app, ["count", *args, "-w", str(settings.workspace)])


def _total(screen: str) -> int:
    """The screen's total in whole pounds ('Total £11,356,185,578 · ...')."""
    return int(screen.split("Total £", 1)[1].split(" ", 1)[0].replace(",", ""))


def _keep(settings: Settings, pilot: str, year: str, doctored: bool = False) -> None:
    """Keep the pilot's default count as `totalplace build` does (doctored: with a caveat
    that only the kept screen has, to tell which path printed)."""
    with Store(settings.store_path, read_only=True) as store:
        place = exact_pilot(pilot)
        assert place is not None
        result = count_place(store, place, year)
        if doctored:
            result = dataclasses.replace(result, caveats=[*result.caveats, KEPT])
        ResultCache.for_store(settings.workspace, store).put_count(place, year, result)


@pytest.fixture()
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Computing a count fails the test: what is printed must come from the kept screen."""

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("the count was computed")

    monkeypatch.setattr(engine, "count_place", refuse)


@pytest.fixture(scope="module")
def fresh(built_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A workspace over the session's built store (linked, not copied) with no results yet."""
    root = tmp_path_factory.mktemp("ws-fast")
    (root / "totalplace.duckdb").symlink_to(built_settings.store_path)
    return Settings(workspace=root, mirror=built_settings.mirror)


@pytest.fixture(scope="module")
def screens(fresh: Settings) -> dict[tuple[str, str], str]:
    """Each pilot's and year's screen computed now, while nothing is kept."""
    shutil.rmtree(fresh.workspace / "results", ignore_errors=True)
    out = {}
    for pilot in PILOTS:
        for year in YEARS:
            res = _count(fresh, "--place", pilot, "--year", year)
            assert res.exit_code == 0, res.output
            out[pilot, year] = res.output
    return out


def test_the_kept_screen_is_the_computed_screen(
    fresh: Settings, screens: dict[tuple[str, str], str], no_engine: None
) -> None:
    for pilot in PILOTS:
        for year in YEARS:
            _keep(fresh, pilot, year)  # by the real engine: `no_engine` patches its module
            res = _count(fresh, "--place", pilot, "--year", year)
            assert res.exit_code == 0, res.output
            assert res.output == screens[pilot, year], (pilot, year)
    kent = screens["Kent", "2010-11"]
    assert "of which reported by councils (revenue outturn): £" in kent
    assert "of which reported by councils" not in screens["Kent", "2008-09"]
    assert "Kent 2010-11: high-level count" in kent and "in 2018-19 prices: £" in kent


def test_the_screen_summary_has_every_figure_to_the_penny(fresh: Settings) -> None:
    with Store(fresh.store_path, read_only=True) as store:
        place = exact_pilot("Kent")
        assert place is not None
        result = count_place(store, place, "2010-11")
    summary = screen_summary(result)
    rows = result.rows[result.rows["amount_pence"] != 0]
    assert [r["amount_pence"] for r in summary["rows"]] == [int(a) for a in rows["amount_pence"]]
    assert sum(r["amount_pence"] for r in summary["rows"]) == summary["total_pence"]
    assert summary["total_pence"] == result.total_pence
    councils = result.reported_by_councils
    assert councils is not None  # 2010-11 has councils' outturn
    assert summary["reported_by_councils_pence"] == int(councils["amount_pence"].sum())
    assert [r["row"] for r in summary["rows"]] == list(row_ids(result.rows)[rows.index])
    assert summary["caveats"] == result.caveats
    assert sum(share for _, share in summary["confidence"]) == pytest.approx(1.0)


def test_a_pilots_alias_and_any_case_find_the_same_place(workspace: Any) -> None:
    for pilot in workspace.pilots().values():
        for label in (pilot.name, *pilot.aliases, pilot.name.upper()):
            assert exact_pilot(label) == workspace.place(label) == pilot, label
    for other in ("Kent County Council", "E10000016", "England", "Dorset", "Kent.toml"):
        assert exact_pilot(other) is None


def test_options_the_kept_screen_does_not_cover_compute_the_count(
    fresh: Settings, tmp_path: Path
) -> None:
    _keep(fresh, "Kent", "2010-11", doctored=True)
    kent = ("--place", "Kent", "--year", "2010-11")
    assert KEPT in " ".join(_count(fresh, *kent).output.split())  # the kept screen is read
    for extra in (
        ("--driver", "7=population"),
        ("--no-outturn",),
        ("--prices", "2008-09"),
        ("--sources", "all"),
        ("--format", "json"),
        ("--format", "csv"),
        ("--output", str(tmp_path / "kent.csv")),
    ):
        res = _count(fresh, *kent, *extra)
        assert res.exit_code == 0, (extra, res.output)
        assert KEPT not in " ".join(res.output.split()), extra
    # another spelling of the year or of the place is not looked up: computed, same figures
    other = _count(fresh, "--place", "E10000016", "--year", "2010/11").output
    assert KEPT not in " ".join(other.split())
    assert "Kent 2010-11: high-level count" in other
    _keep(fresh, "Kent", "2010-11")  # undoctored again for the other tests


def test_a_changed_store_is_never_read_from_the_kept_screen(
    built_settings: Any, tmp_path: Path
) -> None:
    settings = Settings(workspace=tmp_path / "ws", mirror=built_settings.mirror)
    settings.workspace.mkdir()
    shutil.copy(built_settings.store_path, settings.store_path)
    _keep(settings, "Kent", "2010-11", doctored=True)
    kent = ("--place", "Kent", "--year", "2010-11")
    before = _count(settings, *kent).output
    assert KEPT in " ".join(before.split()) and "eliminated" not in before
    loaded = CliRunner().invoke(
        app,
        ["transfers", str(FIX / "transfer-recycling-credits.csv"), "-w", str(settings.workspace)],
    )
    assert loaded.exit_code == 0, loaded.output
    after = _count(settings, *kent)
    assert after.exit_code == 0, after.output
    assert KEPT not in " ".join(after.output.split())
    # the count of the store as it is now: the transfer between two Kent councils eliminated
    assert "eliminated (transfers between bodies in the count, counted once):" in after.output
    assert "  Kent → Ashford: £2,000,000 (recycling credits" in after.output
    assert _total(before) - _total(after.output) == 2_000_000  # the fixture's amount, in £
    _keep(settings, "Kent", "2010-11")  # kept for the changed store: the same screen again
    assert _count(settings, *kent).output == after.output


def test_the_kept_screen_loads_no_pandas_and_a_computed_count_still_works(
    fresh: Settings, screens: dict[tuple[str, str], str]
) -> None:
    _keep(fresh, "Kent", "2010-11")
    ws = str(fresh.workspace)
    code = f"""
import sys
from totalplace.cli import app

def run(*args):
    try:
        app(["count", "--place", "Kent", "--year", "2010-11", "-w", {ws!r}, *args])
    except SystemExit as exc:
        assert exc.code == 0, exc.code

run()
heavy = ("pandas", "numpy", "geopandas", "totalplace.count.engine")
print("loaded:", [m for m in heavy if m in sys.modules], file=sys.stderr)
run("--driver", "7=population")
print("then loaded:", [m for m in heavy if m in sys.modules], file=sys.stderr)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stderr
    assert "then loaded: ['pandas', 'numpy', 'totalplace.count.engine']" in done.stderr
    assert done.stdout.startswith(screens["Kent", "2010-11"])  # not a tty: the same width
    assert done.stdout.count("Kent 2010-11: high-level count") == 2
