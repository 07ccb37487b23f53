"""Chunk objects encoded exactly as zarr would write them, stored without zarr's write path.

A work unit of a non-sharded array is one chunk.  Instead of
``zarr.Array.__setitem__`` (which round-trips through zarr's event loop for
every chunk) a unit is encoded here with the array's own codec pipeline, run
synchronously in the calling thread, and the bytes are PUT directly:

- partial chunks at the array's edges are padded with the fill value, as zarr
  does;
- a chunk equal to the fill value everywhere is not stored (zarr's default
  ``write_empty_chunks=False``); any object left at its key by an earlier
  crashed run is deleted;
- sharded arrays and codecs without a synchronous encoder (Zarr v2) fall back
  to zarr's pipeline for the encoding; sharded arrays keep zarr's write path.

Uploads to S3 are coroutines on the filesystem's event loop, so many can be in
flight while other threads read and compress (:func:`start_put`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..caches import BoundedCache

__all__ = [
    "EncodedChunk",
    "encode_unit",
    "encoder_for",
    "prime_encoders",
    "put_sync",
    "start_put",
]

_encoders: BoundedCache[tuple[str, str, str], ChunkEncoder | None] = BoundedCache(256)


@dataclass(frozen=True)
class EncodedChunk:
    """One chunk ready to store: its key under the store root and its bytes.

    ``data`` is None for a chunk that is all fill value (delete, do not write).
    """

    key: str
    data: bytes | None


class ChunkEncoder:
    """Encodes whole chunks of one array with the array's codecs."""

    def __init__(self, array: Any) -> None:
        from zarr.core.buffer import default_buffer_prototype
        from zarr.core.codec_pipeline import fill_value_or_default

        from ..reading.chunkread import pipeline_codecs

        inner = array._async_array
        self.path = array.path
        self.metadata = array.metadata
        self.chunks = tuple(array.chunks)
        self.codecs = pipeline_codecs(array)
        self.pipeline = inner.codec_pipeline
        self.prototype = default_buffer_prototype()
        self.spec = self.metadata.get_chunk_spec(
            (0,) * len(self.chunks), inner.config, self.prototype
        )
        self.fill = fill_value_or_default(self.spec)
        self.dtype = self.spec.dtype.to_native_dtype()
        self.write_empty = bool(self.spec.config.write_empty_chunks)
        self.sync = all(hasattr(c, "_encode_sync") for c in self.codecs)

    def _pad(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=self.dtype)
        if values.shape == self.chunks:
            return values
        out = np.full(self.chunks, self.fill, dtype=self.dtype)
        out[tuple(slice(0, n) for n in values.shape)] = values
        return out

    def encode(self, selection: tuple[slice, ...], values: np.ndarray) -> EncodedChunk:
        """Encode the chunk starting at ``selection`` (one whole chunk, edge-padded)."""
        coords = tuple(s.start // c for s, c in zip(selection, self.chunks, strict=True))
        name = self.metadata.encode_chunk_key(coords)
        key = f"{self.path}/{name}" if self.path else name
        padded = self._pad(values)
        buf = self.prototype.nd_buffer.from_numpy_array(padded)
        if not self.write_empty and self._may_be_empty(padded) and buf.all_equal(self.fill):
            return EncodedChunk(key, None)
        return EncodedChunk(key, self._encode(buf))

    def _may_be_empty(self, values: np.ndarray) -> bool:
        """False when a few probed values already differ from the fill value.

        Comparing a whole chunk with the fill value costs about 5 ms per
        12 MB; almost every chunk of model output is told apart by its first,
        middle or last value.  The probe uses zarr's own comparison.
        """
        flat = values.reshape(-1)
        if flat.size <= 3:
            return True
        probe = flat[[0, flat.size // 2, flat.size - 1]]
        return bool(self.prototype.nd_buffer.from_numpy_array(probe).all_equal(self.fill))

    def _encode(self, buf: Any) -> bytes:
        if not self.sync:
            from zarr.core.sync import sync

            (out,) = sync(self.pipeline.encode([(buf, self.spec)]))
            return bytes(out.to_bytes())
        spec, data = self.spec, buf
        for codec in self.codecs:
            data = codec._encode_sync(data, spec)
            spec = codec.resolve_metadata(spec)
        return bytes(data.to_bytes())


def _encoder(store: Any, array_path: str) -> ChunkEncoder | None:
    import zarr

    array = zarr.open_array(store, path=array_path, mode="r")
    sharded = getattr(array, "shards", None) is not None
    plain = np.dtype(array.dtype).kind in "biufcmM"
    return ChunkEncoder(array) if plain and not sharded else None


def encoder_for(target: Any, array_path: str) -> ChunkEncoder | None:
    """The encoder of an array of ``target``, or None when zarr must write it (shards)."""
    key = (target.run_id, target.path, array_path)
    if key not in _encoders:  # None is a valid answer: zarr writes that array
        _encoders[key] = _encoder(target.zarr_store(read_only=True), array_path)
    return _encoders.get(key)


def prime_encoders(target: Any, template: Any, array_paths: list[str]) -> None:
    """Build this process's encoders from the in-memory template (no reads from the store).

    Parameters
    ----------
    target
        The store being written (:class:`~jasmin_access.conversion.writer.StoreTarget`).
    template
        The zarr store holding the same metadata (a ``MemoryStore``).
    array_paths
        Arrays written unit by unit.
    """
    for path in array_paths:
        _encoders[(target.run_id, target.path, path)] = _encoder(template, path)


def clear_encoders() -> None:
    """Forget the cached encoders (their stores are being closed)."""
    _encoders.clear()


def encode_unit(target: Any, unit: Any) -> EncodedChunk | None:
    """Read and encode one unit; None when zarr's own path must write it."""
    from .plan import read_unit

    encoder = encoder_for(target, unit.array)
    if encoder is None:
        return None
    return encoder.encode(unit.selection, read_unit(unit))


def _is_async(fs: Any) -> bool:
    return bool(getattr(fs, "async_impl", False)) and getattr(fs, "loop", None) is not None


async def _delete(fs: Any, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        await fs._rm_file(path)


def _delete_sync(fs: Any, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(path)


def put_sync(target: Any, chunk: EncodedChunk) -> None:
    """Store (or delete, for an all-fill chunk) one encoded chunk, blocking."""
    path = target.key(chunk.key)
    if chunk.data is None:
        _delete_sync(target.fs, path)
    else:
        target.fs.pipe_file(path, chunk.data)


def start_put(target: Any, chunk: EncodedChunk) -> concurrent.futures.Future[Any] | None:
    """Start storing a chunk on the S3 event loop; None if the filesystem is not async."""
    fs = target.fs
    if not _is_async(fs):
        return None
    path = target.key(chunk.key)
    coro = _delete(fs, path) if chunk.data is None else fs._pipe_file(path, chunk.data)
    return asyncio.run_coroutine_threadsafe(coro, fs.loop)
