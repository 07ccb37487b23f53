"""Reading Zarr arrays chunk by chunk: many GETs in flight, decoding in threads.

zarr-python fetches the chunks of a selection concurrently, then decodes them
and copies each into the result on its own event loop.  Here the chunk objects
of a selection are fetched on zarr's event loop (through the same store, so
caching, request counting and metadata handling are unchanged) and each one is
decoded by a thread of a small pool as soon as it arrives, straight into its
place in the result: the network and the decompressor work at the same time,
on every core.  Decoding uses the array's own codecs, so values are exactly
what zarr returns.

:class:`ZarrChunkArray` exposes this to xarray as a lazily indexed backend
array.  Arrays this module cannot read (sharded, strings, codecs without a
synchronous decoder) keep zarr's own path.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from ..caches import BoundedCache
from .prefix import prefix_plan, read_prefix, values_from_prefix

__all__ = [
    "ChunkReader",
    "ZarrChunkArray",
    "chunk_read_variables",
    "chunk_reader",
    "pipeline_codecs",
    "read_by_chunks",
]

log = logging.getLogger(__name__)

#: Chunk GETs in flight per read.
FETCH_CONCURRENCY = 16
_pools: BoundedCache[int, ThreadPoolExecutor] = BoundedCache(1)  # this process's only


def _decoder_pool() -> ThreadPoolExecutor:
    """This process's decoding threads (a forked child must not use its parent's)."""
    workers = max(2, min(8, os.cpu_count() or 2))
    return _pools.get_or_make(
        os.getpid(), lambda: ThreadPoolExecutor(workers, thread_name_prefix="jasmin-decode")
    )


def pipeline_codecs(array: Any) -> list[Any]:
    """A zarr array's codecs in encoding order: array-to-array, array-to-bytes, bytes-to-bytes."""
    pipeline = array._async_array.codec_pipeline
    return [
        *pipeline.array_array_codecs,
        pipeline.array_bytes_codec,
        *pipeline.bytes_bytes_codecs,
    ]


class ChunkReader:
    """Reads rectangular selections of one (non-sharded, numeric) zarr array."""

    def __init__(self, array: Any, mask: tuple[Any, ...] = ()) -> None:
        from zarr.core.buffer import default_buffer_prototype
        from zarr.core.codec_pipeline import fill_value_or_default

        inner = array._async_array
        self.store = inner.store_path.store
        self.prefix = inner.store_path.path
        self.metadata = inner.metadata
        self.shape = tuple(array.shape)
        self.chunks = tuple(array.chunks)
        self.prototype = default_buffer_prototype()
        spec = self.metadata.get_chunk_spec((0,) * len(self.chunks), inner.config, self.prototype)
        self.fill = fill_value_or_default(spec)
        self.dtype = spec.dtype.to_native_dtype()
        codecs = pipeline_codecs(array)
        self._stages: list[tuple[Any, Any]] = []  # (codec, spec it decodes to), last first
        for codec in codecs:
            self._stages.append((codec, spec))
            spec = codec.resolve_metadata(spec)
        self._stages.reverse()
        self._direct = _direct_decoder(codecs, self.dtype)
        #: chunks may be read by their start alone (see :mod:`.prefix`)
        self._prefix = (
            _zstd_without_checksum(codecs)
            and self._direct is not None
            and not _verifies_whole_objects(self.store)
            and _HAVE_ZSTANDARD
        )
        #: CF fill values replaced by NaN while decoding (float arrays only)
        self.mask = tuple(v for v in mask if not np.isnan(v))

    def _key(self, coords: tuple[int, ...]) -> str:
        name = self.metadata.encode_chunk_key(coords)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _decode_into(self, raw: Any, target: np.ndarray, inside: tuple[slice, ...]) -> None:
        whole = target.shape == self.chunks and target.flags.c_contiguous
        if whole and self._direct is not None:
            self._direct.decode(raw.as_numpy_array(), out=target)  # no intermediate copy
        else:
            data = raw
            for codec, spec in self._stages:
                data = codec._decode_sync(data, spec)
            target[...] = data.as_numpy_array()[inside]
        self._apply_mask(target)

    def _apply_mask(self, target: np.ndarray) -> None:
        for value in self.mask:
            np.putmask(target, target == value, np.nan)

    async def _read(self, out: np.ndarray, selection: tuple[slice, ...]) -> None:
        pool = _decoder_pool()
        limit = asyncio.Semaphore(FETCH_CONCURRENCY)
        ranges = [
            range(s.start // c, (s.stop - 1) // c + 1)
            for s, c in zip(selection, self.chunks, strict=True)
        ]

        async def one(coords: tuple[int, ...]) -> None:
            inside, where = [], []
            for i, s, c in zip(coords, selection, self.chunks, strict=True):
                lo, hi = max(s.start, i * c), min(s.stop, (i + 1) * c)
                inside.append(slice(lo - i * c, hi - i * c))
                where.append(slice(lo - s.start, hi - s.start))
            await self._chunk(self._key(coords), out[tuple(where)], tuple(inside), limit, pool)

        await asyncio.gather(*(one(c) for c in itertools.product(*ranges)))

    async def _chunk(
        self, key: str, target: np.ndarray, inside: tuple[slice, ...], limit: Any, pool: Any
    ) -> None:
        """Chunk ``key``'s values ``inside`` into ``target``: fetched whole, or only its start.

        ``limit`` bounds the GETs in flight; decoding runs in ``pool`` as each
        chunk arrives.
        """
        plan = prefix_plan(self.chunks, self.dtype.itemsize, inside) if self._prefix else None
        if plan is not None:
            async with limit:
                start = await read_prefix(self.store, key, self.prototype, plan, pool)
            found = start is not None
            if found:
                target[...] = values_from_prefix(start, self.dtype, plan)
        else:
            async with limit:
                raw = await self.store.get(key, self.prototype)
            found = raw is not None
            if found:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(pool, self._decode_into, raw, target, inside)
                return  # masked while decoding
        if not found:  # not stored: the fill value
            target[...] = self.fill
        self._apply_mask(target)

    def read(self, selection: tuple[slice, ...]) -> np.ndarray:
        """Values of ``selection`` (one ``slice(start, stop)`` per axis, step 1)."""
        from zarr.core.sync import sync

        out = np.empty(tuple(s.stop - s.start for s in selection), dtype=self.dtype)
        if out.size:
            sync(self._read(out, selection))
        return out


def _direct_decoder(codecs: list[Any], dtype: np.dtype[Any]) -> Any:
    """A numcodecs decoder writing a chunk straight into an array, when one exists.

    Only for the common pipeline "bytes (native order), then one compressor":
    zstd or blosc, whose decoders can fill a given buffer.
    """
    import numcodecs
    from zarr.codecs import BloscCodec, BytesCodec, ZstdCodec

    if len(codecs) != 2 or not isinstance(codecs[0], BytesCodec):
        return None
    if dtype.itemsize > 1 and dtype.byteorder not in ("=", "|", "<" if _LITTLE else ">"):
        return None
    endian = getattr(codecs[0].endian, "value", codecs[0].endian)
    if dtype.itemsize > 1 and endian not in (None, "little" if _LITTLE else "big"):
        return None
    if isinstance(codecs[1], ZstdCodec):
        return numcodecs.Zstd()
    if isinstance(codecs[1], BloscCodec):
        return numcodecs.Blosc()
    return None


_LITTLE = np.little_endian
#: the streaming decoder prefix reads need; without it chunks are read whole
_HAVE_ZSTANDARD = importlib.util.find_spec("zstandard") is not None


def _verifies_whole_objects(store: Any) -> bool:
    """True when ``store`` or a store it wraps checks whole objects (a datastore version)."""
    for _depth in range(8):
        if store is None or getattr(type(store), "verifies_whole_objects", False):
            return store is not None
        store = getattr(store, "_store", None)
    return False


def _zstd_without_checksum(codecs: list[Any]) -> bool:
    from zarr.codecs import ZstdCodec

    return len(codecs) == 2 and isinstance(codecs[1], ZstdCodec) and not codecs[1].checksum


def chunk_reader(array: Any, mask: tuple[Any, ...] = ()) -> ChunkReader | None:
    """A :class:`ChunkReader` for ``array``, or None when zarr must read it itself."""
    if getattr(array, "shards", None) is not None:
        return None
    if np.dtype(array.dtype).kind not in "biufcmM" or array.ndim == 0:
        return None
    if not all(hasattr(c, "_decode_sync") for c in pipeline_codecs(array)):
        return None
    try:
        return ChunkReader(array, mask)
    except (AttributeError, TypeError, ValueError) as exc:  # an unfamiliar array: zarr reads it
        log.debug("zarr reads %s itself (%s)", array.path, exc)
        return None


def _bounds(key: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[tuple[slice, ...], tuple]:
    """(step-1 slices covering a basic indexer, indexer applying it to that block)."""
    block, post = [], []
    for k, n in zip(key, shape, strict=True):
        if isinstance(k, slice):  # read the span the slice covers, then step through it
            span = range(*k.indices(n))
            lo, hi = (min(span), max(span) + 1) if span else (0, 0)
            block.append(slice(lo, hi))
            post.append(slice(None, None, span.step))
        else:
            i = int(k) + (n if int(k) < 0 else 0)
            block.append(slice(i, i + 1))
            post.append(0)
    return tuple(block), tuple(post)


class ZarrChunkArray(BackendArray):
    """A zarr array for xarray, read through :class:`ChunkReader` (basic indexing)."""

    def __init__(self, array: Any, reader: ChunkReader) -> None:
        self.array = array
        self.reader = reader
        self.shape = tuple(array.shape)
        self.dtype = np.dtype(reader.dtype)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> Any:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._getitem
        )

    def _getitem(self, key: tuple[Any, ...]) -> np.ndarray:
        block, post = _bounds(key, self.shape)
        return self.reader.read(block)[post]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.array, self.reader.mask))


def _rebuild(array: Any, mask: tuple[Any, ...]) -> ZarrChunkArray:
    reader = chunk_reader(array, mask)
    if reader is None:  # pragma: no cover - it was readable when pickled
        raise ValueError(f"cannot read {array.path} chunk by chunk")
    return ZarrChunkArray(array, reader)


_MASK_ATTRS = ("_FillValue", "missing_value")


def _mask_values(var: Any) -> tuple[Any, ...] | None:
    """Fill values to mask while decoding, or None to leave masking to xarray.

    Only unpacked float variables: their CF decoding is exactly "fill values
    become NaN", which the decoding threads do chunk by chunk in place instead
    of xarray doing it afterwards over the whole result.
    """
    if var.dtype.kind != "f" or "scale_factor" in var.attrs or "add_offset" in var.attrs:
        return None
    values = []
    for key in _MASK_ATTRS:
        raw = var.attrs.get(key)
        if raw is None:
            continue
        found = np.atleast_1d(np.asarray(raw))
        if found.dtype.kind not in "iuf":
            return None
        values.extend(found.astype(var.dtype).tolist())
    return tuple(values)


def read_by_chunks(ds: Any, group: Any, mask_and_scale: bool = True) -> Any:
    """``ds`` (opened raw from ``group``) with its zarr-backed arrays read by :class:`ChunkReader`.

    With ``mask_and_scale``, unpacked float variables are masked while their
    chunks are decoded and their fill-value attributes move to ``encoding``,
    where xarray's CF decoding would have put them.  Index coordinates
    (already in memory) and arrays zarr must read itself are left as they are;
    no index is made for a dimension coordinate that has none.
    """
    import xarray as xr

    out = ds.copy()
    coords = {}
    for name, var in ds.variables.items():
        if name in ds.xindexes or var.ndim == 0 or name not in group:
            continue
        mask = _mask_values(var) if mask_and_scale else None
        array = group[name]
        reader = chunk_reader(array, mask or ())
        if reader is None:
            continue
        attrs, encoding = dict(var.attrs), dict(var.encoding)
        if mask:
            for key in _MASK_ATTRS:
                if key in attrs:
                    encoding[key] = attrs.pop(key)
        data = indexing.LazilyIndexedArray(ZarrChunkArray(array, reader))
        new = xr.Variable(var.dims, data, attrs, encoding)
        if name in ds.coords:
            coords[name] = new
        else:
            out[name] = new
    # a dimension coordinate without an index keeps none (it gets a lazy one later)
    return out.assign_coords(xr.Coordinates(coords, indexes={})) if coords else out


def chunk_read_variables(ds: Any) -> set[str]:
    """Names of the variables of ``ds`` read by :func:`read_by_chunks` (each read allocates)."""
    return {
        str(name)
        for name, var in ds.variables.items()
        if isinstance(getattr(var._data, "array", None), ZarrChunkArray)
    }
