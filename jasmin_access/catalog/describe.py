"""What a catalog entry says about a dataset: dims, variables, extents, sizes.

Everything comes from the consolidated metadata (one GET for a Zarr store, the
index object for a NetCDF set) except the values of the few coordinates the
extents need: the time axis (1-D, decoded by xarray when it opens the
metadata), the vertical axis (1-D) and the longitude/latitude arrays.  Those
are read because neither our converter nor NEMO/XIOS output records the
extents as attributes; a curvilinear ``nav_lon``/``nav_lat`` pair of eORCA1 is
two 0.5 MB arrays, small next to any data variable.  When the dataset has ACDD
attributes (``geospatial_lon_min`` ..., ``time_coverage_start``/``_end``) they
are used instead and no coordinate array is read.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from .. import paths
from ..stores import Location
from ._storage import Access, datastore_versions
from .discover import Source
from .extents import BBox, lon_lat_bbox, time_bounds

__all__ = ["Record", "Variable", "describe", "register_describer"]

log = logging.getLogger(__name__)

ZARR_MEDIA = "application/vnd.zarr; version={}"
INDEX_MEDIA = "application/json"
_DATA_TYPES = {
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
}  # fmt: skip


@dataclass
class Variable:
    """One variable as catalogued."""

    name: str
    dims: list[str]
    dtype: str
    kind: str  # "data" or "auxiliary"
    units: str | None = None
    standard_name: str | None = None
    long_name: str | None = None


@dataclass
class Record:
    """Everything the catalog stores about one dataset.

    ``items`` is one entry per STAC item: by default one item for the whole
    dataset; a describer for versioned datasets returns one per version, each a
    dict of ``id``, ``href``, ``media_type`` and extra ``properties``/``links``.
    ``collection`` adds ``properties``, ``stac_extensions`` and ``links`` to the
    collection the same way.
    """

    source: Source
    href: str
    media_type: str
    format: str
    title: str
    dims: dict[str, int]
    variables: list[Variable]
    bbox: BBox | None = None
    time_start: str | None = None
    time_end: str | None = None
    calendar: str | None = None
    time_dim: str | None = None
    vertical: tuple[str, float, float, str | None] | None = None
    lonlat: tuple[str, str, int] | None = None  # names and ndim of the coordinates
    grid_dims: tuple[str, ...] = ()  # dims of 2-D (curvilinear) longitude/latitude
    nbytes: int = 0
    stored_bytes: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    collection: dict[str, Any] = field(default_factory=dict)


Describer = Callable[[Source, Access], Record]
_DESCRIBERS: dict[str, Describer] = {}


def register_describer(kind: str) -> Callable[[Describer], Describer]:
    """Register the function that describes sources of ``kind`` (decorator)."""

    def add(func: Describer) -> Describer:
        _DESCRIBERS[kind] = func
        return func

    return add


def describe(source: Source, access: Access) -> Record:
    """The :class:`Record` of one source."""
    return _DESCRIBERS[source.kind](source, access)


# --------------------------------------------------------------------------- coordinates

_LAT_NAMES = ("nav_lat", "lat", "latitude", "gphit")
_LON_NAMES = ("nav_lon", "lon", "longitude", "glamt")


def _is_axis(var: xr.DataArray, kind: str) -> bool:
    attrs = var.attrs
    units = str(attrs.get("units", "")).lower()
    if attrs.get("standard_name") == kind:
        return True
    suffix = "north" if kind == "latitude" else "east"
    return units.startswith("degree") and units.endswith(suffix)


def _find_coord(ds: xr.Dataset, kind: str, names: tuple[str, ...]) -> str | None:
    candidates = [n for n in ds.variables if _is_axis(ds[n], kind)]
    candidates += [n for n in names if n in ds.variables]
    candidates = [n for n in candidates if ds[n].ndim in (1, 2)]
    return str(candidates[0]) if candidates else None


def _time_dim(ds: xr.Dataset) -> str | None:
    for name in ds.dims:
        if name in ds.variables:
            var = ds[name]
            if np.issubdtype(var.dtype, np.datetime64) or var.dtype == object:
                return str(name)
            if " since " in str(var.attrs.get("units", "")):
                return str(name)
    return None


def _decoded_times(var: xr.DataArray) -> tuple[Any, str | None]:
    """The values of a time axis as dates in its calendar, and that calendar."""
    if np.issubdtype(var.dtype, np.number):  # opened undecoded: decode just this axis
        import cftime

        calendar = str(var.attrs.get("calendar", "standard"))
        return cftime.num2date(var.values, str(var.attrs["units"]), calendar), calendar
    values = var.values
    calendar = var.encoding.get("calendar") or getattr(values.flat[0] if values.size else None,
                                                       "calendar", None)  # fmt: skip
    return values, calendar


def _vertical(ds: xr.Dataset) -> tuple[str, float, float, str | None] | None:
    for name in ds.dims:
        if name not in ds.variables or ds[name].ndim != 1:
            continue
        var = ds[name]
        attrs = var.attrs
        if (
            attrs.get("axis") == "Z"
            or "positive" in attrs
            or str(attrs.get("standard_name", "")).startswith("depth")
        ) and np.issubdtype(var.dtype, np.number):
            values = np.asarray(var.values, dtype="f8")
            finite = values[np.isfinite(values)]
            if finite.size:
                low, high = float(finite.min()), float(finite.max())
                return str(name), low, high, attrs.get("units")
    return None


def _acdd_bbox(attrs: dict[str, Any]) -> BBox | None:
    keys = ("geospatial_lon_min", "geospatial_lat_min", "geospatial_lon_max", "geospatial_lat_max")
    try:
        w, s, e, n = (float(attrs[k]) for k in keys)
    except (KeyError, TypeError, ValueError):
        return None
    return (((w + 180) % 360) - 180, s, ((e + 180) % 360) - 180 if e != 180 else 180.0, n)


def _extents(ds: xr.Dataset, record: Record) -> None:
    record.time_dim = _time_dim(ds)
    if record.time_dim is not None:
        values, record.calendar = _decoded_times(ds[record.time_dim])
        bounds = time_bounds(values)
        if bounds:
            record.time_start, record.time_end = bounds
    start, end = record.attrs.get("time_coverage_start"), record.attrs.get("time_coverage_end")
    if start and end and record.time_start is None:
        record.time_start, record.time_end = str(start), str(end)
    record.vertical = _vertical(ds)
    record.bbox = _acdd_bbox(record.attrs)
    lat, lon = _find_coord(ds, "latitude", _LAT_NAMES), _find_coord(ds, "longitude", _LON_NAMES)
    if lat and lon:
        record.lonlat = (lon, lat, int(ds[lon].ndim))
        record.grid_dims = tuple(map(str, ds[lon].dims)) if ds[lon].ndim == 2 else ()
        if record.bbox is None:
            record.bbox = lon_lat_bbox(ds[lon].values, ds[lat].values)


def _variables(ds: xr.Dataset) -> list[Variable]:
    bounds = {str(ds[n].attrs.get("bounds")) for n in ds.variables if "bounds" in ds[n].attrs}
    out = []
    for name in sorted(map(str, ds.variables)):
        var = ds[name]
        attrs = var.attrs
        dtype = str(var.encoding.get("dtype", var.dtype))
        out.append(
            Variable(
                name=name,
                dims=[str(d) for d in var.dims],
                dtype=dtype if dtype in _DATA_TYPES else "other",
                kind="data" if name in ds.data_vars and name not in bounds else "auxiliary",
                units=_text(attrs.get("units")),
                standard_name=_text(attrs.get("standard_name")),
                long_name=_text(attrs.get("long_name")),
            )
        )
    return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _plain_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    keep = {}
    for key, value in attrs.items():
        if isinstance(value, (str, int, float, bool)):
            keep[str(key)] = value
        elif isinstance(value, np.generic):
            keep[str(key)] = value.item()
    return keep


def _record(source: Source, ds: xr.Dataset, href: str, media: str, fmt: str) -> Record:
    attrs = _plain_attrs(dict(ds.attrs))
    name = paths.basename(source.url.rstrip("/"))
    record = Record(
        source=source,
        href=href,
        media_type=media,
        format=fmt,
        title=re.sub(r"(\.zarr|\.index\.json)$", "", name),
        dims={str(k): int(v) for k, v in ds.sizes.items()},
        variables=_variables(ds),
        attrs=attrs,
        nbytes=int(sum(v.size * v.dtype.itemsize for v in ds.variables.values())),
    )
    _extents(ds, record)
    return record


# --------------------------------------------------------------------------- describers


def _open_quietly(func: Callable[[], xr.Dataset]) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        return func()


@register_describer("zarr")
def describe_zarr(source: Source, access: Access) -> Record:
    """A Zarr store (v2 or v3) from its consolidated metadata."""
    from ..reading.zstore import open_metadata, read_store

    location: Location = access.resolve(source.url)
    store, root = open_metadata(read_store(location), location.url)
    fmt = 3 if b'"zarr_format": 3' in root or b'"zarr_format":3' in root else 2
    ds = _open_quietly(  # times stay undecoded: decoding reads every time variable
        lambda: xr.open_zarr(
            store, consolidated=None, zarr_format=fmt, chunks=None, decode_times=False
        )
    )
    return _record(source, ds, source.url, ZARR_MEDIA.format(fmt), f"zarr v{fmt}")


@register_describer("datastore")
def describe_datastore(source: Source, access: Access) -> Record:
    """A datastore: its latest version described from its manifest, one item per version."""
    from .versions import version_specs

    versions, store = datastore_versions(source.url, access)
    fmt = 3 if "zarr.json" in store.manifest.metadata else 2
    ds = _open_quietly(
        lambda: xr.open_zarr(
            store, consolidated=None, zarr_format=fmt, chunks=None, decode_times=False
        )
    )
    latest = versions[0]["id"]
    href = f"{source.url}@{latest}"
    record = _record(source, ds, href, ZARR_MEDIA.format(fmt), f"zarr v{fmt} datastore")
    record.stored_bytes = int(versions[0].get("bytes") or 0)
    record.attrs.setdefault("versions", len(versions))
    record.items, record.collection = version_specs(source.url, record.title, versions)
    return record


@register_describer("index")
def describe_index(source: Source, access: Access) -> Record:
    """A NetCDF set through its reference index (sizes of the sources from the index)."""
    from ..reading.index import load_index, open_index

    location = access.resolve(source.url)
    doc = load_index(location)
    ds = _open_quietly(lambda: open_index(location, chunks=None, verify=False))
    record = _record(source, ds, source.url, INDEX_MEDIA, "netcdf (reference index)")
    sources = doc["jasmin_access"].get("sources") or []
    record.stored_bytes = int(sum(int(s.get("size") or 0) for s in sources))
    record.attrs.setdefault("source_count", len(sources))
    return record
