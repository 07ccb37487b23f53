"""Open Zarr stores and NetCDF objects on a store as lazy, Dask-backed xarray Datasets.

One line in a notebook::

    import jasmin_access as ja
    ds = ja.open_dataset("s3://bucket/run.zarr", profile="jasmin",
                         variables=["thetao"], time=("1976-01", "1980-12"),
                         bbox=(-30, 40, 10, 65))

Opening a consolidated Zarr store costs one metadata request whatever the
number of variables; selections are applied lazily before any data moves, and
loading fetches only the chunks that intersect them, many at once.  NetCDF
objects (``.nc``), lists and globs of them, and reference indexes
(``.index.json``, see :func:`build_index`) open the same way.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Collection, Sequence
from typing import Any

import xarray as xr

from . import paths
from .config import Profile
from .datastore.reading import has_selector, open_version
from .errors import InvalidInput, NotFound, translating
from .reading import tasks
from .reading.cache import DEFAULT_CACHE_DIR, CachingStore, ChunkCache, namespace_for
from .reading.chunking import auto_chunk
from .reading.chunkread import chunk_read_variables, read_by_chunks
from .reading.index import build_references, default_index_key, open_index
from .reading.info import DatasetInfo, info
from .reading.lazycoords import decode_lazily, with_lazy_indexes
from .reading.locations import URLs
from .reading.locations import locations as _locations
from .reading.netcdf import is_netcdf, open_netcdf
from .reading.subset import (
    join_records,
    record_dim,
    select_bbox,
    select_time,
    select_variables,
)
from .reading.tasks import ReadTask
from .reading.zstore import configure_zarr, open_metadata, read_store
from .stores import Location, resolve

__all__ = [
    "DatasetInfo",
    "ReadTask",
    "build_index",
    "info",
    "open_dataset",
    "open_mfdataset",
    "slices",
]

log = logging.getLogger(__name__)

VERSION_KEY = "jasmin_datastore_version"  # ``ds.encoding`` key: ``URL@ID`` of a datastore version
ZARR_CONCURRENCY = 64


def _chunk_cache(cache: Any, cache_size: Any, location: Location) -> ChunkCache | None:
    """The chunk cache asked for (argument, else profile setting), for remote stores only."""
    if cache is False or location.caps.local_path:
        return None
    profile = location.profile
    if cache is None:
        cache = profile.cache if profile is not None and profile.cache else None
        if cache is None:
            return None
    directory = DEFAULT_CACHE_DIR if cache is True else str(cache)
    size = cache_size or (profile.cache_size if profile is not None else "2GB")
    return ChunkCache(directory, size)


def open_zarr_store(
    location: Location,
    *,
    chunks: Any = "auto",
    cache: Any = None,
    cache_size: Any = None,
    store: Any = None,
    **kwargs: Any,
) -> xr.Dataset:
    """Open one Zarr store: one metadata request, then lazy arrays.

    Parameters
    ----------
    location
        The store.
    chunks
        Dask chunks; ``"auto"`` uses multiples of the storage chunks, up to
        512 MiB a task, read by :mod:`~jasmin_access.reading.chunkread`.
        None gives lazily indexed arrays (read the same way).
    cache, cache_size
        Chunk cache directory (or True for the default) and its size bound.
    store
        A zarr store to read instead of the location's own (a datastore version).
    **kwargs
        Passed to :func:`xarray.open_zarr` (``decode_times``, ``drop_variables`` ...).
    """
    configure_zarr(ZARR_CONCURRENCY)
    with translating("opening", location.url, location.profile_name):
        try:
            store, root = open_metadata(store or read_store(location), location.url)
        except NotFound:
            _refuse_missing_bucket(location)
            raise
    chunk_cache = _chunk_cache(cache, cache_size, location)
    if chunk_cache is not None:
        where = f"{location.backend.identity}/{location.path}"  # which backend, which store
        store = CachingStore(store, chunk_cache, namespace_for(where, root))
    zarr_format = 3 if b'"zarr_format": 3' in root or b'"zarr_format":3' in root else 2
    lazy = chunks == "auto"
    with translating("opening", location.url, location.profile_name), warnings.catch_warnings():
        # zarr warns on every v3 store with consolidated metadata: not actionable here
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        fresh: set[str] = set()
        if chunks in ("auto", None):
            ds, fresh = _open_by_chunks(store, zarr_format, kwargs)
        else:
            ds = xr.open_zarr(
                store, consolidated=None, zarr_format=zarr_format, chunks=chunks, **kwargs
            )
    return _auto(ds, fresh) if lazy else ds


def _refuse_missing_bucket(location: Location) -> None:
    """Say that the bucket is missing, rather than that the store is."""
    from .fs._backend import bucket_exists
    from .fs.listing import missing_bucket

    if location.caps.buckets and not location.read_only and not bucket_exists(location):
        raise missing_bucket(location)


_DECODE_OPTIONS = (
    "mask_and_scale",
    "decode_times",
    "concat_characters",
    "decode_coords",
    "use_cftime",
    "decode_timedelta",
)


def _open_by_chunks(
    store: Any, zarr_format: int, kwargs: dict[str, Any]
) -> tuple[xr.Dataset, set[str]]:
    """Open raw, read arrays with :mod:`~jasmin_access.reading.chunkread`, then CF-decode.

    Nothing but the metadata is read: coordinates and their indexes are read
    when first used (:mod:`~jasmin_access.reading.lazycoords`).  Also returns
    the names of the variables read chunk by chunk.
    """
    import zarr

    kwargs = dict(kwargs)
    decode_cf = kwargs.pop("decode_cf", True)
    decode = {k: kwargs.pop(k) for k in _DECODE_OPTIONS if k in kwargs}
    kwargs.setdefault("create_default_indexes", False)  # indexes built lazily, below
    raw = xr.open_zarr(
        store, consolidated=None, zarr_format=zarr_format, chunks=None, decode_cf=False, **kwargs
    )
    group = zarr.open_group(store, mode="r", zarr_format=zarr_format, path=kwargs.get("group"))
    raw = read_by_chunks(
        raw,
        group,
        mask_and_scale=decode_cf is not False and decode.get("mask_and_scale", True) is not False,
    )
    fresh = chunk_read_variables(raw)
    if decode_cf is False:
        return with_lazy_indexes(raw), fresh
    return decode_lazily(raw, **decode), fresh


def _auto(ds: xr.Dataset, fresh: Collection[str] = ()) -> xr.Dataset:
    """Dask chunks made of whole storage chunks, sized for this machine."""
    try:
        dim: str | None = record_dim(ds)
    except InvalidInput:
        dim = None
    return auto_chunk(ds, dim, fresh)


def _open_location(location: Location, *, chunks: Any, verify_index: bool, **kw: Any) -> Any:
    if has_selector(location.url):
        return _open_version(location.url, location, chunks=chunks, **kw)
    if location.path.endswith(".json"):
        ds = open_index(location, chunks=None if chunks == "auto" else chunks, verify=verify_index)
        return _auto(ds) if chunks == "auto" else ds
    if is_netcdf(location.path):
        return open_netcdf([location], chunks=chunks, **_xr_kwargs(kw))
    try:
        return open_zarr_store(location, chunks=chunks, **kw)
    except NotFound:
        if not location.key:
            raise
        return _open_version(location.url, location, chunks=chunks, missing=True, **kw)


def _open_version(
    url: str, location: Location, *, chunks: Any, missing: bool = False, **kw: Any
) -> xr.Dataset:
    """Open a datastore version (``…/name@V``, or a datastore root for its latest)."""
    found = open_version(url, check_marker=missing, profile=location.profile)
    if found is None:  # not a datastore either: the original error
        return open_zarr_store(location, chunks=chunks, **kw)
    store, root = found
    chunk_cache = _chunk_cache(kw.pop("cache", None), kw.pop("cache_size", None), root)
    if chunk_cache is not None:  # keyed by object (content hash), not by logical key
        ns = namespace_for(f"{root.backend.identity}/{root.path}", b"datastore objects")
        store = store.reading_through(lambda s: CachingStore(s, chunk_cache, ns))
    ds = open_zarr_store(root, chunks=chunks, store=store, cache=False, **kw)
    ds.encoding[VERSION_KEY] = f"{store.url}@{store.manifest.id}"  # exactly which bytes
    return ds


def _stac_target(url: Any) -> tuple[Any, dict[str, Any]]:
    """The data asset's href of a STAC Item/Collection (pystac object or dict), else ``url``.

    Items found by :func:`jasmin_access.catalog.search` also carry the store
    access they were found with, used unless the caller gives their own.
    """
    assets = getattr(url, "assets", None)
    if assets is None and isinstance(url, dict):
        assets = url.get("assets")
    if not isinstance(assets, dict):
        return url, {}
    hrefs = []
    for asset in assets.values():
        get = asset.get if isinstance(asset, dict) else lambda k, a=asset: getattr(a, k, None)
        kind = str(get("media_type") or get("type") or "")
        if "data" in (get("roles") or []) or "zarr" in kind:
            absolute = getattr(asset, "get_absolute_href", None)
            hrefs.append((absolute() if absolute else None) or get("href"))
    if not hrefs:
        raise InvalidInput("the STAC object has no data asset", "open an item found by search")
    return hrefs[0], dict(getattr(url, "_jasmin_access", {}) or {})


def _xr_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if k not in ("cache", "cache_size")}


def open_dataset(
    url: URLs,
    *,
    profile: str | Profile | None = None,
    variables: Sequence[str] | str | None = None,
    time: Any = None,
    bbox: Sequence[float] | None = None,
    chunks: Any = "auto",
    cache: str | bool | None = None,
    cache_size: str | int | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    verify_index: bool = True,
    **kwargs: Any,
) -> xr.Dataset:
    """Open a Zarr store, NetCDF object(s) or reference index as a lazy Dataset.

    Parameters
    ----------
    url
        ``s3://bucket/run.zarr``, ``local://…``, a public
        ``https://<tenancy>-o.s3-ext.jc.rl.ac.uk/bucket/run.zarr``, a NetCDF
        object ``…/file.nc``, a glob or list of them (joined along the record
        dimension), an index ``…/name.index.json``, or a STAC Item or
        Collection (its data asset; see :func:`jasmin_access.catalog.search`).
    profile
        Profile for ``s3://`` URLs (none is needed for public https URLs).
    variables
        Keep only these variables (and their coordinates).
    time
        ``(start, stop)`` in the store's own calendar, inclusive, e.g.
        ``("1976-01", "1980-12")``.
    bbox
        ``(lon_min, lat_min, lon_max, lat_max)``: keep the minimal index window
        whose cells cover the box (1-D or 2-D curvilinear lat/lon, either
        longitude convention, boxes may cross the dateline).
    chunks
        Dask chunks: ``"auto"`` (whole multiples of each variable's storage
        chunks, up to 512 MiB a task; a task fetches its chunks concurrently
        and decodes them on every core as they arrive), a dict (read by
        xarray's own Zarr reader), or None for lazily indexed arrays without
        Dask.
    cache
        Directory of a local chunk cache (True: ``~/.cache/jasmin-access/chunks``;
        False: off; None: the profile's ``cache`` setting).
    cache_size
        Size bound of the cache (default: the profile's ``cache_size``, 2GB).
    endpoint_url, anon
        Overrides of the profile's endpoint and anonymity.
    verify_index
        For indexes: check first that no source changed since it was built.
    **kwargs
        Passed to xarray (``decode_times``, ``drop_variables`` ...).

    Returns
    -------
    xarray.Dataset
        Lazy: no data is read until values are needed.

    Raises
    ------
    NotFound
        No store at the URL (or an unfinished conversion: re-run convert).
    InvalidInput
        Unknown variables, an empty time range, a bbox outside the grid.
    IntegrityError
        An index whose sources changed.
    """
    url, found_with = _stac_target(url)
    resolve_kwargs = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    if not any(v is not None for v in resolve_kwargs.values()):
        resolve_kwargs.update(found_with)
    locations = _locations(url, resolve_kwargs)
    opts = {"cache": cache, "cache_size": cache_size, **kwargs}
    if len(locations) > 1 and all(is_netcdf(loc.path) for loc in locations):
        ds = open_netcdf(locations, chunks=chunks, **_xr_kwargs(opts))
    else:
        parts = [
            _open_location(loc, chunks=chunks, verify_index=verify_index, **opts)
            for loc in locations
        ]
        ds = join_records(parts)
    return subset(ds, variables=variables, time=time, bbox=bbox)


def subset(
    ds: xr.Dataset,
    *,
    variables: Sequence[str] | str | None = None,
    time: Any = None,
    bbox: Sequence[float] | None = None,
) -> xr.Dataset:
    """Apply the ``variables``/``time``/``bbox`` selections lazily (see :func:`open_dataset`)."""
    ds = select_time(ds, time)
    ds = select_bbox(ds, bbox)
    return select_variables(ds, variables)


def _children(location: Location) -> list[str]:
    """Zarr stores (``*.zarr``) or else NetCDF objects directly under a prefix."""
    with translating("listing", location.url, location.profile_name):
        entries = location.fs.ls(location.path.rstrip("/"), detail=False)
    names = paths.natural_sorted(str(e).rstrip("/") for e in entries)
    stores = [n for n in names if n.endswith(".zarr")]
    return stores or [n for n in names if is_netcdf(n)]


def open_mfdataset(
    urls: URLs,
    *,
    profile: str | Profile | None = None,
    dim: str | None = None,
    variables: Sequence[str] | str | None = None,
    time: Any = None,
    bbox: Sequence[float] | None = None,
    chunks: Any = "auto",
    cache: str | bool | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    **kwargs: Any,
) -> xr.Dataset:
    """Open several stores (or NetCDF objects) joined along the record dimension.

    Parameters
    ----------
    urls
        A prefix (every ``*.zarr`` store, else every NetCDF object, directly
        under it), a glob, or a list of URLs.
    dim
        Dimension to join along (default: the record dimension, e.g.
        ``time_counter``).
    profile, variables, time, bbox, chunks, cache, endpoint_url, anon, **kwargs
        As for :func:`open_dataset`.
    """
    resolve_kwargs = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    if isinstance(urls, (str, os.PathLike)):
        base = resolve(urls, **resolve_kwargs)
        if not paths.has_magic(base.path) and not _is_openable(base):
            found = _children(base)
            if not found:
                raise NotFound(f"no Zarr stores or NetCDF objects under {base.url}")
            urls = [base.to_url(p) for p in found]
    locations = _locations(urls, resolve_kwargs)
    opts = {"cache": cache, **kwargs}
    if all(is_netcdf(loc.path) for loc in locations):
        ds = open_netcdf(locations, chunks=chunks, **_xr_kwargs(opts))
    else:
        parts = [_open_location(loc, chunks=chunks, verify_index=True, **opts) for loc in locations]
        ds = join_records(parts, dim)
    return subset(ds, variables=variables, time=time, bbox=bbox)


def _is_openable(location: Location) -> bool:
    path = location.path.rstrip("/")
    if is_netcdf(path) or path.endswith((".json", ".zarr")):
        return True
    fs = location.fs
    return bool(fs.exists(f"{path}/zarr.json") or fs.exists(f"{path}/.zmetadata"))


def slices(url: Any, **kwargs: Any) -> list[Any]:
    """Describe pieces of a dataset for parallel reading, each opened by :func:`open_dataset`.

    Takes the arguments of :func:`jasmin_access.reading.tasks.slices`
    (``dim``, ``n``, ``by``, ``max_mb``, ``profile``, ``variables`` ...).
    """
    return tasks.slices(url, opener=open_dataset, **kwargs)


def build_index(
    sources: URLs,
    dest: str | None = None,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    record_dim: str = "time_counter",
    scheduler: str | None = None,
) -> str:
    """Build a reference index over NetCDF objects already on a store.

    Parameters
    ----------
    sources
        NetCDF object URLs, globs or a list of them (all on one store).
    dest
        URL of the index object; default ``<prefix>/<first name>.index.json``.
    profile, endpoint_url, anon
        Store access.
    record_dim
        Dimension the sources are joined along.
    scheduler
        Where the sources are scanned: ``threads`` (default), or a ``tcp://``
        or ``tls://`` Dask scheduler (see :mod:`jasmin_access.execution`).

    Returns
    -------
    str
        The URL of the index written.
    """
    import json

    resolve_kwargs = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    locations = _locations(sources, resolve_kwargs)
    bad = [loc.url for loc in locations if not is_netcdf(loc.path)]
    if bad:
        raise InvalidInput(f"not NetCDF objects: {', '.join(bad)}", "index *.nc objects only")
    if len({(loc.backend.identity, loc.bucket) for loc in locations}) > 1:
        raise InvalidInput("index sources must all be on one store and bucket")
    first = locations[0]
    target = resolve(dest, **resolve_kwargs) if dest else None
    if target is None:
        target = resolve(first.to_url(default_index_key(locations)), **resolve_kwargs)
    target.require_writable()
    doc = build_references(locations, record_dim=record_dim, scheduler=scheduler)
    with translating("writing", target.url, target.profile_name):
        target.backend.write_bytes(target.path, json.dumps(doc, separators=(",", ":")).encode())
    log.info("index of %d sources written to %s", len(locations), target.url)
    return target.url
