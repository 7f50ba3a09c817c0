"""Real-browser fixtures: the app served in-process on loopback, headless Chromium via Playwright.

The workspace is built once per session from the data mirror (``totalplace.build``). Where the
build is not importable yet, or there is no mirror, a small fake workspace stands in (outside CI).
Every page records requests to any host but 127.0.0.1 and browser console errors; a test fails
if there is any (the dashboard must work offline and cleanly).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
import pytest

from totalplace.count.result import CountResult

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
IN_CI = os.environ.get("CI") == "true"


def _skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must run the browser tests: {reason}")
    pytest.skip(reason)


# -- the workspace ---------------------------------------------------------------------------


def _real_workspace(tmp_path_factory: pytest.TempPathFactory) -> Any | None:
    """A workspace built from the mirror, or None where the build is not available here."""
    try:
        from totalplace.build import build_workspace
        from totalplace.config import Settings
        from totalplace.workspace import Workspace
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"CI must build a real workspace: {exc}")
        return None
    settings = Settings(workspace=tmp_path_factory.mktemp("ws"))
    if settings.mirror is None or not settings.mirror.is_dir():
        if IN_CI:
            pytest.fail("CI must have the data mirror to build the browser tests' workspace")
        return None
    try:
        build_workspace(settings)
    except ImportError as exc:  # a part of the build still being written (outside CI only)
        if IN_CI:
            raise
        warnings.warn(f"real workspace build failed ({exc}); using FakeWorkspace", stacklevel=1)
        return None
    return Workspace(settings)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The workspace the app serves: real when it can be built, else ``FakeWorkspace``.

    ``TOTALPLACE_FAKE_WORKSPACE=1`` forces the fake (quick runs while developing; not in CI).
    """
    if os.environ.get("TOTALPLACE_FAKE_WORKSPACE") == "1" and not IN_CI:
        return FakeWorkspace()
    real = _real_workspace(tmp_path_factory)
    if real is None:
        warnings.warn("browser tests run against FakeWorkspace (made-up figures)", stacklevel=1)
        return FakeWorkspace()
    return real


# -- the server and the browser --------------------------------------------------------------


@pytest.fixture(scope="session")
def base_url(workspace: Any) -> Iterator[str]:
    """The dashboard served on a free loopback port in a daemon thread."""
    from werkzeug.serving import make_server

    from dashboards.app import create_app

    app = create_app(workspace)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium (the system one: never ``playwright install``), fresh profile."""
    if not CHROMIUM.exists():
        _skip_or_fail(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright (python) is not installed")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1360, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class Watched:
    """A page and what went wrong on it."""

    page: Any
    external_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.external_requests, f"requests left loopback: {self.external_requests}"
        assert not self.console_errors, f"browser console errors: {self.console_errors}"


@pytest.fixture()
def watched(browser_context: Any, base_url: str) -> Iterator[Watched]:
    """A fresh page; the test fails on any non-loopback request or console error."""
    page = browser_context.new_page()
    w = Watched(page)

    def on_request(request: Any) -> None:
        url = urlparse(request.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if url.hostname != "127.0.0.1":
            w.external_requests.append(request.url)

    def on_console(message: Any) -> None:
        if message.type == "error":
            w.console_errors.append(message.text)

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: w.console_errors.append(f"page error: {exc}"))
    page.set_default_timeout(30_000)
    yield w
    page.close()
    w.assert_clean()


# -- a fake workspace (stands in until / where the real build is not available) -------------

_AGENCIES = [
    # agency type, COFOG function code, function, share of spend
    ("Benefits and employment (DWP)", "10", "10. Social protection", 0.27),
    ("Councils", "9", "9. Education", 0.17),
    ("NHS and health", "7", "7. Health", 0.19),
    ("Councils", "10", "10. Social protection", 0.08),
    ("HMRC (tax credits and child benefit)", "10", "10. Social protection", 0.07),
    ("Police and fire (local government)", "3", "3. Public order and safety", 0.04),
    ("Justice (courts and prisons)", "3", "3. Public order and safety", 0.02),
    ("Education and skills (central)", "9", "9. Education", 0.05),
    ("Transport (central)", "4", "4. Economic affairs", 0.03),
    ("Councils", "6", "6. Housing and community amenities", 0.03),
    ("Public corporations", "6", "6. Housing and community amenities", 0.02),
    ("Other central government", "1", "1. General public services", 0.03),
]
#: pilot -> (region code, [(district code, name, population)])
_PILOTS: dict[str, tuple[str, list[tuple[str, str, int]]]] = {
    "Birmingham": ("E12000005", [("E08000025", "Birmingham", 1_141_816)]),
    "Bradford": ("E12000003", [("E08000032", "Bradford", 539_776)]),
    "Central Bedfordshire and Luton": (
        "E12000006",
        [("E06000056", "Central Bedfordshire", 288_648), ("E06000032", "Luton", 213_528)],
    ),
    "Coventry, Solihull and Warwickshire": (
        "E12000005",
        [("E08000026", "Coventry", 371_521), ("E08000029", "Solihull", 216_374)],
    ),
    "Croydon": ("E12000007", [("E09000008", "Croydon", 386_710)]),
    "Dorset, Bournemouth and Poole": (
        "E12000009",
        [
            ("E06000058", "Bournemouth, Christchurch and Poole", 395_784),
            ("E06000059", "Dorset", 378_508),
        ],
    ),
    "Durham": ("E12000001", [("E06000047", "County Durham", 530_094)]),
    "Kent": (
        "E12000008",
        [
            ("E07000105", "Ashford", 130_032),
            ("E07000106", "Canterbury", 165_394),
            ("E07000107", "Dartford", 112_606),
            ("E07000108", "Dover", 118_131),
            ("E07000109", "Gravesham", 106_939),
            ("E07000110", "Maidstone", 171_826),
            ("E07000111", "Sevenoaks", 120_293),
            ("E07000112", "Folkestone and Hythe", 112_996),
            ("E07000113", "Swale", 150_082),
            ("E07000114", "Thanet", 141_819),
            ("E07000115", "Tonbridge and Malling", 132_153),
            ("E07000116", "Tunbridge Wells", 118_054),
        ],
    ),
    "Leicester and Leicestershire": (
        "E12000004",
        [("E06000016", "Leicester", 354_224), ("E07000129", "Blaby", 101_526)],
    ),
    "Lewisham": ("E12000007", [("E09000023", "Lewisham", 305_842)]),
    "Manchester City Region": (
        "E12000002",
        [("E08000003", "Manchester", 552_858), ("E06000007", "Warrington", 209_547)],
    ),
    "South Tyneside, Gateshead and Sunderland": (
        "E12000001",
        [
            ("E08000023", "South Tyneside", 150_976),
            ("E08000037", "Gateshead", 202_055),
            ("E08000024", "Sunderland", 277_705),
        ],
    ),
    "Worcestershire": ("E12000005", [("E07000235", "Malvern Hills", 78_698)]),
}
_PER_HEAD_BY_REGION = {
    "E12000001": 10_100,
    "E12000002": 9_800,
    "E12000003": 9_000,
    "E12000004": 8_400,
    "E12000005": 9_100,
    "E12000006": 7_900,
    "E12000007": 11_300,
    "E12000008": 7_800,
    "E12000009": 8_100,
}
_YEARS = ["2009-10", "2010-11", "2011-12", "2012-13"]
_RELEASE = "HM Treasury: Country and Regional Analysis 2014 combined database"


def _fake_districts() -> pd.DataFrame:
    rows = []
    for members in _PILOTS.values():
        region, districts = members
        rows += [(c, n, region, p) for c, n, p in districts]
    # two neighbours per region that are in no pilot, so the map shows the place in context
    for i, region in enumerate(_PER_HEAD_BY_REGION):
        for j in range(2):
            rows.append((f"E0799{i:02d}{j}", f"Neighbour {i}-{j}", region, 90_000 + 10_000 * j))
    frame = pd.DataFrame(rows, columns=["area_code", "area_name", "region_code", "population"])
    return frame.drop_duplicates("area_code", ignore_index=True)


def _fake_geojson(districts: pd.DataFrame) -> dict[str, Any]:
    """A square per district, laid out in a grid per region (England-ish lon/lat)."""
    features = []
    for r, (region, group) in enumerate(districts.groupby("region_code", sort=True)):
        lon0, lat0 = -3.0 + (r % 3) * 1.6, 50.8 + (r // 3) * 1.1
        for k, code in enumerate(group["area_code"]):
            lon, lat = lon0 + (k % 4) * 0.3, lat0 + (k // 4) * 0.25
            ring = [
                [lon, lat],
                [lon + 0.28, lat],
                [lon + 0.28, lat + 0.23],
                [lon, lat + 0.23],
                [lon, lat],
            ]
            features.append(
                {
                    "type": "Feature",
                    "id": code,
                    "properties": {"region": region},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    return {"type": "FeatureCollection", "features": features}


class FakeWorkspace:
    """Answers like ``totalplace.workspace.Workspace`` with made-up but realistic figures."""

    def __init__(self) -> None:
        self._districts = _fake_districts()

    def pilots(self) -> dict[str, Any]:
        return {name: None for name in sorted(_PILOTS)}

    def years(self) -> list[str]:
        return list(_YEARS)

    def district_geojson(self) -> dict[str, Any]:
        return _fake_geojson(self._districts)

    def _per_head(self, region_code: str, year: str) -> int:
        return _PER_HEAD_BY_REGION[region_code] + 150 * _YEARS.index(year)

    def count(self, place: str, year: str) -> CountResult:
        from totalplace.errors import StoreError, UnknownPlaceError

        if place not in _PILOTS:
            raise UnknownPlaceError(f"unknown place {place!r}")
        if year not in _YEARS:
            raise StoreError(f"no HM Treasury CRA spend for {year} in the store")
        region, members = _PILOTS[place]
        population = sum(p for _, _, p in members)
        total_pence = population * self._per_head(region, year) * 100
        rows = pd.DataFrame(
            [
                (
                    agency,
                    code,
                    fn,
                    "apportioned",
                    "population mid-2019",
                    "cra_2014",
                    _RELEASE,
                    round(total_pence * share),
                )
                for agency, code, fn, share in _AGENCIES
            ],
            columns=[
                "agency_type",
                "function_code",
                "function",
                "basis",
                "driver",
                "source_id",
                "release",
                "amount_pence",
            ],
        )
        districts = pd.DataFrame(
            [(c, n, region, p, p * self._per_head(region, year) * 100) for c, n, p in members],
            columns=["area_code", "area_name", "region_code", "population", "amount_pence"],
        )
        councils = None
        if year == "2010-11":
            councils = pd.DataFrame(
                {
                    "authority": [n for _, n, _ in members],
                    "amount_pence": [p * 2_400 * 100 for _, _, p in members],
                }
            )
        return CountResult(
            place_name=place,
            place_codes=tuple(c for c, _, _ in members),
            year=year,
            population=population,
            population_year=2019,
            release=_RELEASE,
            rows=rows,
            districts=districts,
            reported_by_councils=councils,
            caveats=[
                "Driver: population mid-2019 is used for every year (the only district "
                "population in the store).",
                "A fake workspace for tests: figures are made up.",
            ],
        )
