"""Where and when a dataset is: ACDD coverage attributes from its coordinates.

``convert`` and ``append`` write these global attributes into every store they
make, from the coordinates they have just written, so that anyone who reads
the consolidated metadata (the catalog, a STAC crawler, ``ncdump -h`` of a
NetCDF written from the store) knows the extents without reading an array::

    geospatial_lat_min / _max    geospatial_lon_min / _max   (degrees)
    time_coverage_start / _end   ISO text in the data's own calendar
    geospatial_vertical_min / _max  (+ _units, _positive) when a depth axis exists

Longitudes may be in either convention (-180..180 or 0..360) and on 2-D
curvilinear grids (``nav_lon``/``nav_lat``); fill values, masked land points
and values out of range are left out.  The box is the smallest one on the
circle that holds every point, in -180..180: a grid across the dateline gets
``lon_min > lon_max`` (as ACDD, GeoJSON and STAC allow), a global grid
-180..180.  Times stay in their calendar: ``1990-02-30T00:00:00`` is a valid
day of a ``360_day`` calendar, as CF writes it.

This module works on plain ``name -> (dims, attrs)`` maps and a function
that reads one variable's values, so the converter (zarr arrays) and the
catalog (xarray, for stores made by other tools) share it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .timecoord import PREFERRED, time_units

__all__ = ["ACDD_KEYS", "Axes", "coverage_attrs", "find_axes", "lon_lat_bbox", "native_time"]

Variables = Mapping[str, tuple[tuple[str, ...], Mapping[str, Any]]]
BBox = tuple[float, float, float, float]

#: The global attributes :func:`coverage_attrs` may write.
ACDD_KEYS = (
    "geospatial_lat_min", "geospatial_lat_max", "geospatial_lon_min", "geospatial_lon_max",
    "geospatial_lat_units", "geospatial_lon_units", "time_coverage_start", "time_coverage_end",
    "geospatial_vertical_min", "geospatial_vertical_max", "geospatial_vertical_units",
    "geospatial_vertical_positive",
)  # fmt: skip

_GLOBAL_GAP = 3.0  # a largest gap under 3 typical grid steps means the grid goes all round
_LAT_NAMES = ("nav_lat", "lat", "latitude", "gphit")
_LON_NAMES = ("nav_lon", "lon", "longitude", "glamt")


@dataclass(frozen=True)
class Axes:
    """The coordinates that carry a dataset's extents (names; None when absent)."""

    time: str | None = None
    vertical: str | None = None
    lon: str | None = None
    lat: str | None = None


# --------------------------------------------------------------------------- which variables


def _is_geo(attrs: Mapping[str, Any], kind: str) -> bool:
    units = str(attrs.get("units", "")).lower()
    suffix = "north" if kind == "latitude" else "east"
    return attrs.get("standard_name") == kind or (
        units.startswith("degree") and units.endswith(suffix)
    )


def _geo(variables: Variables, kind: str, names: tuple[str, ...]) -> str | None:
    found = [n for n, (_, attrs) in variables.items() if _is_geo(attrs, kind)]
    found += [n for n in names if n in variables]
    found = [n for n in found if len(variables[n][0]) in (1, 2)]
    return found[0] if found else None


def _time(variables: Variables, preferred: str | None) -> str | None:
    bounds = {str(a["bounds"]) for _, a in variables.values() if "bounds" in a}
    timed = [
        n for n, (dims, attrs) in variables.items()
        if len(dims) == 1 and time_units(attrs) and n not in bounds
    ]  # fmt: skip
    if preferred in timed:
        return preferred

    def rank(name: str) -> tuple[int, int]:
        dims, attrs = variables[name]
        marked = name in PREFERRED or str(attrs.get("standard_name", "")).lower() == "time"
        order = PREFERRED.index(name) if name in PREFERRED else len(PREFERRED)
        return (0 if dims[0] == name else 1 if marked else 2), order

    return min(timed, key=rank) if timed else None


def _vertical(variables: Variables) -> str | None:
    for name, (dims, attrs) in variables.items():
        if dims == (name,) and (
            attrs.get("axis") == "Z"
            or "positive" in attrs
            or str(attrs.get("standard_name", "")).startswith("depth")
        ):
            return name
    return None


def find_axes(variables: Variables, time_variable: str | None = None) -> Axes:
    """The time, vertical, longitude and latitude coordinates, from metadata alone.

    Parameters
    ----------
    variables
        ``name -> (dims, attrs)`` of every variable.
    time_variable
        The time coordinate when known (the converter records it); else the
        1-D variable with CF time units that is a dimension coordinate, then
        one called ``time_centered``/``time`` or with ``standard_name = time``.
    """
    lon, lat = _geo(variables, "longitude", _LON_NAMES), _geo(variables, "latitude", _LAT_NAMES)
    if lon is None or lat is None:
        lon = lat = None
    return Axes(_time(variables, time_variable), _vertical(variables), lon, lat)


# --------------------------------------------------------------------------- values


def _valid(values: Any, attrs: Mapping[str, Any]) -> np.ndarray:
    """Values as float64, fill/missing values dropped, unpacked, flattened."""
    arr = np.asarray(values).ravel()
    if arr.dtype.kind not in "iuf":
        return np.zeros(0)
    arr = arr.astype("f8")
    for key in ("_FillValue", "missing_value"):
        for fill in np.atleast_1d(attrs.get(key, [])):
            try:
                arr = arr[arr != float(fill)]
            except (TypeError, ValueError):
                continue
    arr = arr * float(attrs.get("scale_factor", 1.0)) + float(attrs.get("add_offset", 0.0))
    return arr[np.isfinite(arr)]


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
    return float(wrapped[(largest + 1) % wrapped.size]), float(wrapped[largest])


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
    lons = np.asarray(lon, dtype="f8").ravel()
    lats = np.asarray(lat, dtype="f8").ravel()
    lons = lons[np.isfinite(lons) & (lons >= -360.0) & (lons <= 720.0)]
    lats = lats[np.isfinite(lats) & (lats >= -90.0) & (lats <= 90.0)]
    if lons.size == 0 or lats.size == 0:
        return None
    west, east = _lon_range(lons)
    return (round(west, 6), round(float(lats.min()), 6), round(east, 6),
            round(float(lats.max()), 6))  # fmt: skip


def native_time(value: Any) -> str:
    """ISO text of a decoded time in its own calendar (cftime or numpy datetime64)."""
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="s"))
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).split(".")[0]
    return str(value)


def _time_coverage(values: np.ndarray, attrs: Mapping[str, Any]) -> tuple[str, str] | None:
    import cftime

    units = time_units(attrs)
    if units is None or values.size == 0:
        return None
    calendar = str(attrs.get("calendar", "standard"))
    low, high = cftime.num2date(
        [values.min(), values.max()], units, calendar, only_use_cftime_datetimes=True
    )
    return native_time(low), native_time(high)


def coverage_attrs(
    variables: Variables,
    values_of: Callable[[str], Any],
    time_variable: str | None = None,
) -> dict[str, Any]:
    """The ACDD coverage attributes of a dataset (only those its coordinates give).

    Parameters
    ----------
    variables
        ``name -> (dims, attrs)`` of every variable (attributes as stored:
        times undecoded, ``_FillValue`` and packing attributes if any).
    values_of
        Reads the stored values of one variable; called for the four
        coordinates of :func:`find_axes` at most.
    time_variable
        The time coordinate, when known.

    Returns
    -------
    dict
        Some of :data:`ACDD_KEYS`, ready to merge into the global attributes.
    """
    axes = find_axes(variables, time_variable)
    out: dict[str, Any] = {}

    def valid(name: str) -> np.ndarray:
        return _valid(values_of(name), variables[name][1])

    if axes.lon and axes.lat:
        box = lon_lat_bbox(valid(axes.lon), valid(axes.lat))
        if box is not None:
            west, south, east, north = box
            out.update(geospatial_lat_min=south, geospatial_lat_max=north,
                       geospatial_lon_min=west, geospatial_lon_max=east,
                       geospatial_lat_units="degrees_north",
                       geospatial_lon_units="degrees_east")  # fmt: skip
    if axes.time:
        span = _time_coverage(valid(axes.time), variables[axes.time][1])
        if span:
            out["time_coverage_start"], out["time_coverage_end"] = span
    if axes.vertical:
        depths, attrs = valid(axes.vertical), variables[axes.vertical][1]
        if depths.size:
            out["geospatial_vertical_min"] = float(depths.min())
            out["geospatial_vertical_max"] = float(depths.max())
            for key in ("units", "positive"):
                if attrs.get(key):
                    out[f"geospatial_vertical_{key}"] = str(attrs[key])
    return out
