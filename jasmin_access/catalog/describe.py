"""What a catalog entry says about a dataset: dims, variables, extents, sizes.

Everything comes from the consolidated metadata: one GET for a Zarr store,
the header of each version's manifest for a datastore, the index object for a
NetCDF set.  The extents are the ACDD coverage attributes ``convert`` and
``append`` write (:mod:`jasmin_access.coverage`), so a store they made costs
no array read.  A dataset without them (written by another tool) has the few
coordinates its extents need read instead, with one log line, unless
``coordinate_reads`` is off; a data variable is never read.
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
from ..coverage import ACDD_KEYS, Axes, coverage_attrs, find_axes
from ..errors import NotFound
from ..stores import Location
from ._storage import Access, datastore_headers, datastore_state, datastore_store
from .discover import Source
from .extents import BBox

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
    dict of ``id``, ``href``, ``media_type``, extra ``properties``/``links`` and,
    when the item holds other data than the dataset (an older version), its own
    ``record`` for its extents and variables.
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


# --------------------------------------------------------------------------- extents


def _variables_map(ds: xr.Dataset) -> dict[str, tuple[tuple[str, ...], dict[str, Any]]]:
    """``name -> (dims, attrs)``, with the time units xarray moved to ``encoding`` if it decoded."""
    out = {}
    for name, var in ds.variables.items():
        kept = {k: var.encoding[k] for k in ("units", "calendar") if k in var.encoding}
        out[str(name)] = (tuple(map(str, var.dims)), {**kept, **var.attrs})
    return out


def _stored_values(ds: xr.Dataset, name: str) -> Any:
    var = ds[name].variable
    if var.dtype.kind in "MmO":  # decoded times: back to the stored numbers
        var = xr.conventions.encode_cf_variable(var, name=name)
    return var.values


def _number(attrs: dict[str, Any], key: str) -> float | None:
    try:
        return float(attrs[key])
    except (KeyError, TypeError, ValueError):
        return None


def _acdd_bbox(attrs: dict[str, Any]) -> BBox | None:
    keys = ("geospatial_lon_min", "geospatial_lat_min", "geospatial_lon_max", "geospatial_lat_max")
    w, s, e, n = (_number(attrs, k) for k in keys)
    if w is None or s is None or e is None or n is None:
        return None
    return (((w + 180) % 360) - 180, s, ((e + 180) % 360) - 180 if e != 180 else 180.0, n)


def _missing(axes: Axes, attrs: dict[str, Any]) -> set[str]:
    """The axes whose extents the global attributes do not give."""
    wanted = {
        axes.time: "time_coverage_start",
        axes.vertical: "geospatial_vertical_min",
        axes.lon: "geospatial_lon_min",
        axes.lat: "geospatial_lat_min",
    }
    return {name for name, key in wanted.items() if name and key not in attrs}


def _coverage(
    ds: xr.Dataset,
    record: Record,
    axes: Axes,
    reads: bool,
    reopen: Callable[[], xr.Dataset] | None,
) -> dict[str, Any]:
    """ACDD coverage from the global attributes; coordinates read only for what they lack."""
    variables = _variables_map(ds)
    missing = _missing(axes, record.attrs)
    if not missing:
        return record.attrs
    names, url = ", ".join(sorted(missing)), record.source.url
    if not reads:
        log.info("%s: no coverage attributes for %s; extents left out", url, names)
        return record.attrs
    log.info("%s: no coverage attributes for %s; reading those coordinates", url, names)
    data = reopen() if reopen else ds

    def values_of(name: str) -> Any:
        return _stored_values(data, name) if name in missing else np.zeros(0)

    found = coverage_attrs(variables, values_of, axes.time)
    return {**found, **{k: v for k, v in record.attrs.items() if k in ACDD_KEYS}}


def _extents(
    ds: xr.Dataset, record: Record, reads: bool, reopen: Callable[[], xr.Dataset] | None
) -> None:
    """Extents and the axes' names, from metadata (see :mod:`jasmin_access.coverage`)."""
    prov = ds.attrs.get("jasmin_access")
    recorded = prov.get("time_variable") if isinstance(prov, dict) else None
    variables = _variables_map(ds)
    axes = find_axes(variables, recorded)
    attrs = _coverage(ds, record, axes, reads, reopen)
    if axes.time:
        record.time_dim = variables[axes.time][0][0]
        record.calendar = str(variables[axes.time][1].get("calendar", "standard"))
    if attrs.get("time_coverage_start") and attrs.get("time_coverage_end"):
        record.time_start = str(attrs["time_coverage_start"])
        record.time_end = str(attrs["time_coverage_end"])
    low, high = _number(attrs, "geospatial_vertical_min"), _number(attrs, "geospatial_vertical_max")
    if axes.vertical and low is not None and high is not None:
        units = variables[axes.vertical][1].get("units", attrs.get("geospatial_vertical_units"))
        record.vertical = (axes.vertical, low, high, units)
    record.bbox = _acdd_bbox(attrs)
    if axes.lon and axes.lat:
        lon_dims = variables[axes.lon][0]
        record.lonlat = (axes.lon, axes.lat, len(lon_dims))
        record.grid_dims = lon_dims if len(lon_dims) == 2 else ()


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


def _record(
    source: Source,
    ds: xr.Dataset,
    href: str,
    media: str,
    fmt: str,
    access: Access,
    reopen: Callable[[], xr.Dataset] | None = None,
) -> Record:
    """The record of a dataset opened from its metadata; ``reopen`` opens it so that
    coordinates can be read, when that takes more than ``ds`` (a datastore version)."""
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
    _extents(ds, record, access.coordinate_reads, reopen)
    return record


# --------------------------------------------------------------------------- describers


def _open_quietly(func: Callable[[], xr.Dataset]) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        return func()


def _open_metadata(store: Any, fmt: int) -> xr.Dataset:
    """Open from the metadata alone: times undecoded and no index built, so no array is read."""
    return _open_quietly(
        lambda: xr.open_zarr(
            store, consolidated=None, zarr_format=fmt, chunks=None, decode_times=False,
            create_default_indexes=False,
        )
    )  # fmt: skip


@register_describer("zarr")
def describe_zarr(source: Source, access: Access) -> Record:
    """A Zarr store (v2 or v3) from its consolidated metadata (one GET)."""
    from ..reading.zstore import open_metadata, read_store

    location: Location = access.resolve(source.url)
    store, root = open_metadata(read_store(location), location.url)
    fmt = 3 if b'"zarr_format": 3' in root or b'"zarr_format":3' in root else 2
    ds = _open_metadata(store, fmt)
    return _record(source, ds, source.url, ZARR_MEDIA.format(fmt), f"zarr v{fmt}", access)


def _version_record(source: Source, access: Access, header: dict[str, Any]) -> Record:
    """One version, from the metadata its manifest header inlines (no request)."""
    fmt = 3 if "zarr.json" in (header.get("metadata") or {}) else 2
    ds = _open_metadata(datastore_store(source.url, access, header, full=False), fmt)

    def reopen() -> xr.Dataset:
        return _open_metadata(datastore_store(source.url, access, header, full=True), fmt)

    href, media = f"{source.url}@{header['id']}", ZARR_MEDIA.format(fmt)
    record = _record(source, ds, href, media, f"zarr v{fmt} datastore", access, reopen)
    record.stored_bytes = int(header.get("bytes") or 0)
    return record


@register_describer("datastore")
def describe_datastore(source: Source, access: Access) -> Record:
    """A datastore: one item per version, each described from its own manifest header
    (one ranged GET each); the collection is its latest version."""
    from .versions import version_specs

    state = source.state or datastore_state(source.url, access)
    if not state.versions:
        raise NotFound(
            f"{source.url} has no version yet",
            f"push one: jasmin-access datastore push {source.url} SRC",
        )
    headers = datastore_headers(source.url, access, list(state.versions))
    tags: dict[str, list[str]] = {}
    for name, targets in state.tags:
        for vid in targets:
            tags.setdefault(vid, []).append(name)
    versions = [{**h, "tags": sorted(tags.get(h["id"], []))} for h in reversed(headers)]
    records = {h["id"]: _version_record(source, access, h) for h in headers}
    record = records[versions[0]["id"]]
    record.attrs.setdefault("versions", len(versions))
    record.items, record.collection = version_specs(source.url, record.title, versions)
    for spec, version in zip(record.items, versions, strict=True):
        spec["record"] = records[version["id"]]
    return record


@register_describer("index")
def describe_index(source: Source, access: Access) -> Record:
    """A NetCDF set through its reference index (sizes of the sources from the index)."""
    from ..reading.index import load_index, open_index

    location = access.resolve(source.url)
    doc = load_index(location)
    ds = _open_quietly(lambda: open_index(location, chunks=None, verify=False))
    record = _record(source, ds, source.url, INDEX_MEDIA, "netcdf (reference index)", access)
    sources = doc["jasmin_access"].get("sources") or []
    record.stored_bytes = int(sum(int(s.get("size") or 0) for s in sources))
    record.attrs.setdefault("source_count", len(sources))
    return record
