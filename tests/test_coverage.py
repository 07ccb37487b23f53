"""ACDD coverage attributes from coordinates: curvilinear grids, both longitude
conventions, fill values and land, calendars, and which variable is the time."""

from __future__ import annotations

from typing import Any

import cftime
import numpy as np
import pytest

from jasmin_access.coverage import coverage_attrs, find_axes


def _grid(lon0: float, lon1: float, lat0: float, lat1: float, ny: int = 12, nx: int = 16) -> Any:
    """A distorted 2-D grid (each row shifted), as curvilinear ocean grids are."""
    j, i = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    lon = lon0 + (lon1 - lon0) * i / (nx - 1) + 1.0 * j / (ny - 1)
    lat = lat0 + (lat1 - lat0) * j / (ny - 1) + 0.5 * np.sin(np.pi * i / (nx - 1))
    return lon.astype("f4"), lat.astype("f4")


def _attrs(values: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    reads: list[str] = []

    def values_of(name: str) -> Any:
        reads.append(name)
        return values[name]

    out = coverage_attrs(variables, values_of)
    out["_reads"] = sorted(reads)
    return out


GEO = {
    "nav_lon": (("y", "x"), {"standard_name": "longitude", "units": "degrees_east"}),
    "nav_lat": (("y", "x"), {"standard_name": "latitude", "units": "degrees_north"}),
}


def test_curvilinear_patch_across_the_dateline_in_0_360_with_land_filled() -> None:
    lon, lat = _grid(150.0, 210.0, -20.0, 20.0)
    lon[0, :3] = lat[0, :3] = 1e20  # land points of XIOS output
    lon[-1, -1] = lat[-1, -1] = np.nan
    got = _attrs({"nav_lon": lon, "nav_lat": lat}, GEO)
    valid = np.isfinite(lon) & (lon < 1e10)
    assert got["geospatial_lon_min"] == pytest.approx(float(lon[valid].min()), abs=1e-4)
    assert got["geospatial_lon_max"] == pytest.approx(float(lon[valid].max()) - 360, abs=1e-4)
    assert got["geospatial_lon_min"] > got["geospatial_lon_max"]  # across the dateline
    assert got["geospatial_lat_min"] == pytest.approx(float(lat[valid].min()), abs=1e-4)
    assert got["geospatial_lat_max"] == pytest.approx(float(lat[valid].max()), abs=1e-4)
    assert got["geospatial_lon_units"] == "degrees_east"
    assert "time_coverage_start" not in got and "geospatial_vertical_min" not in got


def test_same_patch_in_minus_180_180_gives_the_same_box() -> None:
    lon, lat = _grid(150.0, 210.0, -20.0, 20.0)
    east = _attrs({"nav_lon": lon, "nav_lat": lat}, GEO)
    west = _attrs({"nav_lon": np.where(lon > 180, lon - 360, lon), "nav_lat": lat}, GEO)
    for key in ("geospatial_lon_min", "geospatial_lon_max", "geospatial_lat_min"):
        assert east[key] == pytest.approx(west[key], abs=1e-4)


def test_fill_value_attribute_and_global_one_dimensional_axes() -> None:
    lon = np.arange(0.5, 360.0, 1.0)
    lat = np.concatenate([[-999.0], np.arange(-79.5, 90.0, 1.0)])
    variables = {
        "lon": (("lon",), {"units": "degrees_east"}),
        "lat": (("lat",), {"units": "degrees_north", "_FillValue": -999.0}),
    }
    got = _attrs({"lon": lon, "lat": lat}, variables)
    assert (got["geospatial_lon_min"], got["geospatial_lon_max"]) == (-180.0, 180.0)
    assert (got["geospatial_lat_min"], got["geospatial_lat_max"]) == (-79.5, 89.5)


def test_360_day_times_from_the_time_variable_not_the_xios_counter() -> None:
    """XIOS: ``time_counter`` without units, the real time in ``time_centered``."""
    units = "seconds since 1900-01-01 00:00:00"
    days = np.array([29.5, 59.5, 89.5]) * 86400 + cftime.date2num(
        cftime.Datetime360Day(1990, 1, 1), units, "360_day"
    )
    variables = {
        "time_counter": (("time_counter",), {"axis": "T", "standard_name": "time"}),
        "time_centered": (("time_counter",), {"units": units, "calendar": "360_day",
                                              "bounds": "time_centered_bounds"}),
        "time_centered_bounds": (("time_counter", "nb"), {"units": units}),
        "deptht": (("deptht",), {"units": "m", "positive": "down"}),
    }  # fmt: skip
    assert find_axes(variables).time == "time_centered"
    got = _attrs(
        {"time_counter": np.zeros(3), "time_centered": days[::-1],
         "deptht": np.array([0.5, 1.5, 1e20], dtype="f4")},
        {**variables, "deptht": (("deptht",), {"units": "m", "positive": "down",
                                               "missing_value": np.float32(1e20)})},
    )  # fmt: skip
    assert got["time_coverage_start"] == "1990-01-30T12:00:00"
    assert got["time_coverage_end"] == "1990-03-30T12:00:00"  # 30 March: a 360_day date
    assert (got["geospatial_vertical_min"], got["geospatial_vertical_max"]) == (0.5, 1.5)
    assert got["geospatial_vertical_positive"] == "down"
    assert got["_reads"] == ["deptht", "time_centered"]  # the counter and bounds are not read


def test_nothing_without_coordinates() -> None:
    variables = {"depth_profile": (("level",), {"units": "1"})}
    assert _attrs({}, variables) == {"_reads": []}
