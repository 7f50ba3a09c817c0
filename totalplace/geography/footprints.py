"""Agency footprints: the 2019 districts each spending body covers.

A council's footprint is its own district, the districts of its county, or — for councils
abolished since (Christchurch, Poole, Dorset County Council…) — the 2019 districts that took over
their area, found through ONS code-change and 2014 hierarchy lookups. The Greater London
Authority covers London. Used to share an authority's own outturn among districts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

GLA_CODES = ("E61000001",)
LONDON = "E12000007"


def successors(changes: pd.DataFrame, up_to_year: int = 2019) -> dict[str, str]:
    """Old district code -> the 2019 district it became part of (mergers and new codes)."""
    rel = changes[
        changes["type"].isin(["merger", "new_code"]) & (changes["start"].astype(int) <= up_to_year)
    ]
    step = dict(zip(rel["oldcd"], rel["newcd"], strict=False))
    out: dict[str, str] = {}
    for old in step:
        code, seen = old, set()
        while code in step and code not in seen:
            seen.add(code)
            code = step[code]
        out[old] = code
    return out


def footprints(mirror: Path, districts: pd.DataFrame) -> pd.DataFrame:
    """``agency_code, area_code, partial`` for every council code in the register and counties.

    ``partial`` is True where the footprint also contains areas outside the agency's own
    (e.g. Dorset County Council's Christchurch lies in today's BCP with Bournemouth and Poole).
    """
    changes = pd.read_csv(mirror / "lookups/la_code_changes_2018_2025.csv", encoding="utf-8-sig")
    county19 = pd.read_csv(mirror / "lookups/ons_lad2019_to_county2019_england.csv")
    hier14 = pd.read_csv(mirror / "lookups/ltla2014_hierarchy_lookup.csv", encoding="utf-8-sig")
    register = pd.read_csv(
        mirror / "lookups/mysociety_uk_local_authorities_past_current.csv", dtype=str
    )
    now = set(districts["area_code"])
    succ = successors(changes)
    merged_into: dict[str, set[str]] = {}
    for old, new in succ.items():
        merged_into.setdefault(new, set()).add(old)

    def to_2019(code: str) -> str | None:
        if code in now:
            return code
        new = succ.get(code)
        return new if new in now else None

    rows: list[tuple[str, str, bool]] = []
    # districts and unitaries, current and abolished
    for code in set(register["gss-code"].dropna()) | set(succ) | now:
        d = to_2019(code)
        if d is not None:
            rows.append((code, d, d != code and len(merged_into.get(d, ())) > 1))
    # counties: 2019 lookup, else via their 2014 districts
    for cty, grp in county19.groupby("CTY19CD"):
        rows += [(str(cty), str(d), False) for d in grp["LAD19CD"]]
    known_cty = set(county19["CTY19CD"])
    for cty, grp in hier14.dropna(subset=["ctycd"]).groupby("ctycd"):
        if cty in known_cty:
            continue
        olds = set(grp["ltlacd"])
        for d in {to_2019(c) for c in olds} - {None}:
            assert d is not None
            partial = bool(merged_into.get(d, set()) - olds) if d not in olds else False
            rows.append((str(cty), d, partial))
    for gla in GLA_CODES:
        rows += [
            (gla, d, False) for d in districts.loc[districts["region_code"] == LONDON, "area_code"]
        ]
    # police force areas and fire and rescue authority areas (2019), for agencies' own returns
    pfa = pd.read_csv(mirror / "lookups/ons_lad2019_to_csp_to_police_force_area_2019_ew.csv")
    fra = pd.read_csv(mirror / "lookups/ons_lad2019_to_fire_rescue_authority_2019_ew.csv")
    for table, col in ((pfa, "PFA19CD"), (fra, "FRA19CD")):
        eng = table[table["LAD19CD"].astype(str).isin(now)]
        rows += [(str(a), str(d), False) for a, d in zip(eng[col], eng["LAD19CD"], strict=True)]
    out = pd.DataFrame(rows, columns=["agency_code", "area_code", "partial"]).drop_duplicates()
    return out.sort_values(["agency_code", "area_code"], ignore_index=True)


def _norm(name: str) -> str:
    return " ".join(str(name).lower().replace("&", "and").replace(",", " ").split())


#: How RS names a police body: police authorities to 2011-12, then (from November 2012) the
#: police and crime commissioner with the chief constable, e.g. 'Kent Police and Crime
#: Commissioner and Chief Constable' (E7022, formerly Kent Police Authority E6022).
POLICE_SUFFIXES = (
    " police and crime commissioner and chief constable",
    " police and crime commissioner",
    " police authority",
)


def _police_force(key: str) -> str | None:
    """The police force area's name in a police body's normalised name, or None."""
    return next((key.removesuffix(s) for s in POLICE_SUFFIXES if key.endswith(s)), None)


def authority_footprints(
    mirror: Path, authorities: pd.DataFrame, reference_dir: Path | None = None
) -> pd.DataFrame:
    """Footprints of police and fire authorities that have no GSS code (RS keys them by DCLG
    E-code): police authorities and police and crime commissioners by name to their police
    force area (ONS PFA 2019), combined fire authorities through
    data/codes/fire_authorities_2010.csv to a 2019 fire area.

    ``authorities``: ``area_code`` ('ECODE:…') and ``agency`` (the name as published).
    """
    from totalplace.config import REFERENCE_DIR

    ref = reference_dir or REFERENCE_DIR
    pfa = pd.read_csv(mirror / "lookups/ons_lad2019_to_csp_to_police_force_area_2019_ew.csv")
    fra = pd.read_csv(mirror / "lookups/ons_lad2019_to_fire_rescue_authority_2019_ew.csv")
    fire = pd.read_csv(ref / "codes" / "fire_authorities_2010.csv", comment="#", dtype=str)
    pfa_by_name = {_norm(n): c for c, n in zip(pfa["PFA19CD"], pfa["PFA19NM"], strict=True)}
    fire_by_name = {_norm(r.name): r for r in fire.itertuples()}
    other = pd.read_csv(ref / "codes" / "other_authorities_2010.csv", comment="#", dtype=str)
    other_by_name = {_norm(r.name): r for r in other.itertuples()}
    county19 = pd.read_csv(mirror / "lookups/ons_lad2019_to_county2019_england.csv")
    rows: list[tuple[str, str, bool]] = []
    for code, name in zip(authorities["area_code"], authorities["agency"], strict=True):
        key = _norm(name)
        if key in other_by_name:
            r2 = other_by_name[key]
            areas: set[str] = set()
            for a in str(r2.areas).split():
                areas |= set(county19.loc[county19["CTY19CD"] == a, "LAD19CD"]) or {a}
            drop = set(str(r2.exclude).split()) if isinstance(r2.exclude, str) else set()
            rows += [(str(code), str(d), False) for d in sorted(areas - drop)]
            continue
        force = _police_force(key)
        if force is not None:
            pfa_code = pfa_by_name.get(force)
            if pfa_code is not None:
                lads = pfa.loc[pfa["PFA19CD"] == pfa_code, "LAD19CD"]
                rows += [(str(code), str(d), False) for d in sorted(set(lads))]
        elif key in fire_by_name:
            r = fire_by_name[key]
            exclude = set(str(r.exclude).split()) if isinstance(r.exclude, str) else set()
            lads = set(fra.loc[fra["FRA19CD"] == r.fra_code, "LAD19CD"]) - exclude
            rows += [(str(code), str(d), False) for d in sorted(lads)]
    return pd.DataFrame(rows, columns=["agency_code", "area_code", "partial"])
