"""The deep dive: theme-specific spend for a place, by transparent weighted rules.

Themes are data (data/themes/<id>.toml, see ``rules``); ``engine`` applies a theme's rules to a
count's detail lines, so every theme figure can be taken apart into rules and ledger lines.
"""

from importlib import import_module
from typing import Any

#: Where each public name lives; loaded on first use, so that `totalplace --help` (which
#: mounts the deepdive commands) does not load pandas and the engine.
_HOME = {
    **dict.fromkeys(
        (
            "Overlap",
            "RuleShare",
            "ThemeBreakdown",
            "allocate",
            "breakdown",
            "deep_dive",
            "driver_populations",
        ),
        "totalplace.deepdive.engine",
    ),
    **dict.fromkeys(
        (
            "Matcher",
            "Rule",
            "Share",
            "Theme",
            "ThemeError",
            "builtin_themes",
            "load_theme",
            "theme_from_dict",
            "theme_ids",
        ),
        "totalplace.deepdive.rules",
    ),
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOME[name]), name)


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
