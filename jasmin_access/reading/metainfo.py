"""``info`` of a Zarr store from its consolidated metadata, without xarray, zarr or dask.

The summary :func:`jasmin_access.reading.info.info` prints needs dims,
variables, dtypes, chunks, codecs and attributes (all in the consolidated
metadata: one GET), the stored bytes per variable (one flat listing of the
store, run beside that GET) and the first and last date of the time
coordinate.  Stores written by ``convert`` carry those dates as ACDD
attributes, so they cost no read; for other stores the first and last chunk of
the time coordinate are read (a few kilobytes) and decoded by
:mod:`.lighttime`, or by numcodecs and cftime where it cannot.

Anything this module does not render exactly as the xarray-based path does
(unusual dtypes or codecs, groups without consolidated metadata, time
coordinates it cannot decode) raises :class:`Unsupported` and the caller falls
back to that path.  Imports stay light: ``jasmin-access info`` of a Zarr store
on S3 imports no numpy, botocore or fsspec (``tests/cli/test_fs_imports.py``).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..errors import translating
from ..stores import Location
from ..timecoord import PREFERRED, time_units
from ..zarrkeys import STATE_PREFIX, is_metadata_key
from . import lighttime
from .info import DatasetInfo, VariableInfo, _codec_text

__all__ = ["Unsupported", "metadata_info", "stored_by_array", "stored_sizes", "version_info"]

log = logging.getLogger(__name__)

_KINDS = {"f": "float", "i": "int", "u": "uint", "c": "complex"}
_V3_TYPES = {
    "bool": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "uint8": 1, "uint16": 2,
    "uint32": 4, "uint64": 8, "float16": 2, "float32": 4, "float64": 8, "complex64": 8,
    "complex128": 16,
}  # fmt: skip
_V2_TYPE = re.compile(r"^[<>|=]?([fiucb])(\d+)$")
# codecs zarr and numcodecs always have; any other goes to the xarray path, which says
# when it is not installed here
_V3_CODECS = frozenset(
    {"bytes", "zstd", "blosc", "gzip", "crc32c", "transpose", "vlen-utf8", "vlen-bytes"}
)
_V2_CODECS = frozenset(
    {"zstd", "blosc", "zlib", "gzip", "bz2", "lzma", "lz4", "shuffle", "delta", "crc32",
     "fixedscaleoffset", "quantize", "bitround", "packbits", "categorize", "astype"}
)  # fmt: skip


class Unsupported(Exception):
    """The store needs the xarray-based path to be summarised exactly."""


@dataclass
class _Array:
    """One top-level array as its metadata describes it."""

    name: str
    dtype: str
    itemsize: int
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    codecs: list[str]
    attrs: dict[str, Any]
    meta: dict[str, Any]


def stored_by_array(keys: list[str], sizes: Any) -> dict[str, int]:
    """Stored bytes per top-level array from keys and their sizes (metadata and state left out).

    Parameters
    ----------
    keys, sizes
        Keys relative to the store's root, and their sizes in the same order.
    """
    out: dict[str, int] = {}
    for key, size in zip(keys, sizes, strict=True):
        if "/" in key and not is_metadata_key(key) and not key.startswith(STATE_PREFIX + "/"):
            name = key.split("/", 1)[0]
            out[name] = out.get(name, 0) + int(size)
    return out


def stored_sizes(location: Location) -> dict[str, int]:
    """Stored bytes per top-level array of the store at ``location``, from its listing.

    One flat listing through the backend (on S3 through the compiled client:
    no botocore client is made for it).

    Parameters
    ----------
    location
        The store's root.
    """
    backend, root = location.backend, location.path.rstrip("/")
    keys: list[str] = []
    sizes: list[int] = []
    with translating("listing", location.url, location.profile_name):
        for page in backend.flat_pages(root):
            for obj in page:
                keys.append(obj.path[len(root) :].lstrip("/"))
                sizes.append(obj.size)
    return stored_by_array(keys, sizes)


# --------------------------------------------------------------------------- entry points


def metadata_info(location: Location) -> DatasetInfo | None:
    """The summary of the Zarr store at ``location``; None when there is no store there.

    The root metadata and the listing (stored sizes) are fetched side by side.

    Parameters
    ----------
    location
        The store's root.

    Returns
    -------
    DatasetInfo or None
        As :func:`jasmin_access.reading.info.info` makes it with xarray.

    Raises
    ------
    Unsupported
        When the xarray-based path is needed for an exact summary.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        listing = pool.submit(stored_sizes, location)
        docs = _root_documents(location)
        if docs is None:
            listing.cancel()
            return None
        stored = listing.result()
    fmt, root_attrs, arrays = docs
    log.debug(
        "%s: zarr v%d metadata of %d arrays; %d of them hold stored chunks",
        location.url, fmt, len(arrays), len(stored),
    )  # fmt: skip
    return _summary(location.url, fmt, root_attrs, arrays, stored, _chunk_reader(location))


def version_info(url: str, metadata: Mapping[str, str], stored: dict[str, int]) -> DatasetInfo:
    """The summary of a datastore version from the metadata its manifest inlines.

    Parameters
    ----------
    url
        ``DATASTORE@VERSION_ID``, as shown.
    metadata
        Metadata documents by key (``zarr.json`` or ``.zmetadata`` at least).
    stored
        Stored bytes per top-level array.

    Raises
    ------
    Unsupported
        When the xarray-based path is needed for an exact summary.
    """
    if "zarr.json" in metadata:
        fmt, attrs, arrays = _v3(json.loads(metadata["zarr.json"]))
    elif ".zmetadata" in metadata:
        fmt, attrs, arrays = _v2(json.loads(metadata[".zmetadata"]))
    else:
        raise Unsupported("no consolidated metadata")
    return _summary(url, fmt, attrs, arrays, stored, None)


# --------------------------------------------------------------------------- metadata


def _root_documents(location: Location) -> tuple[int, dict[str, Any], list[_Array]] | None:
    """Format, root attributes and arrays, from ``zarr.json`` or else ``.zmetadata``.

    Errors are left to the caller's boundary to translate, as the xarray path does.
    """
    backend, base = location.backend, location.path.rstrip("/")
    try:
        root = backend.read_json(backend.join(base, "zarr.json"))
        if root is not None:
            return _v3(root)
        consolidated = backend.read_json(backend.join(base, ".zmetadata"))
    except ValueError as exc:  # not JSON: the xarray path names the damage and the fix
        raise Unsupported(f"corrupt metadata ({exc})") from None
    return None if consolidated is None else _v2(consolidated)


def _v3(root: dict[str, Any]) -> tuple[int, dict[str, Any], list[_Array]]:
    consolidated = root.get("consolidated_metadata")
    if root.get("node_type") != "group" or not isinstance(consolidated, dict):
        raise Unsupported("no consolidated metadata")
    metas = consolidated.get("metadata") or {}
    arrays = [
        _v3_array(name, meta)
        for name, meta in metas.items()
        if "/" not in name and meta.get("node_type") == "array"
    ]
    return 3, dict(root.get("attributes") or {}), arrays


def _v3_array(name: str, meta: dict[str, Any]) -> _Array:
    dtype = meta.get("data_type")
    if not isinstance(dtype, str) or dtype not in _V3_TYPES:
        raise Unsupported(f"data type {dtype!r}")
    grid = meta.get("chunk_grid") or {}
    if grid.get("name") != "regular":
        raise Unsupported("irregular chunk grid")
    outer = tuple(int(c) for c in grid["configuration"]["chunk_shape"])
    codecs, chunks, shards = meta.get("codecs") or [], outer, None
    if codecs and isinstance(codecs[0], dict) and codecs[0].get("name") == "sharding_indexed":
        config = codecs[0].get("configuration") or {}
        codecs, shards = config.get("codecs") or [], outer
        chunks = tuple(int(c) for c in config["chunk_shape"])
    if any(not isinstance(c, dict) or c.get("name") not in _V3_CODECS for c in codecs):
        raise Unsupported("codec given by name only, or not a built-in one")
    names = meta.get("dimension_names")
    shape = tuple(int(n) for n in meta["shape"])
    if names is None and shape:
        raise Unsupported("no dimension names")
    return _Array(
        name, dtype, _V3_TYPES[dtype], tuple(map(str, names or ())), shape, chunks, shards,
        [_codec_text(_V3Codec(c)) for c in codecs], dict(meta.get("attributes") or {}), meta,
    )  # fmt: skip


class _V3Codec:
    """A v3 codec document with the ``to_dict`` a zarr codec object has."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def to_dict(self) -> dict[str, Any]:
        return self.doc


class _V2Codec:
    """A v2 (numcodecs) codec document with the ``get_config`` a numcodecs codec has."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def get_config(self) -> dict[str, Any]:
        return dict(self.doc)


def _v2(consolidated: dict[str, Any]) -> tuple[int, dict[str, Any], list[_Array]]:
    metas = consolidated.get("metadata") or {}
    names = [k[: -len("/.zarray")] for k in metas if k.endswith("/.zarray")]
    arrays = [_v2_array(n, metas[f"{n}/.zarray"], metas.get(f"{n}/.zattrs") or {}) for n in names]
    return 2, dict(metas.get(".zattrs") or {}), [a for a in arrays if "/" not in a.name]


def _v2_array(name: str, meta: dict[str, Any], attrs: dict[str, Any]) -> _Array:
    found = _V2_TYPE.match(str(meta.get("dtype")))
    if found is None or (found.group(1) == "b" and found.group(2) != "1"):
        raise Unsupported(f"data type {meta.get('dtype')!r}")
    kind, size = found.group(1), int(found.group(2))
    dtype = "bool" if kind == "b" else f"{_KINDS[kind]}{size * 8}"
    shape = tuple(int(n) for n in meta["shape"])
    dims = attrs.get("_ARRAY_DIMENSIONS")
    if dims is None and shape:
        raise Unsupported("no _ARRAY_DIMENSIONS")
    compressor = [meta["compressor"]] if meta.get("compressor") else []
    codecs = [*(meta.get("filters") or []), *compressor]
    if any(not isinstance(c, dict) or c.get("id") not in _V2_CODECS for c in codecs):
        raise Unsupported("codec not a built-in one")
    attrs = {k: v for k, v in attrs.items() if k != "_ARRAY_DIMENSIONS"}
    return _Array(
        name, dtype, size, tuple(map(str, dims or ())), shape, tuple(map(int, meta["chunks"])),
        None, [_codec_text(_V2Codec(c)) for c in codecs], attrs, meta,
    )  # fmt: skip


# --------------------------------------------------------------------------- summary


def _order(arrays: list[_Array], root_attrs: dict[str, Any]) -> list[_Array]:
    """Arrays in xarray's order: data variables first, then coordinates."""
    named = {a.name for a in arrays}
    coords = {a.name for a in arrays if a.dims == (a.name,)}
    for attrs in [root_attrs, *(a.attrs for a in arrays)]:
        if isinstance(attrs.get("coordinates"), str):
            coords |= set(attrs["coordinates"].split()) & named
    return [a for a in arrays if a.name not in coords] + [a for a in arrays if a.name in coords]


def _summary(
    url: str,
    fmt: int,
    root_attrs: dict[str, Any],
    arrays: list[_Array],
    stored: dict[str, int],
    read_chunk: Callable[[str], bytes | None] | None,
) -> DatasetInfo:
    dims: dict[str, int] = {}
    for array in _order(arrays, root_attrs):
        for dim, size in zip(array.dims, array.shape, strict=True):
            if dims.setdefault(dim, size) != size:
                raise Unsupported(f"dimension {dim} has two sizes")
    variables = [
        VariableInfo(
            name=a.name,
            dtype=a.dtype,
            dims=a.dims,
            shape=a.shape,
            chunks=a.chunks,
            codecs=a.codecs,
            nbytes=math.prod(a.shape) * a.itemsize,
            stored_bytes=stored.get(a.name, 0),
            shards=a.shards,
        )
        for a in sorted(arrays, key=lambda a: a.name)
    ]
    by_name = {a.name: a for a in arrays}
    return DatasetInfo(
        url=url,
        format=f"zarr v{fmt}",
        dims=dims,
        variables=variables,
        stored_bytes=sum(stored.values()),
        nbytes=sum(v.nbytes for v in variables),
        **_time_range(by_name, dims, root_attrs, read_chunk),
        attrs=root_attrs,
    )


# --------------------------------------------------------------------------- time range


def _is_time(array: _Array) -> bool:
    return array.attrs.get("axis") == "T" or array.attrs.get("standard_name") == "time"


def _time_name(
    arrays: dict[str, _Array], dims: dict[str, int], attrs: dict[str, Any]
) -> str | None:
    """The time coordinate the xarray-based path picks (``reading.subset.time_coordinate``)."""
    dim = next((d for d in ("time_counter", "time") if d in dims), None)
    if dim is None:
        if any(time_units(a.attrs) for a in arrays.values()):
            raise Unsupported("a time variable without a time_counter/time dimension")
        return None
    prov = attrs.get("jasmin_access")
    named = prov.get("time_variable") if isinstance(prov, dict) else None
    marked = [n for n, a in arrays.items() if _is_time(a) or n in PREFERRED]
    for name in [named, dim, *PREFERRED, *marked]:
        array = arrays.get(name) if name else None
        if array is not None and array.dims == (dim,) and time_units(array.attrs):
            return str(name)
    return None


def _time_range(
    arrays: dict[str, _Array],
    dims: dict[str, int],
    attrs: dict[str, Any],
    read_chunk: Callable[[str], bytes | None] | None,
) -> dict[str, Any]:
    name = _time_name(arrays, dims, attrs)
    if name is None or dims[arrays[name].dims[0]] == 0:
        return {}
    array = arrays[name]
    calendar = array.attrs.get("calendar")
    prov = attrs.get("jasmin_access")
    recorded = prov.get("time_variable") if isinstance(prov, dict) else None
    start, end = attrs.get("time_coverage_start"), attrs.get("time_coverage_end")
    if recorded == name and isinstance(start, str) and isinstance(end, str):
        first, last = start.replace("T", " "), end.replace("T", " ")
    elif read_chunk is None:
        raise Unsupported("time coordinate to read")
    else:
        first, last = _first_last(array, read_chunk)
    return {"time_start": first, "time_end": last, "calendar": calendar, "time_variable": name}


def _chunk_reader(location: Location) -> Callable[[str], bytes | None]:
    backend, base = location.backend, location.path.rstrip("/")

    def read(key: str) -> bytes | None:
        try:
            return backend.read_bytes(backend.join(base, key))
        except FileNotFoundError:
            return None

    return read


def _first_last(array: _Array, read_chunk: Callable[[str], bytes | None]) -> tuple[str, str]:
    """First and last date of a 1-D time coordinate, read from its first and last chunk.

    The common encodings and calendars are decoded by :mod:`.lighttime` (no
    numpy, numcodecs or cftime to import); the others here, with those.
    """
    if array.shards:
        raise Unsupported("sharded time coordinate")
    step = array.chunks[0]
    count = -(-array.shape[0] // step)
    values: list[Any] = []
    for index in sorted({0, count - 1}):
        raw = read_chunk(_chunk_key(array, index))
        if raw is None:
            raise Unsupported("time chunk missing")
        decoded = lighttime.chunk_values(array.meta, raw, step)
        values.append(_decode(array, raw) if decoded is None else decoded)
    first, last = values[0][0], values[-1][(array.shape[0] - 1) % step]
    units = time_units(array.attrs)
    assert units is not None  # a time coordinate (see _time_name)
    calendar = str(array.attrs.get("calendar", "standard"))
    shown = lighttime.dates([first, last], units, calendar)
    if shown is not None:
        return shown[0], shown[1]
    import cftime

    try:
        dates = cftime.num2date([first, last], units, calendar)
    except (ValueError, TypeError) as exc:
        raise Unsupported(f"time values ({exc})") from None
    return str(dates[0]), str(dates[1])


def _chunk_key(array: _Array, index: int) -> str:
    encoding = array.meta.get("chunk_key_encoding")
    if encoding is not None:  # v3
        config = encoding.get("configuration") or {}
        sep = config.get("separator", "/" if encoding.get("name") == "default" else ".")
        prefix = "c" + sep if encoding.get("name") == "default" else ""
        return f"{array.name}/{prefix}{index}"
    return f"{array.name}/{index}"


def _decode(array: _Array, raw: bytes) -> Any:
    """The values of one chunk of a 1-D numeric array (numcodecs for the compressors)."""
    import numcodecs
    import numpy as np

    meta = array.meta
    if "codecs" in meta:  # v3: [bytes, compressors...]
        codecs = list(meta["codecs"])
        head = codecs.pop(0) if codecs and codecs[0].get("name") == "bytes" else None
        if head is None:
            raise Unsupported("no bytes codec")
        endian = (head.get("configuration") or {}).get("endian", "little")
        order = "<" if endian == "little" else ">"
        configs = [{"id": c["name"], **(c.get("configuration") or {})} for c in codecs]
        dtype, filters = np.dtype(array.dtype).newbyteorder(order), []
    else:
        configs = [meta["compressor"]] if meta.get("compressor") else []
        dtype, filters = np.dtype(meta["dtype"]), list(meta.get("filters") or [])
    data = raw
    try:
        for config in reversed([*filters, *configs]):
            if config.get("id") == "blosc" and isinstance(config.get("shuffle"), str):
                config = {**config, "shuffle": _BLOSC_SHUFFLE[config["shuffle"]]}
            config = {k: v for k, v in config.items() if k != "typesize"}
            data = numcodecs.get_codec(config).decode(data)
    except (KeyError, ValueError, TypeError) as exc:
        raise Unsupported(f"codec ({exc})") from None
    return np.frombuffer(bytes(data), dtype=dtype)


_BLOSC_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
