"""Extents from coordinate values: longitude conventions, the dateline, model calendars."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from jasmin_access.catalog.extents import lon_lat_bbox, stac_datetime


@pytest.mark.parametrize(
    ("lons", "expected"),
    [
        (np.arange(-179.5, 180, 1.0), (-180.0, 180.0)),  # global, -180..180
        (np.arange(0.5, 360, 1.0), (-180.0, 180.0)),  # global, 0..360
        (np.arange(-60, 10.5, 0.5), (-60.0, 10.0)),  # regional
        (np.arange(300, 370.5, 0.5), (-60.0, 10.0)),  # the same region in 0..360
        (np.arange(150, 210.5, 0.5), (150.0, -150.0)),  # across the dateline: west > east
        (np.arange(-210, -149.5, 0.5), (150.0, -150.0)),  # the same, written below -180
    ],
)
def test_longitude_conventions(lons: np.ndarray, expected: tuple[float, float]) -> None:
    lat = np.linspace(-10, 10, lons.size)
    west, south, east, north = lon_lat_bbox(lons, lat)  # type: ignore[misc]
    assert (west, east) == expected
    assert (south, north) == (-10.0, 10.0)


def test_curvilinear_fill_values_ignored() -> None:
    j, i = np.meshgrid(np.arange(20), np.arange(30), indexing="ij")
    lon = (-40 + i * 1.0 + 0.1 * j).astype("f4")
    lat = (50 + j * 0.5 + 0.2 * np.sin(i)).astype("f4")
    lon[0, 0] = lat[0, 0] = 1e20  # NEMO's land fill value
    lon[3, 4] = lat[3, 4] = np.nan
    west, south, east, north = lon_lat_bbox(lon, lat)  # type: ignore[misc]
    assert west == pytest.approx(-39.9, abs=1e-4) and east == pytest.approx(-9.1, abs=1e-4)
    assert south == pytest.approx(float(np.nanmin(np.where(lat > 90, np.nan, lat))), abs=1e-5)
    assert north == pytest.approx(float(lat[lat < 90].max()), abs=1e-5)
    assert lon_lat_bbox(np.full(4, 1e20), np.full(4, 1e20)) is None


def test_model_days_become_real_dates() -> None:
    assert stac_datetime("1990-02-30T00:00:00") == datetime(1990, 2, 28, tzinfo=UTC)
    assert stac_datetime("1992-02-30T12:00:00") == datetime(1992, 2, 29, 12, tzinfo=UTC)
    assert stac_datetime("2005-03-16T12:00:00") == datetime(2005, 3, 16, 12, tzinfo=UTC)
    assert stac_datetime(None) is None and stac_datetime("later") is None
