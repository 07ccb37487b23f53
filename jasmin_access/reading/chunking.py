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

Dask copies the block of a one-block array when it is computed, in case the
block is a buffer that the graph or a worker still holds.  Blocks read by
:mod:`~jasmin_access.reading.chunkread` are allocated by the read itself, so
variables read that way hand the block over instead
(:func:`hand_over_blocks`): a whole variable is held in memory once, not twice.
"""

from __future__ import annotations

import math
import sys
import uuid
from collections.abc import Callable, Collection
from functools import partial
from typing import Any

import numpy as np
import xarray as xr

from .scheduling import use_threads

__all__ = ["MAX_TASK_BYTES", "auto_chunk", "chunk_plan", "hand_over_blocks"]

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


def hand_over_blocks(data: Any) -> Any:
    """Make computing ``data`` return its lone block itself instead of a copy.

    Parameters
    ----------
    data
        A Dask array whose tasks allocate a new block every time they run
        (anything else is returned unchanged).

    Returns
    -------
    Any
        ``data`` itself, still a plain ``dask.array.Array``.  Anything derived
        from it (a slice, arithmetic, a persisted or unpickled copy) copies as
        usual, and so does a ``dask.distributed`` worker, where blocks live in
        the worker's memory.
    """
    dask_array = sys.modules.get("dask.array")  # not imported: not a Dask array (opening
    if dask_array is not None and isinstance(data, dask_array.Array):  # stays without Dask)
        join, extra = data.__dask_postcompute__()
        setattr(data, "__dask_postcompute__", partial(_postcompute, join, extra))  # noqa: B010
    return data


def _postcompute(join: Callable[[Any], Any], extra: tuple[Any, ...]) -> tuple[Any, ...]:
    return partial(_hand_over, join), extra


def _hand_over(join: Callable[[Any], Any], results: Any) -> Any:
    """``join(results)``, or the lone block itself when nobody else can hold it."""
    block = results
    while isinstance(block, (list, tuple)) and len(block) == 1:
        block = block[0]
    if not isinstance(block, np.ndarray) or _in_worker():
        return join(results)
    return block


def _in_worker() -> bool:
    distributed = sys.modules.get("distributed")  # not imported: not in a worker
    try:
        distributed.get_worker()  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        return False
    return True


def auto_chunk(ds: xr.Dataset, record_dim: str | None, fresh: Collection[str] = ()) -> xr.Dataset:
    """Chunk every non-index variable of a lazily opened dataset with :func:`chunk_plan`.

    Variables named in ``fresh`` return newly allocated values on every read:
    see :func:`hand_over_blocks`.  Each Dask array gets a unique name: dask's
    default, a token of the array, pickles it whole (store, profile and all),
    which took most of the time of an open.  Computing them does not import
    ``dask.distributed`` when it is not loaded (see :mod:`.scheduling`).
    """
    use_threads()
    out = ds.copy()
    for name, var in ds.variables.items():
        if name in ds.xindexes or var.ndim == 0:
            continue
        # a unique name instead of dask's token of the array (which pickles it whole)
        chunked: Any = var.chunk(chunk_plan(var, record_dim), name=f"{name}-{uuid.uuid4().hex}")
        if name in fresh:
            hand_over_blocks(chunked.data)
        if name in ds.coords:
            out.coords[name] = chunked
        else:
            out[name] = chunked
    return out
