"""Selections before data moves: bbox on 1-D and curvilinear grids, time, variables."""

from __future__ import annotations

import cftime
import numpy as np
import pytest
import xarray as xr

from jasmin_access.errors import InvalidInput
from jasmin_access.reading.subset import (
    bbox_window,
    lon_in_box,
    record_dim,
    select_bbox,
    select_time,
    select_variables,
)


def _sheared_grid(convention: str = "-180") -> xr.Dataset:
    """9 x 12 curvilinear grid: lon = -165 + 30 i, lat = 10 j - 40 + i (sheared)."""
    j, i = np.meshgrid(np.arange(9), np.arange(12), indexing="ij")
    lon = -165.0 + 30.0 * i
    if convention == "360":
        lon = lon % 360.0
    lat = 10.0 * j - 40.0 + i
    field = (100 * j + i).astype("f4")
    return xr.Dataset(
        {"tos": (("y", "x"), field)},
        coords={"nav_lat": (("y", "x"), lat), "nav_lon": (("y", "x"), lon)},
    )


def _window(ds: xr.Dataset) -> tuple[list[int], list[int]]:
    """Rows and columns kept, read back from the field (100 j + i)."""
    values = ds.tos.values.astype(int)
    return sorted({int(v) // 100 for v in values.ravel()}), [int(v) % 100 for v in values[0]]


@pytest.mark.parametrize("convention", ["-180", "360"])
def test_curvilinear_box_known_window(convention: str) -> None:
    ds = _sheared_grid(convention)
    # lon half-spacing 15, lat half-spacing 5: cells i=2..4 reach into lon [-100, -50];
    # for those columns lat 10 j - 40 + i overlaps [0, 20] (+-5) for j = 4..6
    rows, cols = _window(select_bbox(ds, (-100, 0, -50, 20)))
    assert rows == [4, 5, 6]
    assert cols == [2, 3, 4]


def test_box_in_0_360_convention_on_a_minus180_grid() -> None:
    ds = _sheared_grid("-180")
    a = select_bbox(ds, (-100, 0, -50, 20))
    b = select_bbox(ds, (260, 0, 310, 20))  # the same box written 0..360
    xr.testing.assert_identical(a, b)


def test_box_crossing_the_dateline_wraps_the_x_window() -> None:
    ds = _sheared_grid("-180")
    # lon 170..-170 covers the cells at -165 (i=0) and 165 (i=11) only
    rows, cols = _window(select_bbox(ds, (170, -40, -170, 40)))
    assert cols == [11, 0]
    assert rows == list(range(0, 9))


def test_point_box_selects_the_single_cell_holding_it() -> None:
    ds = _sheared_grid()
    # the centre of cell (j=5, i=6): lon = 15, lat = 16
    rows, cols = _window(select_bbox(ds, (15, 16, 15, 16)))
    assert (rows, cols) == ([5], [6])


def test_bbox_loads_only_the_coordinates() -> None:
    ds = _sheared_grid().chunk()
    out = select_bbox(ds, (-100, 0, -50, 20))
    assert out.tos.chunks is not None  # still lazy
    assert out.tos.shape == (3, 3)


@pytest.mark.parametrize("descending", [False, True])
def test_one_dimensional_lat_lon_ascending_or_descending(descending: bool) -> None:
    lat = np.arange(-89.5, 90, 1.0)
    lat = lat[::-1] if descending else lat
    lon = np.arange(0.5, 360, 1.0)
    ds = xr.Dataset(
        {"sst": (("lat", "lon"), np.zeros((lat.size, lon.size), "f4"))},
        coords={"lat": lat, "lon": lon},
    )
    out = select_bbox(ds, (-10, 40, 10, 50))
    # centres 40.5..49.5 and 350.5..359.5 + 0.5..9.5 (box crosses 0 on a 0..360 axis)
    assert sorted(out.lat.values) == list(np.arange(40.5, 50, 1.0))
    assert list(out.lon.values) == [*np.arange(350.5, 360, 1.0), *np.arange(0.5, 10, 1.0)]


def test_lon_in_box_conventions() -> None:
    lon = np.array([-179.0, -10.0, 0.0, 10.0, 179.0, 190.0, 350.0])
    assert lon_in_box(lon, -20, 20).tolist() == [False, True, True, True, False, False, True]
    assert lon_in_box(lon, 170, -170).tolist() == [True, False, False, False, True, True, False]
    assert lon_in_box(lon, -180, 180).all()


def test_bbox_outside_the_grid_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="no grid cell"):
        bbox_window(np.zeros((2, 2)), np.zeros((2, 2)), (100, 50, 110, 60))
    with pytest.raises(InvalidInput, match="lat_min"):
        select_bbox(_sheared_grid(), (0, 50, 10, 40))
    with pytest.raises(InvalidInput, match="4 numbers"):
        select_bbox(_sheared_grid(), (0, 50, 10))


def _timed(calendar: str) -> xr.Dataset:
    times = [cftime.datetime(1976 + m // 12, m % 12 + 1, 15, calendar=calendar) for m in range(60)]
    return xr.Dataset(
        {"tos": (("time_counter",), np.arange(60.0))},
        coords={"time_counter": xr.CFTimeIndex(times)},
    )


@pytest.mark.parametrize("calendar", ["360_day", "noleap", "gregorian"])
def test_time_range_in_the_store_calendar(calendar: str) -> None:
    out = select_time(_timed(calendar), ("1977-03", "1978-02"))
    assert out.sizes["time_counter"] == 12
    assert out.tos.values[0] == 14.0
    assert out.time_counter.values[0].calendar == _timed(calendar).time_counter.values[0].calendar


def test_empty_time_range_names_the_coverage() -> None:
    with pytest.raises(InvalidInput, match="covers"):
        select_time(_timed("noleap"), ("1990-01", "1990-12"))
    with pytest.raises(InvalidInput, match="start, stop"):
        select_time(_timed("noleap"), "1977")


def test_variables_and_record_dim() -> None:
    ds = _timed("noleap").assign(zos=lambda d: d.tos * 2)
    assert list(select_variables(ds, "zos").data_vars) == ["zos"]
    with pytest.raises(InvalidInput, match="thetao"):
        select_variables(ds, ["thetao"])
    assert record_dim(ds) == "time_counter"
    with pytest.raises(InvalidInput, match="no time dimension"):
        record_dim(xr.Dataset({"a": (("x",), [1.0])}))


def test_dates_against_a_record_axis_without_dates_name_the_cause() -> None:
    plain = xr.Dataset({"a": (("time_counter",), [1.0, 2.0])}, {"time_counter": [0.0, 0.0]})
    with pytest.raises(InvalidInput, match="'time_counter' has no time units") as caught:
        select_time(plain, ("2015-01", "2015-02"))
    assert "not supported" not in str(caught.value)
    assert select_time(plain.isel(time_counter=[0]), (0.0, 0.0)).sizes["time_counter"] == 1
    raw = xr.Dataset(
        {"a": (("time",), [1.0, 2.0])},
        {"time": ("time", [0.0, 1.0], {"units": "days since 2015-01-01"})},
    )
    with pytest.raises(InvalidInput, match="times of 'time' were not decoded"):
        select_time(raw, ("2015-01", "2015-02"))
    decoded = xr.decode_cf(raw)
    assert select_time(decoded, ("2015-01-02", "2015-01-02")).sizes["time"] == 1
