"""Source files: expand what users type, open NetCDF safely, read raw slabs.

Sources are local paths, quoted globs (expanded here, in natural order),
``@list.txt`` files naming one source per line, and ``s3://``/``https://``
URLs.  Remote files are read by byte ranges through an fsspec file object
(h5netcdf for NetCDF4/HDF5, scipy for NetCDF3); nothing is downloaded whole.

Values are always read *raw* (``decode_cf=False``): packed integers stay
packed, times stay numbers in their file's units.  NetCDF/HDF5 libraries are
not thread-safe, so every open and read goes through one process-wide lock;
compression and uploads happen outside it.
"""

from __future__ import annotations

import logging
import math
from array import array
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import paths
from ..backends import Backend
from ..caches import BoundedCache
from ..config import load_config
from ..errors import InvalidInput, JasminAccessError, translating
from ..stores import resolve
from .rawread import READ_LOCK, close_direct, read_direct
from .sourcerefs import SourceList, SourceRef

__all__ = [
    "READ_LOCK",
    "SourceList",
    "SourceRef",
    "expand_sources",
    "list_groups",
    "open_group",
    "read_slab",
]

log = logging.getLogger(__name__)


def _close_opened(opened: tuple[xr.Dataset, Any]) -> None:
    ds, handle = opened
    ds.close()
    if handle is not None:
        handle.close()


_cache: BoundedCache[tuple[str, str], tuple[xr.Dataset, Any]] = BoundedCache(
    24, on_evict=_close_opened
)


def _mtime(info: dict[str, Any]) -> float | None:
    value = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _ref(backend: Backend, path: str, url: str) -> SourceRef:
    try:
        info = backend.fs.info(path)
    except FileNotFoundError:
        raise InvalidInput(f"source {url} does not exist", "check the path or URL") from None
    if info.get("type") == "directory":
        raise InvalidInput(f"source {url} is a directory", "give files or a glob such as dir/*.nc")
    etag = info.get("ETag") or info.get("etag")
    size = int(info.get("size") or 0)
    return SourceRef(url, backend, path, size, _mtime(info), str(etag).strip('"') if etag else None)


def _read_list_file(item: str) -> list[str]:
    path = Path(item[1:]).expanduser()
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise InvalidInput(
            f"cannot read list file {path}: {exc.strerror}", "check the name"
        ) from None
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def _expand_glob(item: str, resolve_kwargs: dict[str, Any]) -> list[SourceRef]:
    loc = resolve(item, **resolve_kwargs)
    store = loc.backend.caps.buckets and not loc.backend.caps.local_path
    with translating("reading source", loc.url, loc.profile_name):
        level = loc.backend.glob_level(loc.path) if store else None  # sizes and all: one listing
        found = [o.path for o in level] if level is not None else loc.backend.glob(loc.path, True)
        if not found:
            raise InvalidInput(
                f"no files match {item}", "check the pattern (quote it in the shell)"
            )
        urls = {loc.to_url(p): p for p in found}
        ordered = paths.natural_sorted(urls)
        listed = (
            {o.path: o for o in level}
            if level is not None
            else _listed_many(loc.backend, [urls[u] for u in ordered])
        )
        return [
            _from_listing(urls[u], u, loc.backend, listed[urls[u]])
            if urls[u] in listed
            else _ref(loc.backend, urls[u], u)
            for u in ordered
        ]


#: Files named in one remote directory from which one listing replaces a HEAD per file.
LIST_AT_LEAST = 16
_HEAD_THREADS = 16


def _listed(backend: Backend, parent: str, wanted: set[str]) -> dict[str, Any]:
    """Listing entries of ``parent`` that are in ``wanted`` (nothing when listing is refused).

    The client's cached copy of the listing (a dict per key) is dropped: the
    sources keep what they need, and a list of 100,000 objects would otherwise
    hold about a kilobyte per object for the whole run.
    """
    try:
        objs, _ = backend.list_level(parent)
    except Exception as exc:  # public buckets may refuse listings: HEAD each file instead
        log.info("cannot list %s (%s): one HEAD per source", parent, exc)
        return {}
    finally:
        if "fs" in vars(backend):  # a listing through the filesystem (not obstore) is cached
            backend.fs.invalidate_cache(parent)
    return {o.path: o for o in objs if o.path in wanted}


def _listed_many(backend: Backend, fs_paths: list[str]) -> dict[str, Any]:
    """Listing entries of ``fs_paths`` on an object store, one listing per parent of 16 or more.

    A glob has just listed these parents, so the listings usually come from
    the filesystem's cache: no request, and no lookup per file in that cache.
    """
    if not backend.caps.buckets or backend.caps.local_path:
        return {}
    by_parent: dict[str, set[str]] = {}
    for p in fs_paths:
        by_parent.setdefault(backend.parent(p), set()).add(p)
    found: dict[str, Any] = {}
    for parent, wanted in by_parent.items():
        if len(wanted) >= LIST_AT_LEAST:
            found.update(_listed(backend, parent, wanted))
    return found


def _obj_time(obj: Any) -> float:
    """A listing entry's modification time in seconds (NaN when unknown)."""
    mtime = obj.mtime.timestamp() if hasattr(obj.mtime, "timestamp") else obj.mtime
    return math.nan if mtime is None else mtime


def _from_listing(path: str, url: str, backend: Backend, obj: Any) -> SourceRef:
    mtime = _obj_time(obj)
    return SourceRef(
        url, backend, path, int(obj.size), None if math.isnan(mtime) else mtime, obj.etag
    )


Named = tuple[Backend, str, str]  # (backend, fs path, URL)


def _resolve_named(items: list[str], resolve_kwargs: dict[str, Any]) -> list[Named]:
    """Each item's backend, path and URL (no :class:`Location` kept per line).

    The config file is read once for the whole list, not once per line.
    """
    kw = dict(resolve_kwargs)
    if kw.get("config") is None:
        try:
            kw["config"] = load_config()
        except JasminAccessError:  # a broken config: each line that needs it says so
            kw.pop("config", None)
    out = []
    for item in items:
        loc = resolve(item, **kw)
        out.append((loc.backend, loc.path, item if loc.url == item else loc.url))  # one string
    return out


def _expand_named(items: list[str], resolve_kwargs: dict[str, Any]) -> SourceList:
    """Sources named one by one, in order: listed per object-store prefix, else one HEAD each.

    A ``@list.txt`` of thousands of objects then costs a listing page per
    thousand keys instead of a request per file.
    """
    locs = _resolve_named(items, resolve_kwargs)
    groups: dict[tuple[int, str], list[int]] = {}
    for i, (backend, path, _) in enumerate(locs):
        if backend.caps.buckets and not backend.caps.local_path:  # object stores
            groups.setdefault((id(backend), backend.parent(path)), []).append(i)
    n = len(locs)
    sizes, times = array("q", bytes(8 * n)), array("d", [math.nan]) * n  # from the listings
    tags: list[str | None] = [None] * n
    got = bytearray(n)  # 1 where a listing gave the source
    for (_, parent), idx in groups.items():
        if len(idx) < LIST_AT_LEAST:
            continue
        backend = locs[idx[0]][0]
        with translating("listing", backend.to_url(parent), backend.profile_name):
            listed = _listed(backend, parent, {locs[i][1] for i in idx})
        for i in idx:
            obj = listed.get(locs[i][1])
            if obj is not None:
                sizes[i], times[i], tags[i], got[i] = int(obj.size), _obj_time(obj), obj.etag, 1
    del groups

    def one(i: int) -> SourceRef:
        backend, path, url = locs[i]
        with translating("reading source", url, backend.profile_name):
            return _ref(backend, path, url)

    remote = [i for i in range(n) if not got[i] and not locs[i][0].caps.local_path]
    with ThreadPoolExecutor(_HEAD_THREADS, thread_name_prefix="sources") as pool:
        heads = dict(zip(remote, pool.map(one, remote), strict=True)) if remote else {}
    out = SourceList()
    for i, (backend, path, url) in enumerate(locs):  # in order: the first error is raised
        if got[i]:
            mtime = times[i]
            out.add(url, backend, path, sizes[i], None if math.isnan(mtime) else mtime, tags[i])
            tags[i] = None
        else:
            out.append(heads.pop(i) if i in heads else one(i))
    return out


def expand_sources(sources: Any, **resolve_kwargs: Any) -> SourceList:
    """Expand paths, globs, ``@list`` files and URLs into source references.

    Parameters
    ----------
    sources
        One item or a list of items; globs are expanded in natural order,
        ``@file`` items name a text file with one source per line.
    **resolve_kwargs
        ``profile``, ``endpoint_url``, ``anon`` for :func:`jasmin_access.resolve`.

    Returns
    -------
    SourceList
        In the order given, each glob sorted naturally; duplicates dropped
        (a sequence of :class:`SourceRef` kept as columns).

    Raises
    ------
    InvalidInput
        For an empty selection, a missing file or an empty glob.
    """
    items = [sources] if isinstance(sources, str | Path) else list(sources)
    entries: list[str] = []
    for raw in items:
        item = str(raw)
        entries.extend(_read_list_file(item) if item.startswith("@") else [item])
    entries = list(dict.fromkeys(entries))  # the same line twice is one source
    named = [e for e in entries if not paths.has_magic(e)]
    if named and len(named) == len(entries):  # a list of files: no glob to merge in
        del entries
        out = _expand_named(named, resolve_kwargs)
        same = all(u == n for u, n in zip(out.urls(), named, strict=True))  # lines are unique
        if same or len(set(out.urls())) == len(out):  # else two lines may name one file
            return out
        entries = named
        by_name = iter(out)
    else:
        by_name = iter(_expand_named(named, resolve_kwargs)) if named else iter(())
    refs = SourceList()
    seen: set[str] = set()
    for entry in entries:
        magic = paths.has_magic(entry)
        for ref in _expand_glob(entry, resolve_kwargs) if magic else [next(by_name)]:
            if ref.url not in seen:
                seen.add(ref.url)
                refs.append(ref)
    if not refs:
        raise InvalidInput("no source files given", "name NetCDF files, globs or @list.txt")
    return refs


# --------------------------------------------------------------------------- opening


def _magic(ref: SourceRef) -> bytes:
    with ref.fs.open(ref.path, "rb") as f:
        return bytes(f.read(8))


def _engine(ref: SourceRef) -> str:
    head = _magic(ref)
    if head.startswith(b"\x89HDF"):
        return "netcdf4" if ref.local else "h5netcdf"
    if head.startswith(b"CDF"):
        return "netcdf4" if ref.local else "scipy"
    raise InvalidInput(f"{ref.url} is not a NetCDF file", "remove it from the sources")


def _open_uncached(ref: SourceRef, group: str) -> tuple[xr.Dataset, Any]:
    engine = _engine(ref)
    backend = ref.backend
    handle = (
        None
        if backend is None or ref.local
        else backend.open_random(ref.path, 4 << 20, "readahead")
    )
    target = handle if handle is not None else ref.path
    kwargs: dict[str, Any] = {"group": group} if group else {}
    try:
        ds = xr.open_dataset(
            target, engine=engine, decode_cf=False, cache=False, chunks=None, **kwargs
        )
    except JasminAccessError:
        raise
    except OSError as exc:
        if handle is not None:
            handle.close()
        if group:
            raise InvalidInput(f"{ref.url}: cannot open group '{group}'", str(exc)) from None
        raise InvalidInput(f"{ref.url} is not a readable NetCDF file: {exc}", "") from None
    except Exception as exc:
        if handle is not None:
            handle.close()
        raise InvalidInput(f"{ref.url} is not a readable NetCDF file ({exc})", "") from None
    phony = [str(d) for d in ds.dims if str(d).startswith("phony_dim_")]
    if phony:  # netCDF-4 invents these for plain HDF5 datasets without dimension scales
        ds.close()
        if handle is not None:
            handle.close()
        raise InvalidInput(
            f"{ref.url} is an HDF5 file without NetCDF dimensions, not a NetCDF file",
            "convert NetCDF files only: remove it from the sources",
        )
    return ds, handle


def open_group(ref: SourceRef, group: str = "") -> xr.Dataset:
    """Open one group of a source raw (``decode_cf=False``), cached per process.

    Parameters
    ----------
    ref
        The source.
    group
        Group path (``""`` for the root group).
    """
    key = (ref.url, group)
    with READ_LOCK:
        return _cache.get_or_make(key, lambda: _open_uncached(ref, group))[0]


def close_all() -> None:
    """Close every cached source."""
    close_direct()
    with READ_LOCK:
        _cache.clear(close=_close_opened)


def list_groups(ref: SourceRef) -> list[str]:
    """Paths of all groups in a source (``""`` for the root), parents first."""
    _engine(ref)  # raises for files that are not NetCDF
    if _magic(ref).startswith(b"CDF"):
        return [""]
    import h5netcdf

    try:
        with READ_LOCK, ref.fs.open(ref.path, "rb") as handle, h5netcdf.File(handle, "r") as f:
            out = [""]
            stack = [(f, "")]
            while stack:
                node, prefix = stack.pop()
                for name in sorted(node.groups):
                    path = paths.join(prefix, name)
                    out.append(path)
                    stack.append((node.groups[name], path))
    except OSError as exc:
        reason = str(exc).split("(", 1)[-1].rstrip(")") if "(" in str(exc) else str(exc)
        raise InvalidInput(
            f"{ref.url} is not a readable NetCDF file ({reason})", "re-copy or remove it"
        ) from None
    return out


def read_slab(ref: SourceRef, group: str, name: str, selection: tuple[slice, ...]) -> np.ndarray:
    """Read raw values of one variable over a selection (thread-safe).

    Deflated variables of local NetCDF4 files are inflated outside the lock
    (:mod:`jasmin_access.conversion.rawread`); everything else goes through
    netCDF4/h5netcdf/scipy with the lock held.
    """
    direct = read_direct(ref, group, name, selection)
    if direct is not None:
        return direct
    ds = open_group(ref, group)
    with READ_LOCK:
        values = ds[name].variable[selection].values
    if values.dtype.kind == "U":
        values = values.astype(object)
    return np.asarray(values)
