"""The workspace facade: one object the CLI, the dashboard and the API use to ask for figures.

It owns the store (read-only unless building) and the reference data, and caches what is
expensive to load (districts, boundaries). Everything it returns is plain data (DataFrames,
dicts, CountResult), so callers never touch DuckDB. Importing it loads no pandas and no count
engine: a figure kept at build time is read without them (`cached_screen`).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from totalplace.config import Settings
from totalplace.geography.places import Place, exact_pilot
from totalplace.ledger.store import Store
from totalplace.results import ResultCache

if TYPE_CHECKING:
    import pandas as pd

    from totalplace.count.result import CountResult


class Workspace:
    """A built workspace (see `totalplace build`)."""

    def __init__(self, settings: Settings | None = None, read_only: bool = True) -> None:
        self.settings = settings or Settings()
        self.store = Store(self.settings.store_path, read_only=read_only)

    @cached_property
    def results(self) -> ResultCache:
        """Figures computed at build time for the store as it is now (``totalplace.results``)."""
        return ResultCache.for_store(self.settings.workspace, self.store)

    # -- reference -------------------------------------------------------------------------
    @cached_property
    def districts(self) -> pd.DataFrame:
        """2019 districts with upper tier and region (reference table `districts`)."""
        return self.store.table("districts")

    def pilots(self) -> dict[str, Place]:
        from totalplace.geography.places import pilots

        return pilots()

    def place(self, spec: str) -> Place:
        """Resolve a place; older codes (old ONS, pre-2019 GSS) are translated and noted."""
        import dataclasses
        import re

        from totalplace.geography.places import ENGLAND_CODE, resolve_place
        from totalplace.geography.translate import translate_codes

        parts = [p.strip().upper() for p in spec.split(",") if p.strip()]
        d = self.districts
        known = set(d["area_code"]) | set(d["county_code"].dropna()) | set(d["region_code"])
        known.add(ENGLAND_CODE)
        if (
            parts
            and not set(parts) <= known
            and all(
                re.fullmatch(r"[A-Za-z0-9]{2,9}", p) and any(ch.isdigit() for ch in p)
                for p in parts
            )
        ):
            codes, notes = translate_codes(
                parts,
                self.districts,
                self.store.table("council_register"),
                self.store.table("code_changes"),
                self.store.table("footprints"),
            )
            place = resolve_place(",".join(dict.fromkeys(codes)), self.districts)
            if notes:
                note = "translated to 2019 districts: " + "; ".join(notes)
                return dataclasses.replace(place, note=note, source=place.source + f" ({note})")
            return place
        return resolve_place(spec, self.districts)

    def years(self) -> list[str]:
        """Financial years for which the store can produce a count, oldest first."""
        from totalplace.count.engine import available_years

        return available_years(self.store)

    def district_geojson(self) -> dict[str, Any]:
        """England 2019 districts as a compact GeoJSON FeatureCollection (id = GSS code)."""
        import json

        row = self.store.query("SELECT value FROM geojson WHERE level = 'district'")
        return dict(json.loads(row["value"].iloc[0]))

    # -- figures ---------------------------------------------------------------------------
    def count(self, place: str | Place, year: str, prices: str | None = None) -> CountResult:
        """The default count of ``place`` for ``year``; real terms in ``prices``-year prices
        (default: the deflators' latest outturn year)."""
        from totalplace.count.engine import count_place, with_prices

        p = place if isinstance(place, Place) else self.place(place)
        result = self.results.count(p, year) or count_place(self.store, p, year)
        return with_prices(self.store, result, prices)

    def cached_screen(self, spec: str, year: str) -> dict[str, Any] | None:
        """What ``totalplace count`` prints for the default count of the pilot named ``spec``
        (name or alias, as `place` reads it) for ``year`` (as the store names it, e.g.
        2010-11), when ``totalplace build`` kept it for the store as it is now; else None
        (another place, another spelling of the year, a changed store: compute the count).
        Reads no table, so it loads no pandas."""
        pilot = exact_pilot(spec)
        return None if pilot is None else self.results.screen(pilot, year)

    def deflators(self) -> pd.DataFrame | None:
        """The GDP deflator series in use (``year, index, status, source_id``), or None."""
        from totalplace.count.engine import deflator_series

        return deflator_series(self.store)

    def real_terms_factors(self, prices: str | None = None) -> tuple[dict[str, float], str] | None:
        """``({year: factor into prices-year prices}, prices year)`` for every year with a
        deflator, or None without a series; an unknown ``prices`` year is a TotalPlaceError."""
        from totalplace.count.deflators import latest_outturn, real_terms_factors

        series = self.deflators()
        if series is None:
            if prices:
                from totalplace.errors import TotalPlaceError

                raise TotalPlaceError(f"prices {prices}: no GDP deflator series is loaded")
            return None
        base = prices or latest_outturn(series)
        return real_terms_factors(series, series["year"], base), base

    def district_spend(self, year: str) -> pd.DataFrame:
        """Every English district's count of ``year`` by agency, function and basis
        (``totalplace.queries.district_spend``; read from the build's results when there)."""
        from totalplace.queries import district_spend

        cached = self.results.district_spend(year)
        return cached if cached is not None else district_spend(self.store, year)

    def deepdive(
        self, place: str | Place, year: str, theme: str, count: CountResult | None = None
    ) -> Any:
        """Theme breakdown (``ThemeBreakdown``) of a place and year; ``count`` (the place's
        default count for the year, if the caller already has it) is reused, not recomputed."""
        from totalplace.deepdive.engine import deep_dive
        from totalplace.deepdive.rules import load_theme

        p = place if isinstance(place, Place) else self.place(place)
        return deep_dive(self.store, p, year, load_theme(theme), count=count)

    def region_district_counts(self, region_code: str, year: str) -> pd.DataFrame:
        """Apportioned count of every district in a region: area_code, area_name, population,
        amount_pence (the engine's own per-district count; the dashboard's maps use the faster
        ``district_spend``, which sums to the same)."""
        from totalplace.count.engine import count_districts

        return count_districts(self.store, year, region_code=region_code)
