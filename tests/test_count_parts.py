"""The kept count lines (``totalplace.count.parts``) give the same figures, to the penny, as
the engine computing every step from the ledger: every pilot, theme and year of the store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from totalplace.count import parts
from totalplace.count.engine import (
    CRA_SOURCES,
    CountOptions,
    available_years,
    count_place,
    district_lines,
)
from totalplace.count.materialise import refresh_parts
from totalplace.count.result import COUNT_ROW_COLUMNS
from totalplace.deepdive.engine import deep_dive
from totalplace.deepdive.rules import builtin_themes
from totalplace.ledger.store import Store

pytestmark = pytest.mark.mirror
GROUP = [c for c in COUNT_ROW_COLUMNS if c != "amount_pence"]


@pytest.fixture(scope="module")
def kept(workspace: Any) -> Store:
    """The built store: its count lines are kept (``totalplace build`` keeps them)."""
    store: Store = workspace.store
    years = available_years(store)
    assert years and all(parts.stored_key(store, y) is not None for y in years)
    return store


@pytest.fixture(scope="module")
def on_demand(built_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A copy of the built store without kept lines: the engine computes every step."""
    path = Path(tmp_path_factory.mktemp("on_demand")) / "totalplace.duckdb"
    shutil.copyfile(built_settings.store_path, path)
    store = Store(path)
    parts.clear(store)
    assert parts.stored_key(store, "2010-11") is None
    yield store
    store.close()


def _rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """A frame's rows as sorted tuples (NaN and None alike), for exact comparison."""
    clean = frame.astype(object).where(frame.notna(), None)
    return sorted(map(tuple, clean.itertuples(index=False)), key=repr)


def _same_count(a: Any, b: Any) -> None:
    assert a.total_pence == b.total_pence
    assert _rows(a.rows[[*GROUP, "amount_pence"]]) == _rows(b.rows[[*GROUP, "amount_pence"]])
    assert _rows(a.districts) == _rows(b.districts)
    assert (a.population, a.release, a.caveats) == (b.population, b.release, b.caveats)
    for name in ("replaced", "reported_by_councils", "eliminated"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert _rows(x) == _rows(y), name
    cols = ["source_id", "rid", "area_code", "basis", "driver", "amount_pence"]
    assert _rows(a.lines[cols]) == _rows(b.lines[cols])
    assert (a.cra_lines is None) == (b.cra_lines is None)
    if a.cra_lines is not None:
        assert _rows(a.cra_lines[cols]) == _rows(b.cra_lines[cols])


def _figures(breakdown: Any) -> tuple[Any, ...]:
    """What a deep dive shows: its total, relevant spend, and spend by rule and district."""
    alloc = breakdown.allocations
    keys = [c for c in ("rule", "area_code") if c in alloc.columns]
    by_rule = alloc.groupby(keys, dropna=False)["amount_pence"].sum().reset_index()
    return (
        breakdown.total_pence,
        breakdown.relevant_pence,
        breakdown.relevant_allocated_pence,
        _rows(by_rule),
        breakdown.problems,
    )


def test_every_pilot_theme_and_year_is_the_same_from_kept_lines(
    workspace: Any, kept: Store, on_demand: Store
) -> None:
    themes = list(builtin_themes().values())
    years = available_years(kept)
    assert len(years) == 10 and len(themes) == 6
    pilots = workspace.pilots()
    assert len(pilots) == 13
    for place in pilots.values():
        for year in years:
            new, old = count_place(kept, place, year), count_place(on_demand, place, year)
            _same_count(new, old)
            for theme in themes:
                a = deep_dive(kept, place, year, theme, count=new)
                b = deep_dive(on_demand, place, year, theme, count=old)
                assert _figures(a) == _figures(b), (place.name, year, theme.name)


def test_kept_cra_parts_add_up_to_cra_by_region(kept: Store) -> None:
    for year in available_years(kept):
        lines, replaced = district_lines(kept, year)
        both = pd.concat([lines, replaced], ignore_index=True)
        cra = both[both["source_id"].isin(CRA_SOURCES) & (both["basis"] == "apportioned")]
        ours = cra.groupby("region_code")["amount_pence"].sum().sort_index()
        source = kept.query(
            "SELECT area_code AS region_code, sum(amount_pence)::BIGINT AS amount_pence "
            "FROM ledger WHERE source_id = ? AND year = ? AND area_level = 'region' GROUP BY 1",
            [parts.stored_key(kept, year).cra_source, year],  # type: ignore[union-attr]
        ).set_index("region_code")["amount_pence"]
        assert ours.to_dict() == source.sort_index().to_dict(), year


@pytest.mark.parametrize(
    ("drivers", "labels"),
    [
        ({"10": "age_65_plus"}, {"older people 65+"}),
        ({"10": "age_85_plus", "04": "age_18_64"}, {"oldest old 85+"}),
    ],
)
def test_a_driver_override_reshares_only_its_lines_and_matches_the_engine(
    workspace: Any, kept: Store, on_demand: Store, drivers: dict[str, str], labels: set[str]
) -> None:
    opts = CountOptions(drivers=drivers)
    for name in ("Kent", "Leicester and Leicestershire"):
        place = workspace.place(name)
        for year in ("2008-09", "2010-11"):
            new = count_place(kept, place, year, opts)
            _same_count(new, count_place(on_demand, place, year, opts))
            used = {str(d).split(",")[0] for d in new.rows["driver"]}
            assert labels <= used, (name, year, used)
            assert new.total_pence != count_place(kept, place, year).total_pence


def test_kept_lines_are_ignored_once_their_inputs_change(
    workspace: Any, built_settings: Any, tmp_path: Path
) -> None:
    path = tmp_path / "totalplace.duckdb"
    shutil.copyfile(built_settings.store_path, path)
    with Store(path) as store:
        assert parts.stored_key(store, "2010-11") is not None
        footprints = store.table("footprints")
        store.replace_table("footprints", footprints.iloc[1:])
        assert parts.stored_key(store, "2010-11") is None  # stale: never read
        kent = workspace.place("Kent")
        live = count_place(store, kent, "2010-11")
        report = refresh_parts(store, years=["2010-11"])
        assert report.years == ("2010-11",)
        assert parts.stored_key(store, "2010-11") is not None
        _same_count(count_place(store, kent, "2010-11"), live)
