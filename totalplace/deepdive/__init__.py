"""The deep dive: theme-specific spend for a place, by transparent weighted rules.

Themes are data (data/themes/<id>.toml, see ``rules``); ``engine`` applies a theme's rules to a
count's detail lines, so every theme figure can be taken apart into rules and ledger lines.
"""

from totalplace.deepdive.engine import (
    Overlap,
    RuleShare,
    ThemeBreakdown,
    allocate,
    breakdown,
    deep_dive,
    driver_populations,
)
from totalplace.deepdive.rules import (
    Matcher,
    Rule,
    Share,
    Theme,
    ThemeError,
    builtin_themes,
    load_theme,
    theme_from_dict,
    theme_ids,
)

__all__ = [
    "Matcher",
    "Overlap",
    "Rule",
    "RuleShare",
    "Share",
    "Theme",
    "ThemeBreakdown",
    "ThemeError",
    "allocate",
    "breakdown",
    "builtin_themes",
    "deep_dive",
    "driver_populations",
    "load_theme",
    "theme_from_dict",
    "theme_ids",
]
