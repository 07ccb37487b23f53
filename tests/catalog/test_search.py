"""Searches of a catalog built over converted stores and an indexed NetCDF set.

The datasets (see ``conftest.py``): a global grid (1976, gregorian), a curvilinear
North Atlantic patch (1990, 360_day, only ``tos``) and a curvilinear Pacific patch
across the dateline in 0..360 longitudes (2005, noleap, NetCDF + index).
"""

from __future__ import annotations

import pytest

import jasmin_access as ja
from jasmin_access.errors import InvalidInput, NotFound
from tests.catalog.conftest import CatalogEnv


def _found(env: CatalogEnv, **kw: object) -> set[str]:
    items = ja.catalog.search(env.catalog, profile=env.profile, **kw)
    names = {env.global_zarr: "global", env.natl_zarr: "natl", env.pac_index: "pac"}
    return {names[item.assets["data"].href] for item in items}


def test_every_dataset_is_catalogued(catalog_env: CatalogEnv) -> None:
    assert _found(catalog_env) == {"global", "natl", "pac"}


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        ("-30,40,-10,60", {"global", "natl"}),  # inside the curvilinear North Atlantic patch
        ("-75,0,-65,20", {"global"}),  # west and south of it: its bounding box is not the grid's
        ("11,70.5,11.5,71", {"global", "natl"}),  # the distorted north-east corner
        ("170,-10,-170,10", {"global", "pac"}),  # a box across the dateline
        ("190,-5,200,5", {"global", "pac"}),  # 0..360 longitudes in the query
        ("-165,-5,-160,5", {"global", "pac"}),  # the Pacific patch's part east of the dateline
        ("100,0,120,10", {"global"}),
        ("-10,-85,10,-80", set()),  # south of every grid
    ],
)
def test_bbox(catalog_env: CatalogEnv, bbox: str, expected: set[str]) -> None:
    assert _found(catalog_env, bbox=bbox) == expected


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("1990-02-30/1990-02-30", {"natl"}),  # a day only a 360_day calendar has
        ("1990-03-16/1990-12", {"natl"}),  # the last step, inclusive
        ("1990-03-17/1991", set()),  # just after it
        ("1976", {"global"}),
        ("2005-02", {"pac"}),
        ("../1990-01", {"global", "natl"}),
        ("1977/1989", set()),
        ("1977/2004", {"natl"}),
        (("1980", None), {"natl", "pac"}),
    ],
)
def test_time_in_each_calendar(catalog_env: CatalogEnv, time: object, expected: set[str]) -> None:
    assert _found(catalog_env, time=time) == expected


def test_variables_standard_names_and_text(catalog_env: CatalogEnv) -> None:
    assert _found(catalog_env, variables="thetao") == {"global", "pac"}
    assert _found(catalog_env, variables=["tos", "zos"]) == {"global", "pac"}
    sst = "sea_surface_temperature"
    assert _found(catalog_env, standard_names=sst) == {"global", "natl", "pac"}
    assert _found(catalog_env, standard_names="sea_water_salinity") == {"global", "pac"}
    assert _found(catalog_env, text="natl") == {"natl"}
    assert _found(catalog_env, text="360_DAY") == {"natl"}
    both = _found(catalog_env, bbox="-30,40,-10,60", time="1990-01/2000-12", variables="tos")
    assert both == {"natl"}


def test_found_items_open(catalog_env: CatalogEnv) -> None:
    items = ja.catalog.search(catalog_env.catalog, profile=catalog_env.profile, text="natl")
    ds = ja.open_dataset(items[0])  # the item carries the access it was found with
    assert "tos" in ds.data_vars and "thetao" not in ds.data_vars
    assert ds["time_counter"].values[1].calendar == "360_day"
    index = ja.catalog.search(catalog_env.catalog, profile=catalog_env.profile, text="pac")[0]
    pac = ja.open_dataset(index, variables="thetao", time=("2005-02", "2005-02"))
    assert pac["thetao"].shape == (1, 3, 20, 24)
    assert float(pac["nav_lon"].max()) > 180  # the 0..360 convention, as stored


def test_bad_queries_say_what_to_do(catalog_env: CatalogEnv) -> None:
    with pytest.raises(InvalidInput, match="W,S,E,N"):
        ja.catalog.search(catalog_env.catalog, profile=catalog_env.profile, bbox="1,2,3")
    with pytest.raises(InvalidInput, match="YYYY"):
        ja.catalog.search(catalog_env.catalog, profile=catalog_env.profile, time="May 1990")
    with pytest.raises(NotFound, match="catalog build"):
        ja.catalog.search(catalog_env.catalog + "-none", profile=catalog_env.profile)
