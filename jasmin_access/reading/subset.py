"""Selections applied before any data moves: variables, time range, lon/lat box.

All selections are lazy index operations; only the coordinate arrays needed to
place them (the time axis, ``nav_lat``/``nav_lon``) are read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import InvalidInput
from ..timecoord import PREFERRED

__all__ = [
    "bbox_window",
    "find_lat_lon",
    "join_records",
    "lon_in_box",
    "record_dim",
    "select_bbox",
    "select_time",
    "select_variables",
    "time_coordinate",
    "time_index",
]

log = logging.getLogger(__name__)

_LAT_NAMES = ("nav_lat", "lat", "latitude", "nav_lat_grid_T", "gphit", "y_lat")
_LON_NAMES = ("nav_lon", "lon", "longitude", "nav_lon_grid_T", "glamt", "x_lon")


def record_dim(ds: xr.Dataset) -> str:
    """The record (time) dimension: ``time_counter``, ``time`` or a decoded time axis."""
    unlimited = ds.encoding.get("unlimited_dims") or ()
    for name in ("time_counter", "time", *unlimited):
        if name in ds.dims:
            return str(name)
    for coord in ds.coords.values():
        if coord.ndim == 1 and _is_time(coord):
            return str(coord.dims[0])
    raise InvalidInput(
        "the dataset has no time dimension", "name the dimension to use, e.g. dim='t'"
    )


def join_records(parts: list[xr.Dataset], dim: str | None = None) -> xr.Dataset:
    """Join datasets along the record dimension (the first's), sorted by it.

    Parameters
    ----------
    parts
        Datasets sharing everything but the record dimension.
    dim
        Record dimension; found with :func:`record_dim` when not given.
    """
    if len(parts) == 1:
        return parts[0]
    dim = dim or record_dim(parts[0])
    combined = xr.combine_nested(
        parts,
        concat_dim=dim,
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="override",
        combine_attrs="override",
    )
    name = time_coordinate(combined, dim)
    if name is not None and not time_index(combined, name).is_monotonic_increasing:
        combined = combined.sortby(name)
    return combined


def _is_datetime(var: xr.DataArray) -> bool:
    if np.issubdtype(var.dtype, np.datetime64):
        return True
    if var.dtype != object or var.size == 0:
        return False
    import cftime

    return isinstance(var.values.flat[0], cftime.datetime)


def time_coordinate(ds: xr.Dataset, dim: str | None = None) -> str | None:
    """The decoded time coordinate along the record dimension, or None.

    The one the converter recorded (``jasmin_access.time_variable``), else
    the record coordinate, else ``time_centered`` or any 1-D variable with
    ``standard_name = time``/``axis = T`` along it, whichever holds dates.
    A dimension whose values are not dates (``y`` of a projection, a
    ``time_counter`` without units) is never taken for a time.
    """
    try:
        dim = dim or record_dim(ds)
    except InvalidInput:
        return None
    prov = ds.attrs.get("jasmin_access")
    named = prov.get("time_variable") if isinstance(prov, dict) else None
    marked = [str(n) for n, v in ds.variables.items() if _is_time(v) or str(n) in PREFERRED]
    for name in [named, dim, *PREFERRED, *marked]:
        if name and name in ds.variables and ds[name].dims == (dim,) and _is_datetime(ds[name]):
            return str(name)
    return None


def time_index(ds: xr.Dataset, name: str) -> Any:
    """A pandas (or cftime) index of the values of the time coordinate ``name``."""
    if name in ds.indexes:
        return ds.indexes[name]
    values = ds[name].values
    if np.issubdtype(values.dtype, np.datetime64):
        import pandas as pd

        return pd.DatetimeIndex(values)
    return xr.CFTimeIndex(values)


def _is_time(var: xr.DataArray) -> bool:
    if np.issubdtype(var.dtype, np.datetime64):
        return True
    return var.attrs.get("axis") == "T" or var.attrs.get("standard_name") == "time"


def select_variables(ds: xr.Dataset, variables: Sequence[str] | str | None) -> xr.Dataset:
    """Keep ``variables`` (and the coordinates they need)."""
    if variables is None:
        return ds
    names = [variables] if isinstance(variables, str) else list(variables)
    missing = [v for v in names if v not in ds.variables]
    if missing:
        known = ", ".join(sorted(map(str, ds.data_vars)))
        raise InvalidInput(
            f"variable(s) not in the dataset: {', '.join(missing)}", f"available: {known}"
        )
    return ds[names]


_DATE = re.compile(
    r"^\s*(-?\d{1,4})(?:-(\d{1,2})(?:-(\d{1,2})"
    r"(?:[T ](\d{1,2})(?::(\d{1,2})(?::(\d{1,2}))?)?)?)?)?\s*$"
)


def _date_bound(value: Any, index: Any, end: bool) -> tuple[Any, bool]:
    """A comparable bound for ``index`` and whether it is exclusive.

    A partial date string stands for its whole period: as an end bound
    ``"1980-12"`` means "before 1981-01-01".
    """
    if not isinstance(value, str):
        return value, False
    m = _DATE.match(value)
    if not m:
        raise InvalidInput(
            f"cannot read the date '{value}'", "write dates as YYYY, YYYY-MM or YYYY-MM-DD[THH:MM]"
        )
    given = [int(g) for g in m.groups() if g is not None]
    parts = given + [1, 1, 0, 0, 0][len(given) - 1 :]
    if end:  # the first instant after the period named
        if len(given) == 1:
            parts[0] += 1
        elif len(given) == 2:
            parts[0], parts[1] = (parts[0] + 1, 1) if parts[1] == 12 else (parts[0], parts[1] + 1)
    calendar = getattr(index, "calendar", None)
    if calendar is not None:
        import cftime

        stamp = cftime.datetime(*parts[:3], *parts[3:6], calendar=calendar)
        if end and len(given) >= 3:
            stamp += _unit_step(len(given))
    else:
        import pandas as pd

        stamp = pd.Timestamp(*parts[:3], *parts[3:6])
        if end and len(given) >= 3:
            stamp += _unit_step(len(given))
    return stamp, end


def _unit_step(n_given: int) -> Any:
    from datetime import timedelta

    return {3: timedelta(days=1), 4: timedelta(hours=1), 5: timedelta(minutes=1)}.get(
        n_given, timedelta(seconds=1)
    )


def select_time(ds: xr.Dataset, time: Any) -> xr.Dataset:
    """Select a time range ``(start, stop)`` in the dataset's own calendar.

    Strings such as ``"1976-01"`` are partial dates: ``("1976-01", "1980-12")``
    keeps January 1976 to the end of December 1980, inclusive, whatever the
    calendar (``360_day``, ``noleap``, ``gregorian`` ...).
    """
    if time is None:
        return ds
    if isinstance(time, slice):
        start, stop = time.start, time.stop
    elif isinstance(time, (tuple, list)) and len(time) == 2:
        start, stop = time
    else:
        raise InvalidInput(
            f"time must be (start, stop), got {time!r}", 'e.g. time=("1976-01", "1980-12")'
        )
    dim = record_dim(ds)
    name = time_coordinate(ds, dim)
    if name is None and (isinstance(start, str) or isinstance(stop, str)):
        raise _no_dates(ds, dim)
    if name is None and dim not in ds.indexes:
        raise InvalidInput(f"time axis '{dim}' has no coordinate values to select on")
    index = time_index(ds, name or dim)
    keep = np.ones(len(index), dtype=bool)
    try:
        if start is not None:
            keep &= np.asarray(index >= _date_bound(start, index, end=False)[0])
        if stop is not None:
            bound, exclusive = _date_bound(stop, index, end=True)
            keep &= np.asarray(index < bound if exclusive else index <= bound)
    except TypeError as exc:
        raise InvalidInput(
            f"cannot compare {start!r}..{stop!r} with the '{dim}' axis: {exc}",
            "give dates as strings like '1976-01' or '1976-01-15'",
        ) from None
    if not keep.any():
        raise InvalidInput(
            f"no time steps between {start} and {stop}",
            f"the dataset covers {index[0]} to {index[-1]}",
        )
    positions = np.flatnonzero(keep)
    contiguous = positions[-1] - positions[0] + 1 == len(positions)
    sel = slice(int(positions[0]), int(positions[-1]) + 1) if contiguous else positions
    return ds.isel({dim: sel})


def _no_dates(ds: xr.Dataset, dim: str) -> InvalidInput:
    """Why dates cannot be compared with the record dimension, and the way out."""
    encoded = ds[dim].attrs.get("units", "") if dim in ds.variables else ""
    if " since " in str(encoded):
        return InvalidInput(
            f"cannot select dates: the times of '{dim}' were not decoded",
            "open without decode_times=False",
        )
    return InvalidInput(
        f"cannot select dates: the record coordinate '{dim}' has no time units "
        "and no time coordinate varies along it",
        f"select by position with .isel({dim}=slice(i, j)), give numbers in its own "
        "values, or re-convert with --time-variable NAME",
    )


def find_lat_lon(ds: xr.Dataset) -> tuple[str, str]:
    """Names of the latitude and longitude variables (1-D or 2-D)."""

    def pick(names: tuple[str, ...], standard: str, units: str) -> str | None:
        for name in names:
            if name in ds.variables:
                return name
        for name, var in ds.variables.items():
            if var.attrs.get("standard_name") == standard or var.attrs.get("units") == units:
                return str(name)
        return None

    lat = pick(_LAT_NAMES, "latitude", "degrees_north")
    lon = pick(_LON_NAMES, "longitude", "degrees_east")
    if lat is None or lon is None:
        raise InvalidInput(
            "bbox needs latitude/longitude coordinates and none were found",
            "open without bbox and select with .isel on the grid dimensions",
        )
    return lat, lon


def lon_in_box(
    lon: np.ndarray,
    lon_min: float,
    lon_max: float,
    widen: np.ndarray | float = 0.0,
    strict: bool = False,
) -> np.ndarray:
    """Longitudes inside ``[lon_min - widen, lon_max + widen]``, in any convention.

    Longitudes may run -180..180 or 0..360; a box with ``lon_min > lon_max``
    (e.g. ``(170, -170)``) crosses the dateline.  ``strict`` excludes the edges.
    """
    lon = np.asarray(lon, dtype="f8")
    if lon_max - lon_min >= 360.0:
        return np.ones(lon.shape, dtype=bool)
    span = (lon_max - lon_min) % 360.0 + 2.0 * np.asarray(widen)
    offset = (lon - lon_min + widen) % 360.0
    inside = ((offset > 0) & (offset < span)) if strict else (offset <= span)
    return np.asarray(inside | (span >= 360.0))


def _half_spacing(values: np.ndarray, periodic: bool = False) -> np.ndarray:
    """Half the largest step to a neighbour, per point (the cell's half-width)."""
    v = np.asarray(values, dtype="f8")
    half = np.zeros_like(v)
    for axis in range(v.ndim):
        if v.shape[axis] < 2:
            continue
        step = np.abs(np.diff(v, axis=axis))
        if periodic:
            step = np.minimum(step, 360.0 - step)
        pad_lo = [(0, 0)] * v.ndim
        pad_hi = [(0, 0)] * v.ndim
        pad_lo[axis], pad_hi[axis] = (1, 0), (0, 1)
        before = np.pad(step, pad_lo, mode="edge")
        after = np.pad(step, pad_hi, mode="edge")
        half = np.maximum(half, np.maximum(before, after) / 2.0)
    return half


def _covering(indices: np.ndarray, n: int, periodic: bool) -> slice | np.ndarray:
    """Smallest window holding ``indices``; may wrap around the end when periodic."""
    lo, hi = int(indices.min()), int(indices.max())
    if not periodic or len(indices) < 2:
        return slice(lo, hi + 1)
    gaps = np.diff(indices)
    big = int(np.argmax(gaps))
    inner_gap = int(gaps[big]) - 1
    wrap_gap = n - 1 - hi + lo
    if inner_gap <= wrap_gap:
        return slice(lo, hi + 1)
    start, stop = int(indices[big + 1]), int(indices[big])
    return np.concatenate([np.arange(start, n), np.arange(0, stop + 1)])


def bbox_window(
    lat: np.ndarray, lon: np.ndarray, bbox: Sequence[float]
) -> tuple[slice | np.ndarray, slice | np.ndarray]:
    """Index window of the cells covering ``bbox`` on a 2-D (y, x) grid.

    A cell is kept when its centre lies within the box widened by half the
    local grid spacing, i.e. when the cell overlaps the box.  Longitudes may
    use either convention; the x window may wrap around (periodic grids).

    Returns
    -------
    tuple
        ``(y, x)`` selections: slices, or an index array for a wrapped x window.
    """
    lon_min, lat_min, lon_max, lat_max = (float(b) for b in bbox)
    lat = np.asarray(lat, dtype="f8")
    lon = np.asarray(lon, dtype="f8")
    hlat = _half_spacing(lat)
    hlon = _half_spacing(lon, periodic=True)
    if lat_min == lat_max:  # a point: the cell holding it, edges included
        in_lat = (lat + hlat >= lat_min) & (lat - hlat <= lat_max)
    else:  # cells overlapping the box; merely touching its edge does not count
        in_lat = (lat + hlat > lat_min) & (lat - hlat < lat_max)
    in_lon = lon_in_box(lon, lon_min, lon_max, widen=hlon, strict=lon_min != lon_max)
    mask = in_lat & in_lon & np.isfinite(lat) & np.isfinite(lon)
    if not mask.any():
        raise InvalidInput(
            f"no grid cell in bbox {tuple(bbox)}",
            "bbox is (lon_min, lat_min, lon_max, lat_max); check it against the grid",
        )
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return _covering(rows, mask.shape[0], False), _covering(cols, mask.shape[1], True)


def _check_bbox(bbox: Sequence[float]) -> None:
    if len(bbox) != 4:
        raise InvalidInput(
            f"bbox must have 4 numbers, got {bbox!r}", "use (lon_min, lat_min, lon_max, lat_max)"
        )
    _, lat_min, _, lat_max = bbox
    if not -90 <= lat_min <= lat_max <= 90:
        raise InvalidInput(
            f"invalid latitudes in bbox {tuple(bbox)}",
            "use (lon_min, lat_min, lon_max, lat_max) with -90 <= lat_min <= lat_max <= 90",
        )


def select_bbox(ds: xr.Dataset, bbox: Sequence[float] | None) -> xr.Dataset:
    """Select the minimal index window covering ``bbox = (lon_min, lat_min, lon_max, lat_max)``.

    Works on 1-D ``lat``/``lon`` axes (ascending or descending) and on 2-D
    curvilinear grids (``nav_lat``/``nav_lon``); only the coordinate arrays are
    read.
    """
    if bbox is None:
        return ds
    _check_bbox(bbox)
    lat_name, lon_name = find_lat_lon(ds)
    lat, lon = ds[lat_name], ds[lon_name]
    if lat.ndim == 2 and lon.ndim == 2:
        ydim, xdim = lat.dims
        ysel, xsel = bbox_window(lat.values, lon.transpose(*lat.dims).values, bbox)
    elif lat.ndim == 1 and lon.ndim == 1:
        ydim, xdim = lat.dims[0], lon.dims[0]
        lat2, lon2 = np.meshgrid(lat.values, lon.values, indexing="ij")
        ysel, xsel = bbox_window(lat2, lon2, bbox)
    else:
        raise InvalidInput(f"unsupported latitude/longitude shapes {lat.dims} / {lon.dims}")
    log.debug("bbox %s -> %s=%s, %s=%s", bbox, ydim, ysel, xdim, xsel)
    return ds.isel({ydim: ysel, xdim: xsel})
