"""Geography: 2019 districts and regions, code crosswalks, boundaries and place definitions.

Pure readers of the data mirror (the folder is passed in) returning pandas/geopandas frames.
"""

from totalplace.geography.areas import districts_2019, regions, upper_tiers_2019
from totalplace.geography.boundaries import (
    district_boundaries,
    district_geojson,
    to_geojson,
    upper_tier_boundaries,
)
from totalplace.geography.crosswalk import (
    council_register,
    ecode_to_gss,
    name_to_gss,
    snac_to_gss,
)
from totalplace.geography.places import Place, pilots, place_from_file, resolve_place

__all__ = [
    "Place",
    "council_register",
    "district_boundaries",
    "district_geojson",
    "districts_2019",
    "ecode_to_gss",
    "name_to_gss",
    "pilots",
    "place_from_file",
    "regions",
    "resolve_place",
    "snac_to_gss",
    "to_geojson",
    "upper_tier_boundaries",
    "upper_tiers_2019",
]
