"""Places: the 13 pilots, and resolving names, codes, lists and place files to 2019 districts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from totalplace.errors import UnknownPlaceError
from totalplace.geography import Place, districts_2019, pilots, resolve_place
from totalplace.geography.places import alias_clashes, explain_resolution, match_key

KENT_DISTRICTS = tuple(f"E07000{n}" for n in range(105, 117))


def _toy_districts() -> pd.DataFrame:
    """A few real 2019 districts, enough to resolve places without the mirror."""
    rows = [
        ("E07000105", "Ashford", "E10000016", "Kent", "E10000016", "E12000008", "South East"),
        ("E07000106", "Canterbury", "E10000016", "Kent", "E10000016", "E12000008", "South East"),
        ("E06000035", "Medway", "E06000035", "Medway", None, "E12000008", "South East"),
        ("E06000058", "Bournemouth, Christchurch and Poole", "E06000058",
         "Bournemouth, Christchurch and Poole", None, "E12000009", "South West"),
        ("E06000059", "Dorset", "E06000059", "Dorset", None, "E12000009", "South West"),
        ("E08000025", "Birmingham", "E08000025", "Birmingham", None, "E12000005",
         "West Midlands"),
    ]  # fmt: skip
    cols = ["area_code", "area_name", "utla_code", "utla_name", "county_code"]
    return pd.DataFrame(rows, columns=[*cols, "region_code", "region_name"])


# --- the pilot definitions (repo data, no mirror needed) ----------------------------------------


def test_thirteen_pilots_each_sourced_and_sorted() -> None:
    p = pilots()
    assert len(p) == 13
    for name, place in p.items():
        assert place.name == name and place.kind == "pilot"
        assert place.districts and place.districts == tuple(sorted(place.districts))
        assert place.councils == tuple(sorted(place.councils))
        assert set(place.districts) <= set(place.councils)
        assert "Leadership Centre" in place.source and "https://" in place.source
        assert "mySociety" in place.source
        assert place.region_code is not None and place.region_code.startswith("E12")
    assert sum(len(x.councils) for x in p.values()) == 60  # 67 in 2009 terms, Dorset merged


def test_counties_are_councils_not_districts() -> None:
    for place in pilots().values():
        assert not [c for c in place.districts if not c.startswith(("E06", "E07", "E08", "E09"))]
    kent = pilots()["Kent"]
    assert kent.districts == KENT_DISTRICTS
    assert "E10000016" in kent.councils and "E06000035" not in kent.districts  # Medway out


def test_dorset_pilot_is_bcp_plus_dorset_with_the_merger_noted() -> None:
    dorset = pilots()["Dorset, Poole and Bournemouth"]
    assert dorset.districts == ("E06000058", "E06000059")
    assert dorset.note is not None and "2019" in dorset.note and "Christchurch" in dorset.note
    assert dorset.theme == "Services for older people"


def test_inferred_memberships_are_noted() -> None:
    p = pilots()
    assert "E08000037" in p["South Tyneside, Gateshead and Sunderland"].districts  # Gateshead
    manchester = p["Manchester City Region"]
    assert "E06000007" in manchester.districts and "Warrington" in (manchester.note or "")
    for name in ["Kent", "Leicester and Leicestershire", "Worcestershire"]:
        assert "inferred" in (p[name].note or "")


def test_match_key_ignores_case_punctuation_and_ampersands() -> None:
    assert match_key("Dorset, Poole & Bournemouth") == "dorset poole and bournemouth"
    assert match_key("Manchester City-Region") == "manchester city region"


# --- resolving without the mirror ---------------------------------------------------------------


def test_pilot_names_are_case_insensitive() -> None:
    place = resolve_place("  BIRMINGHAM ", _toy_districts())
    assert place.name == "Birmingham" and place.districts == ("E08000025",)


def test_user_list_of_codes() -> None:
    place = resolve_place("E06000058, e06000059", _toy_districts())
    assert place.kind == "user"
    assert place.districts == ("E06000058", "E06000059")
    assert place.councils == ("E06000058", "E06000059")
    assert place.region_code == "E12000009"
    assert "E06000058" in place.source


def test_single_district_code_brings_its_county_council() -> None:
    place = resolve_place("E07000105", _toy_districts())
    assert place.kind == "area" and place.name == "Ashford"
    assert place.districts == ("E07000105",)
    assert place.councils == ("E07000105", "E10000016")


def test_unknown_district_code_is_named() -> None:
    with pytest.raises(UnknownPlaceError, match="E07000048"):
        resolve_place("E06000058,E07000048", _toy_districts())  # Christchurch, gone in 2019


def test_unknown_name_lists_the_pilots() -> None:
    with pytest.raises(UnknownPlaceError, match=r"unknown place 'Narnia'.*Kent.*Worcestershire"):
        resolve_place("Narnia", _toy_districts())
    with pytest.raises(UnknownPlaceError):
        resolve_place("   ", _toy_districts())


def test_ambiguous_prefix_names_the_candidates() -> None:
    with pytest.raises(UnknownPlaceError, match="several pilots"):
        resolve_place("L", _toy_districts())


def test_place_file_toml(tmp_path: Path) -> None:
    f = tmp_path / "wessex.toml"
    f.write_text(
        'name = "Wessex coast"\nsource = "our workshop, 2024"\n'
        'districts = ["E06000059", "E06000058"]\ntheme = "older people"\n',
        encoding="utf-8",
    )
    place = resolve_place(str(f), _toy_districts())
    assert place == Place(
        name="Wessex coast",
        districts=("E06000058", "E06000059"),
        councils=("E06000058", "E06000059"),
        source="our workshop, 2024",
        kind="user",
        theme="older people",
        region_code="E12000009",
    )


def test_place_file_yaml_may_use_a_county_code(tmp_path: Path) -> None:
    f = tmp_path / "kent_and_medway.yaml"
    f.write_text(
        "name: Kent and Medway\nsource: user\ndistricts:\n  - E10000016\n  - E06000035\n",
        encoding="utf-8",
    )
    place = resolve_place(str(f), _toy_districts())
    assert place.districts == ("E06000035", "E07000105", "E07000106")
    assert "E10000016" in place.councils


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('name = "x"\nsource = "y"\n', "missing 'districts'"),
        ('name = "x"\nsource = "y"\ndistricts = []\n', "non-empty list"),
        ('name = "x"\nsource = "y"\ndistricts = ["E09999999"]\n', "bad.toml: E09999999"),
        ("name = [unclosed\n", "cannot read place file"),
    ],
)
def test_bad_place_files_say_what_is_wrong(tmp_path: Path, content: str, problem: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(UnknownPlaceError, match=problem):
        resolve_place(str(f), _toy_districts())


def test_missing_place_file(tmp_path: Path) -> None:
    with pytest.raises(UnknownPlaceError, match="not found"):
        resolve_place(str(tmp_path / "nowhere.yml"), _toy_districts())


# --- resolving against the real 2019 districts ------------------------------------------------


def test_every_pilot_is_made_of_2019_districts_in_its_region(mirror: Path) -> None:
    d = districts_2019(mirror).set_index("area_code")
    for place in pilots().values():
        assert set(place.districts) <= set(d.index), place.name
        assert set(d.loc[list(place.districts), "region_code"]) == {place.region_code}
        counties = set(d.loc[list(place.districts), "county_code"].dropna())
        assert counties <= set(place.councils), f"{place.name}: county council missing"


def test_kent_resolves_to_its_twelve_districts(mirror: Path) -> None:
    d = districts_2019(mirror)
    kent = resolve_place("Kent", d)
    assert kent.districts == KENT_DISTRICTS
    assert "E10000016" in kent.councils
    assert "E06000035" not in kent.districts  # Medway is a unitary, not in the pilot
    assert resolve_place("E10000016", d).districts == KENT_DISTRICTS


@pytest.mark.parametrize(
    ("spec", "pilot"),
    [
        ("kent", "Kent"),
        ("Dorset, Poole", "Dorset, Poole and Bournemouth"),
        ("dorset, bournemouth & poole", "Dorset, Poole and Bournemouth"),
        ("Manchester City", "Manchester City Region"),
        ("Birmingham", "Birmingham"),
        ("coventry and warwickshire", "Coventry, Solihull and Warwickshire"),
        ("South of Tyne", "South Tyneside, Gateshead and Sunderland"),
        ("Leicester and", "Leicester and Leicestershire"),
        ("worc", "Worcestershire"),
    ],
)
def test_pilot_aliases_and_prefixes(mirror: Path, spec: str, pilot: str) -> None:
    assert resolve_place(spec, districts_2019(mirror)) == pilots()[pilot]


@pytest.mark.parametrize(
    ("spec", "code", "pilot"),
    [
        ("Dorset", "E06000059", "Dorset, Poole and Bournemouth"),
        ("dorset", "E06000059", "Dorset, Poole and Bournemouth"),
        ("Manchester", "E08000003", "Manchester City Region"),
        ("Coventry", "E08000026", "Coventry, Solihull and Warwickshire"),
        ("Leicester", "E06000016", "Leicester and Leicestershire"),
    ],
)
def test_a_member_districts_own_name_is_that_district_and_the_pilot_is_named(
    mirror: Path, spec: str, code: str, pilot: str
) -> None:
    place = resolve_place(spec, districts_2019(mirror))
    assert place.kind == "area" and place.districts == (code,)
    said = explain_resolution(spec, place)
    assert said is not None and f"({code})" in said and f"the pilot is '{pilot}'" in said


def test_unambiguous_names_need_no_explanation(mirror: Path) -> None:
    d = districts_2019(mirror)
    for spec in ("Kent", "Medway", "South East", "Dorset, Poole and Bournemouth"):
        assert explain_resolution(spec, resolve_place(spec, d)) is None


def test_no_pilot_alias_is_an_areas_own_name(mirror: Path) -> None:
    assert alias_clashes(districts_2019(mirror)) == []


def test_an_alias_that_names_an_area_is_reported(tmp_path: Path) -> None:
    (tmp_path / "places").mkdir()
    (tmp_path / "places" / "pilots.toml").write_text(
        '[[pilot]]\nname = "Dorset, Poole and Bournemouth"\naliases = ["Dorset"]\n'
        'districts = ["E06000058", "E06000059"]\ncouncils = ["E06000058", "E06000059"]\n'
        'source = "test"\n',
        encoding="utf-8",
    )
    clashes = alias_clashes(_toy_districts(), tmp_path)
    assert clashes == ["Dorset, Poole and Bournemouth: 'Dorset' is also Dorset"]


def test_england_is_every_district_by_name_or_code(mirror: Path) -> None:
    d = districts_2019(mirror)
    england = resolve_place("England", d)
    assert england.name == "England" and england.kind == "area"
    assert england.districts == tuple(sorted(d["area_code"])) and len(england.districts) == 317
    assert resolve_place("E92000001", d) == england
    assert resolve_place("england", d) == england


def test_a_region_by_name_is_its_districts(mirror: Path) -> None:
    d = districts_2019(mirror)
    south_east = resolve_place("South East", d)
    assert south_east.districts == tuple(
        sorted(d.loc[d["region_code"] == "E12000008", "area_code"])
    )
    assert south_east.region_code == "E12000008" and south_east.name == "South East"


def test_region_code_and_area_names(mirror: Path) -> None:
    d = districts_2019(mirror)
    north_east = resolve_place("E12000001", d)
    assert north_east.kind == "area" and len(north_east.districts) == 12
    assert resolve_place("Medway", d).districts == ("E06000035",)
    suffolk = resolve_place("Suffolk", d)
    assert len(suffolk.districts) == 5 and "E10000029" in suffolk.councils
