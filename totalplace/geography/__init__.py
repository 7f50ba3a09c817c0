"""Geography: 2019 districts and regions, code crosswalks, boundaries and place definitions.

Pure readers of the data mirror (the folder is passed in) returning pandas/geopandas frames.
Names are imported on first use (PEP 562), so resolving a place for a count does not load
geopandas and shapely, which only the boundaries need.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "districts_2019": "areas",
    "regions": "areas",
    "upper_tiers_2019": "areas",
    "district_boundaries": "boundaries",
    "district_geojson": "boundaries",
    "to_geojson": "boundaries",
    "upper_tier_boundaries": "boundaries",
    "council_register": "crosswalk",
    "ecode_to_gss": "crosswalk",
    "name_to_gss": "crosswalk",
    "snac_to_gss": "crosswalk",
    "Place": "places",
    "pilots": "places",
    "place_from_file": "places",
    "resolve_place": "places",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
