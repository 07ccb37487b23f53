"""Choosing chunk (and shard) shapes.

The default rule (see ``docs/chunking.md``) aims at about 16 MiB of
uncompressed data per chunk, in the 5-20 MB range that ocean-model stores use:

1. Start from one record step (one time step) and every other dimension whole.
2. While the chunk is larger than the target, split the leftmost non-record
   dimension that is not yet one element wide (depth before latitude before
   longitude), into equal blocks: a (t, z, y, x) field keeps whole horizontal
   slabs and takes as many levels as fit (eORCA1 ``thetao``, 75 x 331 x 360
   float32, becomes ``(1, 25, 331, 360)``, about 11.9 MB); ``y`` is split only
   when one level alone exceeds the target.
3. When one whole step is smaller than the target, take several steps
   (``(t, y, x)`` surface fields, small grids), up to the record length.

Variables without a record dimension are kept whole unless larger than the
target, then split the same way.  ``--chunks dim=n`` overrides any dimension.
Shards (Zarr v3, ``--shard-mb``) group whole chunks along the record
dimension so that one object holds about the requested size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ..errors import InvalidInput

__all__ = ["DEFAULT_TARGET_MB", "choose_chunks", "choose_shards", "parse_chunks"]

DEFAULT_TARGET_MB = 16.0


def parse_chunks(text: str | Mapping[str, int] | None) -> dict[str, int]:
    """Parse ``"time_counter=1,deptht=25"`` into a dict (``-1`` means whole)."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return {str(k): int(v) for k, v in text.items()}
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            n = int(value)
        except ValueError:
            n = 0
        if not sep or not name or (n < 1 and n != -1):
            raise InvalidInput(
                f"bad chunk specification {part!r}", "use dim=n,... with n >= 1 (or -1 for whole)"
            )
        out[name.strip()] = n
    return out


def _balanced(size: int, limit: int) -> int:
    """Largest equal block of a dimension of ``size`` with blocks <= limit."""
    limit = max(1, min(size, limit))
    nblocks = math.ceil(size / limit)
    return math.ceil(size / nblocks)


def choose_chunks(
    dims: Sequence[str],
    shape: Sequence[int],
    itemsize: int,
    record_dim: str | None,
    *,
    target_mb: float | None = None,
    overrides: Mapping[str, int] | None = None,
) -> tuple[int, ...]:
    """Chunk shape for one variable following the module's rule.

    Parameters
    ----------
    dims, shape
        Dimension names and sizes.
    itemsize
        Bytes per element (8 for variable-length strings).
    record_dim
        The record dimension (or None).
    target_mb
        Target uncompressed chunk size in MiB (default 16).
    overrides
        Explicit chunk sizes by dimension name (``-1`` = whole).
    """
    if not shape:
        return ()
    target = max(1, int((target_mb or DEFAULT_TARGET_MB) * 2**20))
    overrides = dict(overrides or {})
    chunks = [max(1, s) for s in shape]
    raxis = list(dims).index(record_dim) if record_dim in dims else None
    if raxis is not None:
        chunks[raxis] = 1
    for axis, dim in enumerate(dims):  # fixed first: the others are sized around them
        if dim in overrides:
            n = overrides[dim]
            chunks[axis] = max(1, shape[axis]) if n == -1 else max(1, min(n, max(shape[axis], 1)))

    def nbytes() -> int:
        return math.prod(chunks) * itemsize

    for axis in range(len(chunks)):
        if axis == raxis or dims[axis] in overrides or nbytes() <= target:
            continue
        per_element = nbytes() // chunks[axis]
        chunks[axis] = _balanced(shape[axis], max(1, target // per_element))
    if raxis is not None and dims[raxis] not in overrides:
        steps = max(1, target // max(nbytes(), 1))
        chunks[raxis] = max(1, min(shape[raxis], steps))
    return tuple(chunks)


def choose_shards(
    chunks: Sequence[int],
    shape: Sequence[int],
    itemsize: int,
    raxis: int | None,
    shard_mb: float | None,
) -> tuple[int, ...] | None:
    """Shard shape grouping whole chunks along the record axis (None: no sharding)."""
    if not shard_mb or raxis is None or not chunks:
        return None
    chunk_bytes = math.prod(chunks) * itemsize
    per_shard = max(1, int(shard_mb * 2**20) // max(chunk_bytes, 1))
    nchunks = math.ceil(max(shape[raxis], 1) / chunks[raxis])
    per_shard = min(per_shard, nchunks)
    if per_shard <= 1:
        return None
    shards = list(chunks)
    shards[raxis] = chunks[raxis] * per_shard
    return tuple(shards)


def block_slices(
    shape: Sequence[int], block: Sequence[int], index: Sequence[int]
) -> tuple[slice, ...]:
    """Slices of block ``index`` on a regular grid of ``block`` over ``shape``."""
    return tuple(
        slice(i * b, min((i + 1) * b, s)) for i, b, s in zip(index, block, shape, strict=True)
    )


def grid(shape: Sequence[int], block: Sequence[int]) -> tuple[int, ...]:
    """Number of blocks along each axis."""
    return tuple(math.ceil(s / b) if s else 0 for s, b in zip(shape, block, strict=True))
