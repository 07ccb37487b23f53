"""Reference indexes over NetCDF objects already on a store (kerchunk).

``build_index`` scans each NetCDF4/HDF5 source once and writes one JSON object
next to them listing, for every chunk of every variable, the byte range that
holds it.  Opening the index then reads that object and the byte ranges a
selection needs, nothing else.

The index records each source's key, size and ETag (or modification time on
local stores).  Opening compares them with a listing of the sources' prefixes
and refuses, naming the file, when a source changed: a stale index would
otherwise return wrong data.  Keys are stored relative to the keyspace
(``bucket/key``), never with an endpoint or credentials.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import warnings
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .. import paths
from ..errors import IntegrityError, InvalidInput, translating
from ..stores import Location
from ..zarrkeys import is_metadata_key
from .zstore import MetadataStore

__all__ = ["INDEX_FORMAT", "build_references", "check_sources", "default_index_key", "open_index"]

log = logging.getLogger(__name__)

INDEX_FORMAT = "jasmin-access-kerchunk-1"
INDEX_SUFFIX = ".index.json"
#: Sources scanned at once on threads (I/O bound) and in local worker processes.
_THREADS = 4
_PROCESSES = max(2, min(16, os.cpu_count() or 2))


def default_index_key(sources: list[Location]) -> str:
    """``<prefix>/<name>.index.json`` next to the sources (named after the first)."""
    first = sources[0].path
    stem = paths.basename(first).rsplit(".", 1)[0]
    return paths.join(paths.parent(first), stem + INDEX_SUFFIX)


def _keyspace(location: Location, fs_path: str) -> str:
    """``bucket/key`` of an fs path (what the index stores)."""
    return location.backend.relative(fs_path)


def _fs_path(location: Location, key: str) -> str:
    return location.backend.fs_path(key)


def _fingerprint(info: dict[str, Any]) -> str:
    etag = info.get("ETag") or info.get("etag")
    if etag:
        return str(etag).strip('"')
    return f"mtime:{info.get('mtime') or info.get('LastModified') or info.get('created')}"


def _scalar_fill_values() -> None:
    """Let kerchunk read NetCDF ``_FillValue`` attributes stored as 1-element arrays.

    kerchunk 0.2.9 calls ``float()`` on them, which numpy 2 refuses for 1-D
    arrays, and then silently leaves such variables out of the index.
    """
    import kerchunk.hdf as khdf

    original = khdf.encode_fill_value
    if getattr(original, "_scalar_fill", False):
        return

    def encode(value: Any, *args: Any, **kwargs: Any) -> Any:
        arr = np.asarray(value)
        if arr.ndim and arr.size == 1:
            value = arr.reshape(())[()]
        return original(value, *args, **kwargs)

    encode._scalar_fill = True  # type: ignore[attr-defined]
    khdf.encode_fill_value = encode


def _single_refs(
    location: Location, fs_path: str, record_dim: str
) -> tuple[dict[str, Any], Any, str | None]:
    """References of one source, plus its raw record-coordinate values and units."""
    import h5py
    from kerchunk.hdf import SingleHdf5ToZarr

    _scalar_fill_values()
    url = location.to_url(fs_path)
    with (
        translating("indexing", url, location.profile_name),
        location.backend.open_random(fs_path, 4 << 20) as f,
    ):
        with h5py.File(f, "r") as h5:  # check the file before kerchunk walks it
            values, units = _record_values(h5, record_dim, url)
        f.seek(0)
        refs = SingleHdf5ToZarr(f, url=_ref_url(location, _keyspace(location, fs_path)))
        out = dict(refs.translate())
        f.seek(0)
        with h5py.File(f, "r") as h5:
            _inline_partial_chunks(out.get("refs", out), h5, record_dim, len(values), url)
    return out, values, units


def _record_values(h5: Any, record_dim: str, url: str) -> tuple[Any, str | None]:
    """The raw values and units of the record coordinate of an open NetCDF4 file."""
    import h5py

    datasets = [v for v in h5.values() if isinstance(v, h5py.Dataset)]
    scales = [v for v in datasets if v.attrs.get("CLASS") == b"DIMENSION_SCALE"]
    if not scales and any(v.ndim for v in datasets):
        raise InvalidInput(
            f"{url} is an HDF5 file without NetCDF dimensions, not a NetCDF file",
            "index NetCDF4 files only: remove it from the sources",
        )
    if record_dim not in h5:
        raise InvalidInput(
            f"{url} has no '{record_dim}' variable to join on",
            "name the record dimension with --dim",
        )
    units = h5[record_dim].attrs.get("units")
    if isinstance(units, bytes):
        units = units.decode()
    return h5[record_dim][()], None if units is None else str(units)


INLINE_LIMIT = 1 << 20


def _inline_partial_chunks(
    refs: dict[str, Any], h5: Any, record_dim: str, length: int, url: str
) -> None:
    """Inline variables whose chunks along ``record_dim`` overrun this file.

    NetCDF gives unlimited-dimension variables (time axes, bounds) chunks longer
    than the file (e.g. 512 steps for a monthly file with one): joined as they
    are, such chunks would misplace data.  Small ones are stored in the index
    as one uncompressed chunk of the exact shape.
    """
    for key in [k for k in refs if k.endswith("/.zarray")]:
        name = key[: -len("/.zarray")]
        meta = json.loads(refs[key])
        attrs = json.loads(refs.get(f"{name}/.zattrs", "{}"))
        dims = attrs.get("_ARRAY_DIMENSIONS", [])
        if not dims or dims[0] != record_dim or length % meta["chunks"][0] == 0 or name not in h5:
            continue
        data = np.ascontiguousarray(h5[name][()], dtype=np.dtype(meta["dtype"]))
        if data.nbytes > INLINE_LIMIT:
            raise InvalidInput(
                f"cannot index {url}: '{name}' has chunks of {meta['chunks'][0]} steps along "
                f"'{record_dim}' for {length} in the file",
                "convert these files to Zarr instead (`jasmin-access convert`)",
            )
        for chunk_key in [k for k in refs if k.startswith(f"{name}/") and "/." not in k]:
            del refs[chunk_key]
        meta.update(chunks=[1, *data.shape[1:]], compressor=None, filters=None)
        refs[key] = json.dumps(meta)
        rest = "".join(".0" for _ in data.shape[1:])
        for step in range(length):  # one chunk per step: uniform across files of any length
            raw = data[step : step + 1].tobytes()
            refs[f"{name}/{step}{rest}"] = "base64:" + base64.b64encode(raw).decode()


def _ref_url(location: Location, key: str) -> str:
    return _fs_path(location, key)


def _reference_fs(location: Location, refs: dict[str, Any]) -> Any:
    """An asynchronous reference filesystem reading through this store's credentials."""
    from fsspec.implementations.reference import ReferenceFileSystem

    remote = location.backend.async_filesystem()
    return ReferenceFileSystem(fo=refs, fs=remote, asynchronous=True)


def _fixed_arrays(refs: dict[str, Any], dim: str) -> list[str]:
    """Arrays without the record dimension (grid, depth): taken once, not joined."""
    refs = refs.get("refs", refs)
    out = []
    for key in refs:
        if key.endswith("/.zattrs"):
            dims = json.loads(refs[key]).get("_ARRAY_DIMENSIONS", [])
            if dim not in dims:
                out.append(key[: -len("/.zattrs")])
    return out


def _combine(parts: list[dict[str, Any]], values: list[Any], dim: str) -> dict[str, Any]:
    """Join per-source references along ``dim`` using the coordinate values read."""
    from kerchunk.combine import MultiZarrToZarr

    if len(parts) == 1:
        return parts[0]
    mzz = MultiZarrToZarr(
        parts,
        concat_dims=[dim],
        identical_dims=_fixed_arrays(parts[0], dim),
        coo_map={dim: list(values)},
        coo_dtypes={dim: values[0].dtype},
    )

    def translate() -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(mzz.translate())

    # kerchunk runs its own event loop (asyncio.run), which fails where one is already
    # running, as in Jupyter: give it a thread of its own
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(translate).result()


def _source_refs(record_dim: str, loc: Location) -> tuple[dict[str, Any], Any, Any, Any]:
    """One source's fingerprint, references, record values and units (a worker task)."""
    with translating("reading", loc.url, loc.profile_name):
        info = loc.fs.info(loc.path)
    fingerprint = {"key": _keyspace(loc, loc.path), "size": int(info["size"]),
                   "etag": _fingerprint(info)}  # fmt: skip
    refs, coord, unit = _single_refs(loc, loc.path, record_dim)
    return fingerprint, refs, coord, unit


def _scan_all(
    sources: list[Location], record_dim: str, scheduler: str | None
) -> list[tuple[dict[str, Any], Any, Any, Any]]:
    """:func:`_source_refs` of every source, in order: threads, processes or a cluster's workers.

    Worker processes get a few sources per task (a file's scan is a few
    milliseconds: one task each would cost more in shipping than in work).
    """
    from ..execution import batch_size, check_scheduler, is_distributed, map_distributed, map_local

    out: dict[int, Any] = {}
    items = list(enumerate(sources))

    def keep(item: tuple[int, Location], result: Any) -> None:
        out[item[0]] = result

    def keep_all(batch: list[tuple[int, Location]], results: list[Any]) -> None:
        for item, result in zip(batch, results, strict=True):
            keep(item, result)

    if is_distributed(scheduler):
        map_distributed(_batch_refs, items, keep, str(scheduler), record_dim, batched=True)
    elif scheduler == "processes":
        size = batch_size(len(items), _PROCESSES)
        batches = [items[i : i + size] for i in range(0, len(items), size)]
        map_local(_batch_refs, batches, keep_all, "processes", _PROCESSES, record_dim)
    else:
        check_scheduler(scheduler)
        map_local(_indexed_refs, items, keep, scheduler or "threads", _THREADS, record_dim)
    return [out[i] for i in range(len(sources))]


def _indexed_refs(record_dim: str, item: tuple[int, Location]) -> Any:
    return _source_refs(record_dim, item[1])


def _batch_refs(record_dim: str, items: list[tuple[int, Location]]) -> list[Any]:
    return [_source_refs(record_dim, loc) for _, loc in items]


def build_references(
    sources: list[Location], record_dim: str = "time_counter", scheduler: str | None = None
) -> dict[str, Any]:
    """The index document for ``sources`` (all on one store), joined along ``record_dim``.

    ``scheduler`` (see :mod:`jasmin_access.execution`) scans the sources on
    threads here (default) or on the workers of a Dask cluster.
    """
    base = sources[0]
    scanned = _scan_all(sources, record_dim, scheduler)
    infos = [s[0] for s in scanned]
    parts = [s[1] for s in scanned]
    values = [s[2] for s in scanned]
    units = {s[3] for s in scanned}
    if len(units) > 1:
        raise InvalidInput(
            f"the sources' '{record_dim}' units differ ({', '.join(map(str, sorted(units)))})",
            "index files with one time origin together, or convert them to Zarr instead",
        )
    _check_distinct(values, sources, record_dim)
    combined = _combine(parts, values, record_dim)
    refs = {k: _portable(base, v) for k, v in combined.get("refs", combined).items()}
    return {
        "version": 1,
        "refs": refs,
        "jasmin_access": {
            "format": INDEX_FORMAT,
            "record_dim": record_dim,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "sources": infos,
        },
    }


def _check_distinct(values: list[Any], sources: list[Location], record_dim: str) -> None:
    """Refuse repeated record values: the index would silently keep one step of each."""
    seen: set[Any] = set()
    for loc, coord in zip(sources, values, strict=True):
        flat = [v.item() if hasattr(v, "item") else v for v in np.asarray(coord).ravel()]
        if len(set(flat)) < len(flat) or seen.intersection(flat):
            raise InvalidInput(
                f"{loc.url}: '{record_dim}' repeats values of earlier steps (XIOS writes "
                "time_counter without units, 0 in every file), so an index cannot join these files",
                "convert them with `jasmin-access convert` (ordered by time_centered) instead",
            )
        seen.update(flat)


def _portable(location: Location, value: Any) -> Any:
    """Rewrite a reference's URL to ``bucket/key`` (no scheme, root or endpoint)."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        url = value[0].split("://", 1)[-1]
        return [location.backend.relative(url), *value[1:]]
    return value


def _localise(location: Location, refs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in refs.items():
        if isinstance(value, list) and value and isinstance(value[0], str):
            value = [_ref_url(location, value[0]), *value[1:]]
        out[key] = value
    return out


def check_sources(location: Location, index_url: str, sources: list[dict[str, Any]]) -> None:
    """Raise :class:`IntegrityError` if a source changed since the index was built.

    One listing per distinct prefix of the sources (a HEAD per source where
    listing is refused).
    """
    by_parent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for src in sources:
        by_parent[paths.parent(src["key"])].append(src)
    for parent, group in by_parent.items():
        listing = _listing(location, parent)
        for src in group:
            fs_path = _fs_path(location, src["key"]).rstrip("/")
            info = listing.get(fs_path) if listing is not None else _head(location, fs_path)
            _compare(location, index_url, src, fs_path, info)


def _listing(location: Location, parent: str) -> dict[str, dict[str, Any]] | None:
    try:
        with translating("listing", location.to_url(parent), location.profile_name):
            entries = location.fs.ls(_fs_path(location, parent), detail=True, refresh=True)
    except Exception:  # listing may be refused on public buckets: fall back to HEADs
        return None
    return {e["name"].rstrip("/"): e for e in entries}


def _head(location: Location, fs_path: str) -> dict[str, Any] | None:
    try:
        return dict(location.fs.info(fs_path, refresh=True))
    except FileNotFoundError:
        return None


def _compare(
    location: Location, index_url: str, src: dict[str, Any], fs_path: str, info: Any
) -> None:
    url = location.to_url(fs_path)
    hint = f"rebuild the index: jasmin-access index <sources> {index_url}"
    if info is None:
        raise IntegrityError(f"source {url} of index {index_url} no longer exists", hint)
    if int(info.get("size", -1)) != src["size"] or _fingerprint(info) != src["etag"]:
        raise IntegrityError(
            f"source {url} changed since index {index_url} was built "
            f"(size {src['size']} -> {info.get('size')}, ETag differs)",
            hint,
        )


def _as_bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


def _cat(location: Location) -> bytes:
    return location.backend.read_bytes(location.path)


def load_index(location: Location) -> dict[str, Any]:
    """Read and validate an index document (one GET)."""
    with translating("reading", location.url, location.profile_name):
        raw = _cat(location)
    try:
        doc = json.loads(raw)
        meta = doc["jasmin_access"]
        if meta.get("format") != INDEX_FORMAT:
            raise KeyError("format")
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(
            f"{location.url} is not a jasmin-access index",
            "build one with `jasmin-access index SOURCES... DEST`",
        ) from None
    return dict(doc)


def open_index(location: Location, *, chunks: Any = "auto", verify: bool = True) -> Any:
    """Open a reference index as a lazy xarray Dataset.

    Parameters
    ----------
    location
        The index object.
    chunks
        Dask chunks for the variables (``"auto"``, a dict, or None).
    verify
        Compare the sources' sizes and ETags with the index first.

    Raises
    ------
    IntegrityError
        When a source changed or disappeared since the index was built.
    """
    import xarray as xr
    import zarr.storage

    doc = load_index(location)
    if verify:
        check_sources(location, location.url, doc["jasmin_access"]["sources"])
    refs = _localise(location, doc["refs"])
    docs = {k: _as_bytes(v) for k, v in refs.items() if is_metadata_key(k)}
    ref_fs = _reference_fs(location, refs)
    store = MetadataStore(zarr.storage.FsspecStore(ref_fs, read_only=True), docs)
    return xr.open_zarr(store, consolidated=False, zarr_format=2, chunks=chunks)
