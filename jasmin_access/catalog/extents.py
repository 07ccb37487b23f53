"""Spatial and temporal extents from coordinate values.

Longitudes may be in either convention (-180..180 or 0..360) and on 2-D
curvilinear grids; the box returned is the smallest one on the circle that
holds them all, so a regional grid across the dateline gets ``west > east``
(as GeoJSON and STAC allow) and a global grid gets -180..180.

Times stay in the data's own calendar (``"1990-02-30T00:00:00"`` in a 360_day
calendar) for the datacube extent and for search; STAC's ``datetime`` fields
need real dates, so those get the nearest valid proleptic Gregorian date.
"""

from __future__ import annotations

import calendar as pycalendar
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np

__all__ = ["lon_lat_bbox", "native_time", "stac_datetime", "time_bounds"]

BBox = tuple[float, float, float, float]
_GLOBAL_GAP = 3.0  # a largest gap under 3 typical grid steps means the grid goes all round


def _finite(values: Any, low: float, high: float) -> np.ndarray:
    arr = np.asarray(values, dtype="f8").ravel()
    return arr[np.isfinite(arr) & (arr >= low) & (arr <= high)]


def _lon_range(lon: np.ndarray) -> tuple[float, float]:
    """Smallest arc holding every longitude: the complement of the largest gap."""
    wrapped = np.unique(np.round(((lon + 180.0) % 360.0) - 180.0, 6))
    if wrapped.size == 1:
        return float(wrapped[0]), float(wrapped[0])
    gaps = np.diff(np.concatenate([wrapped, [wrapped[0] + 360.0]]))
    largest = int(np.argmax(gaps))
    typical = float(np.median(gaps))
    if gaps[largest] <= _GLOBAL_GAP * max(typical, 1e-9) or gaps[largest] < 1e-6:
        return -180.0, 180.0
    west = float(wrapped[(largest + 1) % wrapped.size])
    east = float(wrapped[largest])
    return west, east


def lon_lat_bbox(lon: Any, lat: Any) -> BBox | None:
    """``(west, south, east, north)`` of 1-D or 2-D coordinates, fill values ignored.

    Parameters
    ----------
    lon, lat
        Longitudes (any convention) and latitudes in degrees; arrays of any
        shape (1-D axes or 2-D curvilinear ``nav_lon``/``nav_lat``).

    Returns
    -------
    tuple or None
        None when no valid coordinate is found.
    """
    lons = _finite(lon, -360.0, 720.0)
    lats = _finite(lat, -90.0, 90.0)
    if lons.size == 0 or lats.size == 0:
        return None
    west, east = _lon_range(lons)
    south, north = float(lats.min()), float(lats.max())
    return (round(west, 6), round(south, 6), round(east, 6), round(north, 6))


def native_time(value: Any) -> str:
    """ISO text of a decoded time in its own calendar (cftime or numpy datetime64)."""
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="s"))
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).split(".")[0]
    return str(value)


def time_bounds(values: Any) -> tuple[str, str] | None:
    """First and last time as native-calendar ISO text (None without values)."""
    arr = np.asarray(values).ravel()
    if arr.size == 0:
        return None
    return native_time(arr[0]), native_time(arr[-1])


_ISO = re.compile(r"^(-?\d{1,4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")


def stac_datetime(text: str | None) -> datetime | None:
    """A real UTC datetime for STAC from native-calendar ISO text.

    Days that do not exist in the Gregorian calendar (30 February in a
    360_day calendar) become the last day of that month.
    """
    match = _ISO.match(text or "")
    if not match:
        return None
    year, month, day = (int(match.group(i)) for i in (1, 2, 3))
    year = min(max(year, 1), 9999)
    day = min(day, pycalendar.monthrange(year, month)[1])
    hour, minute, second = (int(match.group(i) or 0) for i in (4, 5, 6))
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
