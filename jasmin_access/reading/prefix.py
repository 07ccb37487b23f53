"""Reading only the start of a zstd-compressed chunk, when the values asked for lie there.

A zstd frame decompresses front to back, so the first bytes of a chunk's
values need only the first bytes of the object: a point time series at the
surface of chunks of 25 levels over the whole grid needs the first few hundred
kilobytes of each ~12 MB chunk, not all of it.  The object's start is fetched
with one ranged GET sized by a bound that always covers the values asked for
when the data compress at all (every zstd block is at most 128 KiB and is
stored raw when it does not compress); if the decoded prefix still falls short,
the rest of the object is fetched and decoding goes on, so the values are
always exactly those of the whole chunk.

Only chunks whose pipeline is "bytes (native order), then zstd" without a
checksum are read this way (zarr 3's default, and what ``xr.to_zarr`` writes);
the frame's checksum, where there is one, covers the whole chunk and could not
be checked.  Decoding uses the `zstandard` package's streaming decompressor.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["PrefixPlan", "prefix_plan", "read_prefix", "values_from_prefix"]

BLOCK = 128 * 1024  # the largest zstd block (decompressed)
HEADERS = 1024  # frame header and block headers beyond the per-block allowance
MOST = 0.5  # read a prefix only when it is at most this share of the decoded chunk


class PrefixPlan:
    """Where the values of one chunk selection end in the decoded chunk, and what to fetch.

    Parameters
    ----------
    chunks
        The chunk shape (stored whole, C order).
    itemsize
        Bytes per value.
    inside
        The selection within the chunk, one step-1 slice per axis.
    """

    def __init__(self, chunks: tuple[int, ...], itemsize: int, inside: tuple[slice, ...]) -> None:
        strides = np.cumprod((1, *chunks[:0:-1]))[::-1] * itemsize
        last = sum((s.stop - 1) * int(k) for s, k in zip(inside, strides, strict=True))
        self.chunks = chunks
        self.strides = tuple(int(k) for k in strides)
        self.needed = last + itemsize  # decoded bytes that must be there
        self.fetch = self.needed + BLOCK + 3 * math.ceil((self.needed + BLOCK) / 4096) + HEADERS
        self.inside = inside


def prefix_plan(
    chunks: tuple[int, ...], itemsize: int, inside: tuple[slice, ...]
) -> PrefixPlan | None:
    """A :class:`PrefixPlan` when fetching the start of the chunk saves most of it, else None."""
    if any(s.stop <= s.start for s in inside):
        return None
    plan = PrefixPlan(chunks, itemsize, inside)
    return plan if plan.fetch <= MOST * math.prod(chunks) * itemsize else None


async def read_prefix(store: Any, key: str, prototype: Any, plan: PrefixPlan, pool: Any) -> Any:
    """The decoded start of chunk ``key`` (at least ``plan.needed`` bytes), or None if absent.

    One ranged GET of ``plan.fetch`` bytes, decoded by a thread of ``pool``; a
    second GET of the rest of the object only when those did not decode far
    enough.
    """
    import asyncio

    import zstandard
    from zarr.abc.store import OffsetByteRequest, RangeByteRequest

    loop = asyncio.get_running_loop()
    head = await store.get(key, prototype, RangeByteRequest(0, plan.fetch))
    if head is None:
        return None
    raw = head.as_numpy_array()
    # several frames one after another decode as one stream, as zstd's own decoder does
    decoder = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
    out = await loop.run_in_executor(pool, decoder.decompress, memoryview(raw))
    if len(out) < plan.needed and len(raw) >= plan.fetch:  # not far enough: the rest
        tail = await store.get(key, prototype, OffsetByteRequest(len(raw)))
        if tail is not None:
            rest = memoryview(tail.as_numpy_array())
            out += await loop.run_in_executor(pool, decoder.decompress, rest)
    if len(out) < plan.needed:
        raise ValueError(f"{key}: the compressed chunk ends before its values do")
    return out


def values_from_prefix(decoded: bytes, dtype: np.dtype[Any], plan: PrefixPlan) -> np.ndarray:
    """The selection ``plan.inside`` of a chunk from its decoded start (a view, no copy)."""
    flat = np.frombuffer(decoded, dtype=dtype, count=plan.needed // dtype.itemsize)
    # every element of the selection lies within ``flat``: the strided view is never read past it
    whole = np.lib.stride_tricks.as_strided(flat, plan.chunks, plan.strides, writeable=False)
    return whole[plan.inside]
