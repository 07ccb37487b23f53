"""What planning needs from one source file, read with one open.

A :class:`FileHead` holds, per group, the dimensions, every variable's
dimensions, shape, dtype and attributes, the values of the 1-D variables
along the record dimension (times, for ordering and checks) and a digest of
the values of the variables without it (to check that files agree).  Nothing
else is read: a head is a few KB whatever the file's size.

Local files are opened once with netCDF4.  A remote file no larger than
:data:`HEADER_BLOCK` (its size known from the listing) is fetched whole by one
GET of its backend (:meth:`~jasmin_access.backends.base.Backend.read_bytes`;
on S3 through the compiled client, whose signing and HTTP cost the client
about 0.15 ms a file) and read by netCDF4 from memory (h5py's Python layer
costs about ten times more CPU per file).  Larger files are read through one
fsspec file whose block cache is sized for headers: NetCDF4/HDF5 ones by
h5netcdf, the rest of their header by further ranged reads; NetCDF3 ones
through xarray's scipy reader.

:func:`read_heads` reads many files at once, a bounded number at a time, in
order: small remote files are fetched by their backend
(:meth:`~jasmin_access.backends.base.Backend.read_many`) while this thread
parses the ones already fetched, the others are read on a thread pool; a file
that cannot be read is named in the error.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NoReturn

import numpy as np

from .. import paths
from ..backends.fanout import in_order
from ..errors import InvalidInput, JasminAccessError, translate, translating
from .sourcerefs import pick
from .sources import READ_LOCK, SourceRef, open_group

__all__ = ["FileHead", "GroupHead", "VarHead", "digest", "read_head", "read_heads"]

log = logging.getLogger(__name__)

RECORD_NAMES = ("time_counter", "time")
HASH_LIMIT = 16 << 20
HEADER_BLOCK = 256 << 10
_THREADS = {True: 32, False: 4}  # remote (about 15 ms a request), local


def digest(values: np.ndarray) -> str:
    """A digest of an array's values and shape, NaN equal to NaN."""
    if values.dtype.kind in "fc":  # one NaN bit pattern, so NaN equals NaN
        values = np.where(np.isnan(values), np.array(np.nan, dtype=values.dtype), values)
    if values.dtype == object:
        data = "\x00".join(map(str, values.ravel())).encode()
    else:
        data = np.ascontiguousarray(values).tobytes()
    return hashlib.sha1(data + str(values.shape).encode()).hexdigest()


@dataclass
class VarHead:
    """One variable of one file: what the scan compares and plans with."""

    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    attrs: dict[str, Any]
    values: np.ndarray | None = None
    digest: str | None = None


@dataclass
class GroupHead:
    """One group of one file (the names mirror an xarray Dataset's)."""

    variables: dict[str, VarHead]
    attrs: dict[str, Any]
    unlimited: list[str] = field(default_factory=list)

    @property
    def sizes(self) -> dict[str, int]:
        """Length of every dimension a variable uses."""
        out: dict[str, int] = {}
        for var in self.variables.values():
            out.update(zip(var.dims, var.shape, strict=True))
        return out

    @property
    def dims(self) -> dict[str, int]:
        """Same as :attr:`sizes`."""
        return self.sizes

    @property
    def encoding(self) -> dict[str, Any]:
        """``unlimited_dims``, as xarray reports it."""
        return {"unlimited_dims": set(self.unlimited)}

    def __getitem__(self, name: str) -> VarHead:
        return self.variables[name]


@dataclass
class FileHead:
    """Every group of one source, root (``""``) first."""

    groups: dict[str, GroupHead]


def _record_guess(head: GroupHead, concat_dim: str | None) -> str | None:
    dims = head.sizes
    if concat_dim and concat_dim in dims:
        return concat_dim
    unlimited = [d for d in head.unlimited if d in dims]
    if unlimited:
        return unlimited[0]
    return next((n for n in RECORD_NAMES if n in dims), None)


def _wanted(head: GroupHead, concat_dim: str | None, digests: bool) -> dict[str, str]:
    """Which variables to read: ``"values"`` (1-D along the record dim) or ``"digest"``."""
    rdim = _record_guess(head, concat_dim)
    out = {}
    for name, var in head.variables.items():
        if rdim is not None and var.dims == (rdim,):
            out[name] = "values"
        elif digests and rdim not in var.dims:
            size = int(np.prod(var.shape, dtype=np.int64)) * max(var.dtype.itemsize, 8)
            if size <= HASH_LIMIT:
                out[name] = "digest"
    return out


def _fill(head: GroupHead, read: Any, concat_dim: str | None, digests: bool) -> None:
    for name, what in _wanted(head, concat_dim, digests).items():
        values = np.asarray(read(name))
        if values.dtype.kind == "U":
            values = values.astype(object)
        if what == "values":
            head.variables[name].values = values
        else:
            head.variables[name].digest = digest(values)


def _dtype(dtype: Any) -> np.dtype[Any]:
    if dtype is str or getattr(dtype, "kind", "") in "UO":
        return np.dtype(object)
    return np.dtype(dtype)


# --------------------------------------------------------------------------- netCDF4 (local)


def _nc_attrs(obj: Any, kind: str = "") -> dict[str, Any]:
    attrs = {k: obj.getncattr(k) for k in obj.ncattrs()}
    if kind == "S" and "_FillValue" in attrs:  # as xarray's netCDF4 backend does
        attrs["_FillValue"] = np.bytes_(attrs["_FillValue"])
    return attrs


def _nc_group(node: Any, concat_dim: str | None, digests: bool) -> GroupHead:
    variables = {}
    for name, var in node.variables.items():
        dtype = _dtype(var.dtype)
        variables[str(name)] = VarHead(
            tuple(map(str, var.dimensions)), tuple(var.shape), dtype, _nc_attrs(var, dtype.kind)
        )
    unlimited = [str(n) for n, d in node.dimensions.items() if d.isunlimited()]
    head = GroupHead(variables, _nc_attrs(node), unlimited)
    _fill(head, lambda n: node.variables[n][...], concat_dim, digests)
    return head


def _walk(root: Any) -> Iterator[tuple[str, Any]]:
    """Groups in the order :func:`~jasmin_access.conversion.sources.list_groups` gives."""
    yield "", root
    stack = [(root, "")]
    while stack:
        node, prefix = stack.pop()
        for name in sorted(node.groups):
            path = paths.join(prefix, name)
            yield path, node.groups[name]
            stack.append((node.groups[name], path))


def _read_nc(target: str, concat_dim: str | None, digests: bool, memory: Any = None) -> FileHead:
    """A head through netCDF4: a local path, or a whole small file in ``memory``."""
    import netCDF4

    kwargs = {"memory": memory} if memory is not None else {}
    with READ_LOCK, netCDF4.Dataset(target, "r", **kwargs) as ds:
        ds.set_auto_maskandscale(False)
        ds.set_auto_chartostring(False)
        groups = {}
        for path, node in _walk(ds):
            node.set_auto_maskandscale(False)
            node.set_auto_chartostring(False)
            groups[path] = _nc_group(node, concat_dim, digests)
    return FileHead(groups)


# --------------------------------------------------------------------------- h5netcdf (remote)


def _h5_attrs(obj: Any) -> dict[str, Any]:
    from xarray.backends.h5netcdf_ import _read_attributes

    return dict(_read_attributes(obj))


def _h5_group(node: Any, concat_dim: str | None, digests: bool) -> GroupHead:
    variables = {}
    for name, var in node.variables.items():
        variables[str(name)] = VarHead(
            tuple(map(str, var.dimensions)), tuple(var.shape), _dtype(var.dtype), _h5_attrs(var)
        )
    unlimited = [str(n) for n, d in node.dimensions.items() if d.isunlimited()]
    head = GroupHead(variables, _h5_attrs(node), unlimited)
    _fill(head, lambda n: node.variables[n][...], concat_dim, digests)
    return head


def _read_hdf5_remote(handle: Any, concat_dim: str | None, digests: bool) -> FileHead:
    import h5netcdf

    with READ_LOCK, h5netcdf.File(handle, "r") as f:
        return FileHead({p: _h5_group(n, concat_dim, digests) for p, n in _walk(f)})


def _xr_group(ds: Any, concat_dim: str | None, digests: bool) -> GroupHead:
    variables = {
        str(n): VarHead(tuple(map(str, v.dims)), tuple(v.shape), _dtype(v.dtype), dict(v.attrs))
        for n, v in ds.variables.items()
    }
    unlimited = [str(d) for d in ds.encoding.get("unlimited_dims", ()) or ()]
    head = GroupHead(variables, dict(ds.attrs), unlimited)
    _fill(head, lambda n: ds[n].values, concat_dim, digests)
    return head


def _open_blocks(ref: SourceRef) -> Any:
    """A file cached in header-sized blocks; the size is known, so no HEAD request."""
    if ref.size and ref.fs is not None:
        handle = ref.fs.open(
            ref.path, "rb", block_size=HEADER_BLOCK, cache_type="blockcache", size=ref.size
        )
        if isinstance(getattr(type(handle), "details", None), property):
            # what the listing said, so s3fs sends no HEAD for it; an object replaced
            # since is caught by _check_unchanged when its head does not parse
            handle.details = {"name": ref.path, "size": ref.size, "type": "file"}
        return handle
    assert ref.backend is not None
    return ref.backend.open_random(ref.path, HEADER_BLOCK, "blockcache")


def _fetched_whole(ref: SourceRef) -> bool:
    """True for a remote source read whole by one GET (its size known, one block at most)."""
    return not ref.local and ref.backend is not None and 0 < ref.size <= HEADER_BLOCK


def _from_bytes(ref: SourceRef, data: Any, concat_dim: str | None, digests: bool) -> FileHead:
    """The head of a source fetched whole (``data``: its bytes, or the error reading them)."""
    if isinstance(data, BaseException):
        _raise_read_error(ref, data)
    if len(data) != ref.size:  # replaced since it was listed
        raise _changed(ref, len(data))
    if not data.startswith((b"\x89HDF", b"CDF")):
        raise InvalidInput(f"{ref.url} is not a NetCDF file", "remove it from the sources")
    return _read_nc(ref.name, concat_dim, digests, memory=data)


def _raise_read_error(ref: SourceRef, exc: BaseException) -> NoReturn:
    """Raise ``exc`` as one line naming ``ref``: translated, or as a failed read."""
    profile = ref.backend.profile_name if ref.backend is not None else None
    new = translate(exc, action="reading source", url=ref.url, profile=profile)
    if new is exc:  # not one the backends know: a failed read, not a bad file
        first = (str(exc).splitlines() or [""])[0][:200]
        raise JasminAccessError(
            f"cannot read source {ref.url} ({type(exc).__name__}: {first})",
            "check the connection to the store and run again",
        ) from exc
    raise new from exc


def _changed(ref: SourceRef, now: int) -> InvalidInput:
    return InvalidInput(
        f"{ref.url} changed while the sources were scanned (listed at {ref.size} bytes, now {now})",
        "run the command again once the sources are no longer being written",
    )


def _read_remote(ref: SourceRef, concat_dim: str | None, digests: bool) -> FileHead:
    if _fetched_whole(ref):
        assert ref.backend is not None
        try:
            data: Any = ref.backend.read_bytes(ref.path)
        except Exception as exc:
            data = exc
        return _from_bytes(ref, data, concat_dim, digests)
    try:
        return _read_in_blocks(ref, concat_dim, digests)
    except Exception:
        _check_unchanged(ref)  # a source replaced since it was listed is named as such
        raise


def _check_unchanged(ref: SourceRef) -> None:
    """Raise :func:`_changed` when ``ref``'s object no longer has the listed size or ETag."""
    if not ref.size or ref.backend is None:
        return
    try:
        now = ref.backend.head(ref.path)
    except Exception:  # the first error is the one to report
        return
    if now is not None and (
        now.size != ref.size or (ref.etag and now.etag and now.etag != ref.etag)
    ):
        raise _changed(ref, now.size) from None


def _read_in_blocks(ref: SourceRef, concat_dim: str | None, digests: bool) -> FileHead:
    with translating("reading source", ref.url):  # access denied, unreachable store...
        handle = _open_blocks(ref)
        magic = bytes(handle.read(8))  # the first block, fetched outside the lock
    with handle:
        handle.seek(0)
        known = magic.startswith((b"\x89HDF", b"CDF"))
        if known and ref.size and ref.size <= HEADER_BLOCK:  # the whole file is in the block
            return _read_nc(ref.name, concat_dim, digests, memory=bytes(handle.read()))
        if magic.startswith(b"\x89HDF"):
            return _read_hdf5_remote(handle, concat_dim, digests)
    if magic.startswith(b"CDF"):
        with READ_LOCK:
            return FileHead({"": _xr_group(open_group(ref, ""), concat_dim, digests)})
    raise InvalidInput(f"{ref.url} is not a NetCDF file", "remove it from the sources")


def _check_local_magic(ref: SourceRef) -> None:
    with open(ref.path, "rb") as f:
        magic = f.read(8)
    if not (magic.startswith(b"\x89HDF") or magic.startswith(b"CDF")):
        raise InvalidInput(f"{ref.url} is not a NetCDF file", "remove it from the sources")


# --------------------------------------------------------------------------- entry points


def read_head(ref: SourceRef, concat_dim: str | None = None, digests: bool = True) -> FileHead:
    """Read what planning needs from one source (one open).

    Parameters
    ----------
    ref
        The source.
    concat_dim
        The record dimension asked for, if any (its 1-D variables' values are read).
    digests
        Also digest the values of the variables without the record dimension.

    Raises
    ------
    InvalidInput
        Naming the file, when it is not a readable NetCDF file.
    """
    if not ref.local:
        return _checked(ref, lambda: _read_remote(ref, concat_dim, digests))

    def read_local() -> FileHead:
        _check_local_magic(ref)
        return _read_nc(ref.path, concat_dim, digests)

    return _checked(ref, read_local)


def _checked(ref: SourceRef, read: Any) -> FileHead:
    """``read()``, its failures and HDF5 files without NetCDF dimensions named as ``ref``'s."""
    try:
        head: FileHead = read()
    except JasminAccessError:
        raise
    except FileNotFoundError:
        raise InvalidInput(f"source {ref.url} does not exist", "check the path or URL") from None
    except Exception as exc:
        text = str(exc)
        reason = text.split("(", 1)[-1].rstrip(")") if "(" in text else text
        raise InvalidInput(
            f"{ref.url} is not a readable NetCDF file ({reason})", "re-copy or remove it"
        ) from None
    phony = [d for g in head.groups.values() for d in g.sizes if d.startswith("phony_dim_")]
    if phony:  # netCDF-4 invents these for plain HDF5 datasets without dimension scales
        raise InvalidInput(
            f"{ref.url} is an HDF5 file without NetCDF dimensions, not a NetCDF file",
            "convert NetCDF files only: remove it from the sources",
        )
    return head


def read_heads(
    refs: Iterable[SourceRef], concat_dim: str | None = None, digests: bool = True
) -> Iterator[tuple[SourceRef, FileHead]]:
    """Heads of many sources, read concurrently, yielded in the order given.

    Small remote sources are fetched whole, many at once, by their backend
    (:meth:`~jasmin_access.backends.base.Backend.read_many`) and parsed here,
    one at a time; the others are read on a thread pool.  At most a few
    times the pools' sizes are in flight, so memory does not grow with the
    number of files.
    """
    items = refs if isinstance(refs, Sequence) else list(refs)  # records made as needed
    whole: dict[Any, Iterator[Any]] = {}
    for backend in {id(r.backend): r.backend for r in items if _fetched_whole(r)}.values():
        mine = (r.path for r in items if r.backend is backend and _fetched_whole(r))
        whole[id(backend)] = backend.read_many(mine)
    rest = pick(items, [i for i, r in enumerate(items) if not _fetched_whole(r)])
    others = _read_on_pool(rest, concat_dim, digests)
    try:
        for ref in items:
            if not _fetched_whole(ref):
                yield next(others)
                continue
            data = next(whole[id(ref.backend)])
            yield ref, _checked(ref, partial(_from_bytes, ref, data, concat_dim, digests))
    finally:
        for fetching in whole.values():
            fetching.close()  # type: ignore[attr-defined]
        others.close()


def _read_on_pool(
    items: Sequence[SourceRef], concat_dim: str | None, digests: bool
) -> Iterator[tuple[SourceRef, FileHead]]:
    """:func:`read_head` of each item on a thread pool, yielded in order."""
    if not items:
        return
    threads = _THREADS[any(not r.local for r in items)]
    results = in_order(partial(_head_of, concat_dim, digests), items, threads * 4, threads)
    try:
        for ref, head in zip(items, results, strict=True):
            if isinstance(head, BaseException):
                raise head
            yield ref, head
    finally:
        results.close()  # type: ignore[attr-defined]


def _head_of(concat_dim: str | None, digests: bool, ref: SourceRef) -> FileHead:
    return read_head(ref, concat_dim, digests)
