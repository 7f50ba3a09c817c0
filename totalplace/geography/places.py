"""Places: the set of 2019 districts a count covers, from a pilot, a code, a list or a file.

Every place is expressed in April 2019 lower-tier districts (see ``areas.districts_2019``) so
that spend, population and boundaries of any source can be joined to it the same way.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from totalplace.config import REFERENCE_DIR
from totalplace.errors import UnknownPlaceError

if TYPE_CHECKING:  # the frames are the caller's: naming a pilot loads no pandas (`exact_pilot`)
    import pandas as pd

PILOTS_FILE = Path("places") / "pilots.toml"
PLACE_FILE_SUFFIXES = (".toml", ".yaml", ".yml")
KINDS = ("pilot", "area", "user")
AREA_SOURCE = (
    "ONS lower-tier to upper-tier local authority lookup (April 2019) and LAD to region lookup, "
    "https://geoportal.statistics.gov.uk/"
)
_GSS = re.compile(r"^[EWSNK]\d{8}$")
#: England as a whole: every 2019 district (GSS country code and name).
ENGLAND_CODE, ENGLAND_NAME = "E92000001", "England"
_DISTRICT_PREFIXES = ("E06", "E07", "E08", "E09")
_NEEDED = {
    "area_code",
    "area_name",
    "utla_code",
    "utla_name",
    "county_code",
    "region_code",
    "region_name",
}


@dataclass(frozen=True)
class Place:
    """A named set of 2019 districts and the councils that serve it, with where it comes from."""

    name: str
    districts: tuple[str, ...]  # 2019 lower-tier GSS codes (E06/E07/E08/E09), sorted
    councils: tuple[str, ...]  # GSS codes of member councils incl. counties (E10) and unitaries
    source: str  # where the definition comes from, in words + URL
    kind: str  # 'pilot' | 'area' | 'user'
    theme: str | None = None
    note: str | None = None
    region_code: str | None = None  # E12 region when all districts share one
    aliases: tuple[str, ...] = ()  # other names resolve_place accepts (pilots)


def pilots(reference_dir: Path = REFERENCE_DIR) -> dict[str, Place]:
    """The 13 Total Place pilots from ``data/places/pilots.toml``, keyed by pilot name."""
    return dict(_pilots(Path(reference_dir)))


def exact_pilot(spec: str, reference_dir: Path = REFERENCE_DIR) -> Place | None:
    """The pilot whose name or alias ``spec`` is (case and punctuation aside), or None.

    What `resolve_place` tries first for a name, and needs no districts table: the CLI's
    fast path finds a pilot's precomputed count by it without loading pandas.
    """
    return _exact_pilot(spec.strip(), pilots(reference_dir))


def resolve_place(spec: str, districts: pd.DataFrame, reference_dir: Path = REFERENCE_DIR) -> Place:
    """Turn what a user typed into a Place, checked against the 2019 ``districts`` table.

    Accepts a pilot name or alias (case-insensitive, unique prefixes too), a GSS code of a
    district, county (E10), region (E12) or England (E92000001), a comma-separated list of such
    codes, a district, county or region name or "England", or the path of a ``.toml``/``.yaml``
    place file. A district's, county's or region's own name means that area, even where a pilot's
    name starts with it (``explain_resolution`` says which pilot was not chosen).
    """
    missing = _NEEDED - set(districts.columns)
    if missing:
        raise ValueError(f"districts table lacks columns {sorted(missing)}")
    text = spec.strip()
    if not text:
        raise UnknownPlaceError(_unknown_message(spec, reference_dir))
    if text.lower().endswith(PLACE_FILE_SUFFIXES):
        return place_from_file(Path(text).expanduser(), districts)
    codes = [c.strip().upper() for c in text.split(",") if c.strip()]
    if codes and all(_GSS.match(c) for c in codes):
        return _place_from_codes(codes, districts, single=len(codes) == 1)
    found = _by_name(text, districts, pilots(reference_dir))
    if found is None:
        raise UnknownPlaceError(_unknown_message(spec, reference_dir))
    return _checked(found, districts)


def place_from_file(path: Path, districts: pd.DataFrame) -> Place:
    """A user place from a TOML or YAML file with ``name``, ``source`` and ``districts``.

    Optional keys: ``councils`` (derived from the districts when absent), ``theme``, ``note``.
    ``districts`` may also hold county (E10) or region (E12) codes, expanded to their districts.
    """
    if not path.is_file():
        raise UnknownPlaceError(f"place file not found: {path}")
    data = _load_mapping(path)
    for key in ("name", "source", "districts"):
        if key not in data:
            raise UnknownPlaceError(f"{path.name}: missing '{key}' (need name, source, districts)")
    raw = data["districts"]
    if not isinstance(raw, list) or not raw or not all(isinstance(c, str) for c in raw):
        raise UnknownPlaceError(f"{path.name}: 'districts' must be a non-empty list of GSS codes")
    try:
        base = _place_from_codes([c.strip().upper() for c in raw], districts, single=False)
    except UnknownPlaceError as exc:
        raise UnknownPlaceError(f"{path.name}: {exc}") from exc
    councils = data.get("councils")
    return Place(
        name=str(data["name"]),
        districts=base.districts,
        councils=_sorted(councils) if councils else base.councils,
        source=str(data["source"]),
        kind="user",
        theme=_opt(data.get("theme")),
        note=_opt(data.get("note")),
        region_code=base.region_code,
    )


def match_key(name: str) -> str:
    """Lower case, '&' as 'and', punctuation as spaces: how typed names are compared."""
    text = name.replace("&", " and ").lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


# --- pilots ------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _pilots(reference_dir: Path) -> tuple[tuple[str, Place], ...]:
    path = reference_dir / PILOTS_FILE
    if not path.is_file():
        raise UnknownPlaceError(f"pilot definitions not found: {path}")
    entries = _load_mapping(path).get("pilot", [])
    out: list[tuple[str, Place]] = []
    for i, entry in enumerate(entries, start=1):
        for key in ("name", "districts", "councils", "source"):
            if key not in entry:
                raise UnknownPlaceError(f"{path.name}: pilot #{i} lacks '{key}'")
        place = Place(
            name=entry["name"],
            districts=_sorted(entry["districts"]),
            councils=_sorted(entry["councils"]),
            source=entry["source"],
            kind="pilot",
            theme=entry.get("theme"),
            note=entry.get("note"),
            region_code=entry.get("region_code"),
            aliases=tuple(entry.get("aliases", ())),
        )
        out.append((place.name, place))
    return tuple(out)


def explain_resolution(spec: str, place: Place, reference_dir: Path = REFERENCE_DIR) -> str | None:
    """A sentence saying which place a typed name was resolved to when a pilot's name also
    starts with it (e.g. 'Dorset' is the district, not 'Dorset, Poole and Bournemouth'), or
    None when the name was not ambiguous."""
    if place.kind == "pilot":
        return None
    key = match_key(spec)
    others = sorted(
        p.name
        for p in pilots(reference_dir).values()
        if p.districts != place.districts
        and any(match_key(label).startswith(key) for label in (p.name, *p.aliases))
    )
    if not key or not others:
        return None
    names = " or ".join(f"'{n}'" for n in others)
    what = "England" if place.name == ENGLAND_NAME else f"{place.name} ({_codes_label(place)})"
    return f"{spec.strip()}: resolved to {what}; the pilot is {names} (type its name for it)"


def _codes_label(place: Place) -> str:
    n = len(place.districts)
    return place.districts[0] if n == 1 else f"{n} districts"


def _by_name(text: str, districts: pd.DataFrame, known: Mapping[str, Place]) -> Place | None:
    """Exact pilot name or alias, then England or an exact area name, then a unique pilot
    prefix. A pilot alias never takes an area's own name (pilots.toml's convention: a member
    district's name means that district), so the order of the first two cannot matter."""
    exact = _exact_pilot(text, known)
    if exact is not None:
        return exact
    key = match_key(text)
    if key == match_key(ENGLAND_NAME):
        return _place_from_codes([ENGLAND_CODE], districts, single=True)
    area = _area_by_name(key, districts)
    if area is not None:
        return area
    hits = {p for label, ps in _pilot_labels(known).items() if label.startswith(key) for p in ps}
    return known[_only(hits, text)] if hits else None


def _exact_pilot(text: str, known: Mapping[str, Place]) -> Place | None:
    hits = _pilot_labels(known).get(match_key(text))
    return known[_only(hits, text)] if hits else None


def _pilot_labels(known: Mapping[str, Place]) -> dict[str, set[str]]:
    """Every pilot's name and aliases as typed names are compared (`match_key`) -> pilots."""
    names: dict[str, set[str]] = {}
    for place in known.values():
        for label in (place.name, *place.aliases):
            names.setdefault(match_key(label), set()).add(place.name)
    return names


def alias_clashes(districts: pd.DataFrame, reference_dir: Path = REFERENCE_DIR) -> list[str]:
    """Pilot names or aliases that are also the own name of a district, county or region with
    other districts than the pilot (pilots.toml must have none: such a name means the area)."""
    out = []
    for place in pilots(reference_dir).values():
        for label in (place.name, *place.aliases):
            area = _area_by_name(match_key(label), districts)
            if area is not None and area.districts != place.districts:
                out.append(f"{place.name}: '{label}' is also {area.name}")
    return out


def _only(hits: set[str], text: str) -> str:
    if len(hits) > 1:
        raise UnknownPlaceError(
            f"'{text}' matches several pilots: {'; '.join(sorted(hits))}. Type more of the name."
        )
    return next(iter(hits))


# --- areas and codes ---------------------------------------------------------------------------


def _area_by_name(key: str, districts: pd.DataFrame) -> Place | None:
    """A district, upper tier or region whose name matches exactly, as an 'area' place."""
    candidates: set[str] = set()
    for code_col, name_col in (
        ("area_code", "area_name"),
        ("utla_code", "utla_name"),
        ("region_code", "region_name"),
    ):
        pairs = districts[[code_col, name_col]].drop_duplicates()
        names = zip(pairs[code_col], pairs[name_col], strict=True)
        candidates |= {c for c, n in names if match_key(n) == key}
    if not candidates:
        return None
    if len(candidates) > 1:
        raise UnknownPlaceError(
            f"'{key}' names several areas: {', '.join(sorted(candidates))}. Use a code instead."
        )
    return _place_from_codes([candidates.pop()], districts, single=True)


def _place_from_codes(codes: list[str], districts: pd.DataFrame, single: bool) -> Place:
    """Districts of each code (district itself, county's or region's districts) as one place."""
    labels: list[str] = []
    chosen: set[str] = set()
    for code in codes:
        rows, label = _expand(code, districts)
        chosen |= set(rows["area_code"])
        labels.append(label)
    rows = districts[districts["area_code"].isin(chosen)]
    if single:
        name, source, kind = labels[0], AREA_SOURCE, "area"
    else:
        name = " + ".join(labels) if len(labels) <= 4 else f"{labels[0]} + {len(labels) - 1} more"
        source, kind = f"user list of 2019 GSS codes: {','.join(codes)}", "user"
    return Place(
        name=name,
        districts=_sorted(chosen),
        councils=_councils(rows),
        source=source,
        kind=kind,
        region_code=_one_region(rows),
    )


def _expand(code: str, districts: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The 2019 district rows a code stands for, and the code's name."""
    if code == ENGLAND_CODE:
        return districts, ENGLAND_NAME
    for code_col, name_col in (
        ("area_code", "area_name"),
        ("county_code", "utla_name"),
        ("region_code", "region_name"),
    ):
        rows = districts[districts[code_col] == code]
        if not rows.empty:
            return rows, str(rows[name_col].iloc[0])
    raise UnknownPlaceError(_bad_code_message(code))


def _checked(place: Place, districts: pd.DataFrame) -> Place:
    """The place unchanged, once every district of it is in the 2019 table."""
    known = set(districts["area_code"])
    bad = [c for c in place.districts if c not in known]
    if bad:
        raise UnknownPlaceError(f"place '{place.name}': {_bad_code_message(bad[0])}")
    return place


def _bad_code_message(code: str) -> str:
    if code.startswith(_DISTRICT_PREFIXES):
        return (
            f"{code} is not an English district of April 2019: places use 2019 codes, so "
            "translate older or newer ones (see lookups/la_code_changes_2018_2025.csv)"
        )
    return (
        f"{code} is not a 2019 district (E06/E07/E08/E09), shire county (E10), region (E12) "
        f"or England ({ENGLAND_CODE}) code"
    )


def _councils(rows: pd.DataFrame) -> tuple[str, ...]:
    """Councils serving the rows: each district's own council plus any shire county above it."""
    counties = [c for c in rows["county_code"] if isinstance(c, str) and c]
    return _sorted([*rows["area_code"], *counties])


def _one_region(rows: pd.DataFrame) -> str | None:
    regions = set(rows["region_code"].dropna())
    return str(regions.pop()) if len(regions) == 1 else None


def _unknown_message(spec: str, reference_dir: Path) -> str:
    try:
        names = "; ".join(sorted(pilots(reference_dir)))
    except UnknownPlaceError:
        names = "(pilot definitions missing)"
    return (
        f"unknown place '{spec}'. Give a pilot ({names}); England, a region's, county's or "
        "district's name; a GSS code of a 2019 district, county (E10) or region (E12); a "
        "comma-separated list of such codes; or a .toml/.yaml place file with name, source "
        "and districts."
    )


# --- small helpers -----------------------------------------------------------------------------


def _load_mapping(path: Path) -> dict[str, Any]:
    """A TOML or YAML file's top-level table, or an error naming the file and the problem."""
    unreadable: tuple[type[Exception], ...] = (tomllib.TOMLDecodeError, UnicodeDecodeError)
    try:
        if path.suffix.lower() == ".toml":
            with path.open("rb") as fh:
                data: Any = tomllib.load(fh)
        else:
            import yaml  # for YAML files only: the pilots are TOML

            unreadable += (yaml.YAMLError,)
            with path.open(encoding="utf-8") as fh:
                data = yaml.safe_load(fh)
    except unreadable as exc:
        raise UnknownPlaceError(f"{path.name}: cannot read place file: {exc}") from exc
    if not isinstance(data, dict):
        raise UnknownPlaceError(f"{path.name}: expected a table of keys (name, source, districts)")
    return data


def _sorted(codes: Iterable[Any]) -> tuple[str, ...]:
    return tuple(sorted({str(c).strip().upper() for c in codes}))


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)
