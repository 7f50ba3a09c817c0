"""Theme files: the built-in themes load, every rule says why, and broken files fail clearly."""

from __future__ import annotations

import copy
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from totalplace.count.drivers import builtin_drivers
from totalplace.deepdive.rules import (
    CONTROLS,
    MODES,
    LineText,
    Matcher,
    ThemeError,
    builtin_themes,
    load_theme,
    theme_from_dict,
    theme_ids,
)

REQUIRED = {
    "older_people",
    "children_early_years",
    "drugs_alcohol",
    "offenders_community_safety",
    "worklessness_benefits",
    "housing",
}


def minimal() -> dict[str, Any]:
    return {
        "id": "tiny",
        "name": "Tiny",
        "population": "population",
        "relevant": [{"function_code": ["10"]}],
        "rule": [
            {
                "id": "pensions",
                "label": "Pensions",
                "match": {"description": "PENSION"},
                "share": 1.0,
                "mode": "reactive",
                "control": "national",
                "service_type": "income",
                "source": "benefit rules",
            }
        ],
    }


def broken(**changes: Any) -> dict[str, Any]:
    data = minimal()
    rule = copy.deepcopy(data["rule"][0])
    for key, value in changes.items():
        if value is None:
            rule.pop(key, None)
        else:
            rule[key] = value
    data["rule"] = [rule]
    return data


# -- built-in themes --------------------------------------------------------------------------


def test_the_required_themes_are_built_in() -> None:
    assert set(theme_ids()) >= REQUIRED


@pytest.mark.parametrize("theme_id", sorted(REQUIRED))
def test_every_built_in_rule_is_honest(theme_id: str) -> None:
    theme = load_theme(theme_id)
    assert theme.id == theme_id
    assert theme.population in builtin_drivers()
    assert theme.sources, "a theme names its sources"
    assert theme.relevant, "a theme defines its relevant spend"
    for rule in theme.rules:
        assert bool(rule.source) != bool(rule.assumption), rule.id
        assert len(rule.evidence) > 30, f"{rule.id}: evidence should say why in words"
        assert rule.mode in MODES and rule.control in CONTROLS and rule.service_type
        if rule.share.fixed is not None:
            assert 0 < rule.share.fixed <= 1
        if rule.share.driver is not None:
            assert rule.share.driver in builtin_drivers()
            # a population-share fallback must say it is one
            assert "fallback" in rule.evidence.lower(), rule.id


def test_nhs_age_fallback_is_stated_where_used() -> None:
    rule = load_theme("older_people").rule("nhs")
    assert rule.share.driver == "age_65_plus"
    assert rule.assumption and "fallback" in rule.assumption.lower()


def test_builtin_themes_are_keyed_by_id() -> None:
    themes = builtin_themes()
    assert all(k == t.id for k, t in themes.items())


def test_a_theme_file_can_be_given_by_path(tmp_path: Path) -> None:
    src = Path(load_theme("housing").path or "")
    copy_path = tmp_path / "my_housing.toml"
    copy_path.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_theme(copy_path).id == "housing"
    assert load_theme(str(copy_path)).rules == load_theme("housing").rules


def test_unknown_theme_lists_the_built_in_ones() -> None:
    with pytest.raises(ThemeError, match="older_people"):
        load_theme("no_such_theme")


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad-theme.toml"
    bad.write_text("id = 'x\n", encoding="utf-8")
    with pytest.raises(ThemeError, match=r"bad-theme\.toml: not valid TOML"):
        load_theme(bad)


# -- validation ------------------------------------------------------------------------------


def test_a_minimal_theme_is_valid() -> None:
    theme = theme_from_dict(minimal(), "tiny.toml")
    assert theme.rules[0].share.fixed == Fraction(1)
    assert theme.rules[0].evidence == "source: benefit rules"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source": None}, "exactly one of 'source'"),
        ({"assumption": "a guess"}, "exactly one of 'source'"),
        ({"share": 1.5}, "at most 1"),
        ({"share": 0}, "above 0"),
        ({"share": True}, "must be a number"),
        ({"share_by": "age_65_plus"}, "exactly one of 'share'"),
        ({"share": None, "share_by": "age_200_plus"}, "driver from data/codes/drivers.csv"),
        ({"share": None, "share_ratio": {"numerator": {}}}, "numerator' and 'denominator"),
        ({"mode": "curative"}, "'mode' must be one of reactive, preventative"),
        ({"control": "regional"}, "'control' must be one of local, national"),
        ({"match": {}}, "at least one criterion"),
        ({"match": {"description": "("}}, "not a valid regular expression"),
        ({"match": {"colour": ["red"]}}, "unknown key"),
        ({"match": {"agency_type": [3]}}, "list of text values"),
        ({"service_type": ""}, "'service_type' is required"),
        ({"weight": 2}, "unknown key"),
        ({"id": "Has Spaces"}, "lower-case"),
    ],
)
def test_broken_rules_are_refused_naming_file_and_rule(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ThemeError, match=message) as info:
        theme_from_dict(broken(**changes), "tiny.toml")
    assert str(info.value).startswith("tiny.toml")


def test_theme_level_problems() -> None:
    data = minimal()
    data["population"] = "pensioners"
    with pytest.raises(ThemeError, match=r"tiny\.toml: 'population' must be a driver"):
        theme_from_dict(data, "tiny.toml")
    data = minimal()
    del data["relevant"]
    with pytest.raises(ThemeError, match=r"\[\[relevant\]\]' is required"):
        theme_from_dict(data, "tiny.toml")
    data = minimal()
    data["rule"] = [data["rule"][0], data["rule"][0]]
    with pytest.raises(ThemeError, match="used twice"):
        theme_from_dict(data, "tiny.toml")
    data = minimal()
    data["rule"] = []
    with pytest.raises(ThemeError, match="at least one"):
        theme_from_dict(data, "tiny.toml")


# -- matching --------------------------------------------------------------------------------


def lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "function_code": ["10", "10", "1", "10", "7"],
            "subfunction": ["10.1 Sickness", "10.2 Old age", "1.10 Other", None, None],
            "service_line": [None, None, None, "Social care", None],
            "agency_type": ["Councils", "Councils", "Councils", "councils", "NHS and health"],
            "agency": ["Local government", "Local government", "LG", "Dorset", "DH"],
            "description": ["x", "y", "z", None, "S0333001-NHS TRUSTS"],
            "amount_pence": [1, 2, 3, 4, 5],
        }
    )


def matcher(criteria: dict[str, Any]) -> Any:
    data = broken(match=criteria)
    return theme_from_dict(data, "m.toml").rules[0].match


def test_exact_criteria_ignore_case_and_lists_mean_any() -> None:
    m = matcher({"agency_type": ["COUNCILS"], "function_code": ["10", "7"]})
    assert m.mask(lines()).tolist() == [True, True, False, True, False]


def test_subfunction_prefix_stops_at_a_code_boundary() -> None:
    assert matcher({"subfunction": "1.1"}).mask(lines()).tolist() == [False] * 5
    assert matcher({"subfunction": ["10.2", "1.10"]}).mask(lines()).sum() == 2


def test_regex_is_case_insensitive_and_missing_text_never_matches() -> None:
    assert matcher({"description": "nhs trusts"}).mask(lines()).tolist()[-1] is True
    assert matcher({"service_line": ["social care"]}).mask(lines()).sum() == 1


def test_exclude_list_leaves_out_lines_matching_any_entry() -> None:
    m = matcher(
        {
            "agency_type": ["Councils"],
            "exclude": [{"subfunction": ["10.1"]}, {"service_line": ["Social care"]}],
        }
    )
    assert m.mask(lines()).tolist() == [False, True, True, False, False]
    assert "except (subfunction starts [10.1]) or (service_line in [Social care])" in (m.describe())


def test_a_missing_column_matches_nothing() -> None:
    m = matcher({"source_id": ["cra_2010"]})
    assert not m.mask(lines()).any()


# -- fast matching: the same answer as evaluating every criterion on every row ----------------


def per_row_mask(m: Matcher, frame: pd.DataFrame) -> pd.Series:
    """The straightforward evaluation, as matching was first written: each criterion turns the
    whole column into text and tests every row (no distinct values, nothing kept)."""

    def text(column: str) -> pd.Series:
        if column not in frame.columns:
            return pd.Series("", index=frame.index, dtype=str)
        return frame[column].astype(object).where(frame[column].notna(), "").astype(str)

    ok = pd.Series(True, index=frame.index)
    for key, values in m.exact:
        ok &= text(key).str.casefold().isin({v.casefold() for v in values})
    if m.prefixes:
        pattern = "|".join(rf"^{re.escape(p)}(?![0-9A-Za-z])" for p in m.prefixes)
        ok &= text("subfunction").str.contains(pattern, case=False, regex=True)
    for key, pattern in m.regex:
        ok &= text(key).str.contains(pattern, case=False, regex=True)
    for ex in m.exclude:
        ok &= ~per_row_mask(ex, frame)
    return ok.astype(bool)


def repetitive_lines(string_dtype: bool = False) -> pd.DataFrame:
    """Count-like lines: each source line repeated per district, with the awkward values the
    fast path must read as the per-row one does (missing values, numbers that are not text,
    case, casefolding, a prefix that runs on into a longer code)."""
    base = pd.DataFrame(
        {
            "function_code": ["10", 10, 10.0, "7", None, "10", "7", float("nan")],
            "subfunction": [
                "10.2 Old age",
                "10.20 Not old age",
                None,
                "7.1 Medical",
                "10.2",
                "10.4 Family",
                "7.1 Medical",
                "10.2 Old age",
            ],
            "service_line": [None, None, "Social care", None, "SOCIAL CARE", None, None, None],
            "agency_type": ["Councils", "councils", "COUNCILS", "NHS", None, "Councils", "NHS", ""],
            "agency": ["Straße Trust", "STRASSE TRUST", "LG", "DH", None, "LG", "DH", "LG"],
            "description": [
                "S1-STATE PENSION",
                "state pension credit",
                None,
                "NHS TRUSTS",
                "CHRISTMAS BONUS",
                "x",
                float("nan"),
                "S1-STATE PENSION",
            ],
            "amount_pence": [100, -7, 33, 1_000_001, 5, 12, 999, 42],
        }
    )
    out = pd.concat([base.assign(area_code=f"E0{i}") for i in range(3)], ignore_index=True)
    out = out.sample(frac=1.0, random_state=7).reset_index(drop=True)
    if string_dtype:
        for c in ("subfunction", "agency_type", "agency", "description"):
            out[c] = out[c].astype("string")
    return out


MATCH_CASES: list[dict[str, Any]] = [
    {"agency_type": ["councils"]},
    {"function_code": ["10"]},
    {"function_code": ["10.0", "7"]},
    {"subfunction": ["10.2"]},
    {"subfunction": ["10.2", "7"]},
    {"service_line": ["Social care"]},
    {"agency": "strasse"},
    {"agency": "Straße"},
    {"description": "STATE PENSION|CHRISTMAS"},
    {"description": "^S1-(?!X)"},
    {"description": "pension", "exclude": {"description": "CREDIT"}},
    {
        "agency_type": ["Councils"],
        "exclude": [{"subfunction": ["10.4"]}, {"service_line": ["social care"]}],
    },
    {"source_id": ["cra_2010"]},
]


@pytest.mark.parametrize("string_dtype", [False, True])
@pytest.mark.parametrize("criteria", MATCH_CASES)
def test_fast_matching_equals_the_per_row_evaluation(
    criteria: dict[str, Any], string_dtype: bool
) -> None:
    frame = repetitive_lines(string_dtype)
    m = matcher(criteria)
    expected = per_row_mask(m, frame)
    assert m.mask(frame).tolist() == expected.tolist()
    shared = LineText(frame)  # one text for many matchers, as a deep dive uses it
    for other in MATCH_CASES:
        matcher(other).mask(shared)
    assert m.mask(shared).tolist() == expected.tolist()


TEXTS = st.sampled_from(
    ["Councils", "councils", "NHS", "", "10.2 Old age", "10.20 x", "10.2", "STATE PENSION",
     "state pension credit", "Straße", "STRASSE", None, float("nan"), 10, 10.0]
)  # fmt: skip
CRITERIA = st.sampled_from(MATCH_CASES)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(TEXTS, TEXTS, TEXTS, TEXTS), min_size=0, max_size=30),
    criteria=CRITERIA,
)
def test_fast_matching_equals_the_per_row_evaluation_on_any_lines(
    rows: list[tuple[Any, Any, Any, Any]], criteria: dict[str, Any]
) -> None:
    frame = pd.DataFrame(
        rows, columns=["agency_type", "subfunction", "description", "function_code"], dtype=object
    )
    m = matcher(criteria)
    assert m.mask(frame).tolist() == per_row_mask(m, frame).tolist()
