"""Dask chunks for reading: whole multiples of the storage chunks, as large as allowed.

One Dask task per storage chunk (xarray's default) spends its time on
per-request latency and leaves decoding to as many threads as Dask has.  A
task here reads all its chunks at once: they are fetched concurrently and
decoded by a pool of threads as they arrive
(:mod:`jasmin_access.reading.chunkread`), so a task keeps the network and every
core busy by itself.  ``auto_chunk`` therefore grows each variable's storage
chunk, record dimension first, up to the whole variable or 512 MiB per task:
loading a variable of up to 512 MiB is one task, with no copy to join task
results, and larger variables stream through tasks of about 512 MiB.
"""

from __future__ import annotations

import math
from typing import Any

import xarray as xr

__all__ = ["MAX_TASK_BYTES", "auto_chunk", "chunk_plan"]

MAX_TASK_BYTES = 512 * 1024 * 1024


def _storage_chunks(var: xr.Variable) -> dict[str, int]:
    preferred = var.encoding.get("preferred_chunks")
    if preferred:
        return {str(d): int(preferred.get(d, n)) for d, n in var.sizes.items()}
    chunks = var.encoding.get("chunks") or var.encoding.get("chunksizes")
    if chunks and len(chunks) == var.ndim:
        return {str(d): int(c) for d, c in zip(var.dims, chunks, strict=True)}
    return {str(d): int(n) for d, n in var.sizes.items()}


def chunk_plan(var: xr.Variable, record_dim: str | None) -> dict[str, int]:
    """Dask chunks for ``var``: multiples of its storage chunks (see module docstring)."""
    storage = _storage_chunks(var)
    itemsize = var.dtype.itemsize or 8
    current = itemsize * math.prod(storage.values())
    target = max(min(var.nbytes, MAX_TASK_BYTES), current)
    plan = dict(storage)
    order = [record_dim] if record_dim in plan else []
    order += [d for d in plan if d != record_dim]
    for dim in order:
        most = math.ceil(var.sizes[dim] / storage[dim])
        factor = max(1, min(most, int(target // current)))
        plan[dim] = min(storage[dim] * factor, var.sizes[dim])
        current *= factor
        if factor < most:
            break
    return plan


def auto_chunk(ds: xr.Dataset, record_dim: str | None) -> xr.Dataset:
    """Chunk every non-index variable of a lazily opened dataset with :func:`chunk_plan`."""
    out = ds.copy()
    for name, var in ds.variables.items():
        if name in ds.indexes or var.ndim == 0:
            continue
        chunked: Any = var.chunk(chunk_plan(var, record_dim))
        if name in ds.coords:
            out.coords[name] = chunked
        else:
            out[name] = chunked
    return out
