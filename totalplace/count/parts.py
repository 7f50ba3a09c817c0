"""The materialised count: every district's count lines of a year, kept in the store.

A count, a region's map and England's map all start from the same lines: each CRA regional line
shared among its region's districts by its driver, councils' outturn and agencies' own returns
in place of the lines they replace. ``totalplace.count.materialise`` computes them once per year
with the engine's own steps (``district_lines`` over all England) and keeps them here, in the
``count_parts`` table, one row per source line and district, with a ``replaced`` flag for the
lines a count leaves out (listed as replaced). Then a count is a filter on this table and a map
one GROUP BY.

Parts are keyed by year, CRA release, driver set and population mid-year, and stamped with a
digest of what they were computed from (``inputs_digest``): the ledger's undated batches (CRA,
outturn, agencies' returns; dated spend transactions are not count inputs), the reference
tables, the count code and the reference data. A stamp that no longer matches is ignored (the
engine computes on demand, as before), never read.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from totalplace.config import REFERENCE_DIR
from totalplace.ledger.store import Store

TABLE = "count_parts"
META = "count_parts_meta"
#: The only driver set kept: the defaults of data/codes/default_drivers.csv. Other drivers are
#: computed on demand, for the lines they touch.
DEFAULT_DRIVERS = "default"
#: Key and bookkeeping columns of the table (not count-line columns).
KEY_COLUMNS = ("year", "cra_source", "drivers", "mid_year", "seq", "replaced")

_META_DDL = f"""
CREATE TABLE IF NOT EXISTS {META} (
  year VARCHAR, cra_source VARCHAR, drivers VARCHAR, mid_year INTEGER, digest VARCHAR,
  line_columns VARCHAR, replaced_columns VARCHAR, dtypes VARCHAR, rows BIGINT)
"""


@dataclass(frozen=True)
class PartsKey:
    """Which lines a stored year holds: its CRA release, driver set and population mid-year."""

    year: str
    cra_source: str
    mid_year: int
    drivers: str = DEFAULT_DRIVERS


@dataclass(frozen=True)
class _Stored:
    key: PartsKey
    line_columns: tuple[str, ...]
    replaced_columns: tuple[str, ...]
    dtypes: dict[str, str]


@lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 of the count code (this folder) and the reference code lists it reads."""
    digest = hashlib.sha256()
    files = sorted(Path(__file__).parent.glob("*.py")) + sorted(
        p for p in (REFERENCE_DIR / "codes").rglob("*") if p.is_file()
    )
    for path in files:
        digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes())
    return digest.hexdigest()


def inputs_digest(store: Store) -> str:
    """A digest of everything the count's lines are computed from (see the module doc)."""
    digest = hashlib.sha256(code_digest().encode("utf-8"))
    meta = store.con.execute("SELECT key, value FROM meta ORDER BY key").fetchall()
    digest.update(repr(meta).encode("utf-8"))
    rows = store.con.execute(
        """SELECT batch_id, content_sha256, target FROM batches
           WHERE target <> 'ledger'
              OR batch_id IN (SELECT DISTINCT batch_id FROM ledger WHERE "date" IS NULL)
           ORDER BY batch_id"""
    ).fetchall()
    digest.update(repr(rows).encode("utf-8"))
    return digest.hexdigest()


#: Per open store: (its fingerprint, the current stored years), so that a count does not
#: recompute the digest (a read-only store cannot change while it is open).
_SEEN: weakref.WeakKeyDictionary[Store, tuple[str, dict[str, _Stored]]] = (
    weakref.WeakKeyDictionary()
)


def _stored(store: Store) -> dict[str, _Stored]:
    """The stored years whose stamp matches the store as it is now."""
    cached = _SEEN.get(store)
    if cached is not None and (store.read_only or cached[0] == store.fingerprint()):
        return cached[1]
    found: dict[str, _Stored] = {}
    if META in store.tables() and TABLE in store.tables():
        meta = store.query(f"SELECT * FROM {META} WHERE digest = ?", [inputs_digest(store)])
        for r in meta.itertuples():
            found[str(r.year)] = _Stored(
                PartsKey(str(r.year), str(r.cra_source), int(r.mid_year), str(r.drivers)),
                tuple(json.loads(r.line_columns)),
                tuple(json.loads(r.replaced_columns)),
                dict(json.loads(r.dtypes)),
            )
    _SEEN[store] = (store.fingerprint(), found)
    return found


def stored_key(store: Store, year: str) -> PartsKey | None:
    """The key of ``year``'s stored lines, if they are there and current."""
    hit = _stored(store).get(year)
    return hit.key if hit else None


def write(store: Store, key: PartsKey, lines: pd.DataFrame, replaced: pd.DataFrame) -> int:
    """Keep ``year``'s count lines and the lines they replaced (replacing what was kept for
    that year); returns the rows written."""
    cols = list(dict.fromkeys([*lines.columns, *replaced.columns]))
    both = pd.concat(
        [lines.assign(replaced=False), replaced.assign(replaced=True)], ignore_index=True
    ).reindex(columns=[*cols, "replaced"])
    both.insert(0, "seq", range(len(both)))
    for name, value in (("mid_year", key.mid_year), ("drivers", key.drivers)):
        both.insert(0, name, value)
    both.insert(0, "cra_source", key.cra_source)
    both.insert(0, "year", key.year)
    dtypes = {c: str(t) for c, t in both.dtypes.items()}
    meta = [
        key.year,
        key.cra_source,
        key.drivers,
        key.mid_year,
        inputs_digest(store),
        json.dumps(list(lines.columns)),
        json.dumps(list(replaced.columns)),
        json.dumps(dtypes),
        len(both),
    ]
    text = [c for c, t in both.dtypes.items() if t == "object"]
    # text columns as VARCHAR even when all empty, so later years' values fit
    casts = ", ".join(f'"{c}"::VARCHAR AS "{c}"' for c in text)
    select = f"SELECT * REPLACE ({casts})" if text else "SELECT *"
    with store.transaction() as con:
        con.execute(_META_DDL)
        con.register("_frame", both)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _parts AS {select} FROM _frame ORDER BY area_code, seq"
        )
        if TABLE in _tables(con):
            have = {r[0] for r in con.execute(f"DESCRIBE {TABLE}").fetchall()}
            for name, sql_type, *_ in con.execute("DESCRIBE _parts").fetchall():
                if name not in have:  # a column the engine has added since
                    con.execute(f'ALTER TABLE {TABLE} ADD COLUMN "{name}" {sql_type}')
            con.execute(f"DELETE FROM {TABLE} WHERE year = ?", [key.year])
            con.execute(f"INSERT INTO {TABLE} BY NAME SELECT * FROM _parts")
        else:
            con.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM _parts")
        con.execute("DROP VIEW _parts")
        con.unregister("_frame")
        con.execute(f"DELETE FROM {META} WHERE year = ?", [key.year])
        con.execute(f"INSERT INTO {META} VALUES ({', '.join('?' * len(meta))})", meta)
    _forget(store)
    return len(both)


def _tables(con: Any) -> set[str]:
    return {r[0] for r in con.execute("SHOW TABLES").fetchall()}


def read(
    store: Store, year: str, districts: list[str] | None = None, regions: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """``year``'s stored count lines and replaced lines (of ``districts``, or of the districts
    of ``regions``, or of all England), or None if they are not stored or not current."""
    hit = _stored(store).get(year)
    if hit is None:
        return None
    where = ["year = $year"]
    params: dict[str, Any] = {"year": year}
    if districts is not None:
        where.append("list_contains($districts, area_code)")
        params["districts"] = list(districts)
    elif regions is not None:
        where.append("list_contains($regions, region_code)")
        params["regions"] = list(regions)
    where_sql = " AND ".join(where)

    def part(columns: tuple[str, ...], replaced: bool) -> pd.DataFrame:
        select = ", ".join(f'"{c}"' for c in columns)
        frame = store.query_arrow(
            f"SELECT {select} FROM {TABLE} WHERE {where_sql} AND replaced = {replaced} "
            "ORDER BY seq",
            params,
        )
        types = {c: t for c, t in hit.dtypes.items() if c in columns and t != "object"}
        return frame.astype(types) if types else frame

    return part(hit.line_columns, False), part(hit.replaced_columns, True)


#: Columns of England's spend by district (``totalplace.queries.SPEND_KEY`` + amount).
_SPEND_SQL = f"""
SELECT area_code, agency, agency_type, function_code, "function", basis,
       sum(amount_pence)::BIGINT AS amount_pence
FROM {TABLE} WHERE year = $year AND NOT replaced
GROUP BY ALL
ORDER BY area_code, agency, agency_type, function_code, "function", basis NULLS LAST
"""


def district_spend(store: Store, year: str) -> pd.DataFrame | None:
    """Every district's stored count of ``year`` by agency, agency type, function and basis
    (one GROUP BY), or None if ``year`` is not stored or not current."""
    if _stored(store).get(year) is None:
        return None
    return store.query(_SPEND_SQL, {"year": year})


def clear(store: Store) -> None:
    """Drop the stored parts (counts are then computed on demand)."""
    with store.transaction() as con:
        con.execute(f"DROP TABLE IF EXISTS {TABLE}")
        con.execute(f"DROP TABLE IF EXISTS {META}")
    _forget(store)


def _forget(store: Store) -> None:
    store.forget_tables()
    _SEEN.pop(store, None)


def drop_stale(store: Store) -> None:
    """Remove kept years that are no longer current (their stamp does not match)."""
    if META not in store.tables() or TABLE not in store.tables():
        return
    current = list(_stored(store))
    with store.transaction() as con:
        con.execute(f"DELETE FROM {TABLE} WHERE NOT list_contains(?, year)", [current])
        con.execute(f"DELETE FROM {META} WHERE NOT list_contains(?, year)", [current])
    _forget(store)
