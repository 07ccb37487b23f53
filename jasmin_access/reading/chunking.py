"""Dask chunks for reading: whole multiples of the storage chunks, sized for the machine.

One Dask task per storage chunk (xarray's default) spends its time on
per-request latency; one task for a whole variable leaves the other cores idle
while it decodes.  ``auto_chunk`` grows each variable's storage chunk, record
dimension first, until a task holds about a quarter of the variable's share per
thread (at most 128 MiB), so every task fetches several chunks at once (zarr
fetches them concurrently) and all threads keep decoding.
"""

from __future__ import annotations

import math
import os
from typing import Any

import xarray as xr

__all__ = ["MAX_TASK_BYTES", "auto_chunk", "chunk_plan"]

MAX_TASK_BYTES = 128 * 1024 * 1024
TASKS_PER_THREAD = 4


def _storage_chunks(var: xr.Variable) -> dict[str, int]:
    preferred = var.encoding.get("preferred_chunks")
    if preferred:
        return {str(d): int(preferred.get(d, n)) for d, n in var.sizes.items()}
    chunks = var.encoding.get("chunks") or var.encoding.get("chunksizes")
    if chunks and len(chunks) == var.ndim:
        return {str(d): int(c) for d, c in zip(var.dims, chunks, strict=True)}
    return {str(d): int(n) for d, n in var.sizes.items()}


def chunk_plan(var: xr.Variable, record_dim: str | None, threads: int) -> dict[str, int]:
    """Dask chunks for ``var``: multiples of its storage chunks (see module docstring)."""
    storage = _storage_chunks(var)
    itemsize = var.dtype.itemsize or 8
    current = itemsize * math.prod(storage.values())
    target = min(max(var.nbytes / (TASKS_PER_THREAD * threads), current), MAX_TASK_BYTES)
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


def auto_chunk(ds: xr.Dataset, record_dim: str | None, threads: int | None = None) -> xr.Dataset:
    """Chunk every non-index variable of a lazily opened dataset with :func:`chunk_plan`."""
    threads = threads or os.cpu_count() or 4
    out = ds.copy()
    for name, var in ds.variables.items():
        if name in ds.indexes or var.ndim == 0:
            continue
        chunked: Any = var.chunk(chunk_plan(var, record_dim, threads))
        if name in ds.coords:
            out.coords[name] = chunked
        else:
            out[name] = chunked
    return out
