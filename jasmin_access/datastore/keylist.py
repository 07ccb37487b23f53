"""The logical keys of a version held as one UTF-8 buffer plus offsets.

A version of 1,000,000 objects would otherwise be 1,000,000 Python strings
(~80 MB and most of the time of parsing its manifest).  Here the keys stay
the ``"\\n"``-joined bytes they are stored as, with an array of where each
starts; a key becomes a string only when asked for.  UTF-8 bytes sort in
the same order as the code points they encode, so a binary search over the
bytes finds a key, and every key below a directory is one run of entries.
"""

from __future__ import annotations

import itertools
import operator
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

__all__ = ["KeyList"]

BATCH = 1 << 16  # keys decoded at a time when iterating
_NL = b"\n"


def offset_array(blob: bytes, lengths: Iterable[int]) -> array[int]:
    """Start of every key (and one past the last) from the keys' lengths in bytes."""
    code = "I" if len(blob) < (1 << 32) - 1 else "Q"
    with_newline = map(operator.add, lengths, itertools.repeat(1))
    return array(code, itertools.accumulate(with_newline, initial=0))


class KeyList(Sequence[str]):
    """Keys as one ``"\\n"``-joined UTF-8 buffer plus the offset at which each starts.

    Parameters
    ----------
    blob
        The keys' UTF-8 bytes joined by ``"\\n"``.
    starts
        ``len(keys) + 1`` offsets: key ``i`` is ``blob[starts[i] : starts[i + 1] - 1]``.
    """

    __slots__ = ("blob", "starts")

    def __init__(self, blob: bytes = b"", starts: array[int] | None = None) -> None:
        self.blob = blob
        self.starts = starts if starts is not None else array("I", [0])

    @classmethod
    def from_strings(cls, keys: Sequence[str]) -> KeyList:
        """A key list from Python strings (which cannot contain a newline)."""
        if isinstance(keys, KeyList):
            return keys
        if any("\n" in k for k in keys):
            raise ValueError("logical keys cannot contain a newline")
        blob = "\n".join(keys).encode("utf-8", "surrogateescape")
        if not keys:
            return cls()
        if blob.isascii():
            lengths: Iterable[int] = map(len, keys)
        else:
            lengths = (len(k.encode("utf-8", "surrogateescape")) for k in keys)
        return cls(blob, offset_array(blob, lengths))

    @classmethod
    def from_blob(cls, blob: bytes, count: int) -> KeyList:
        """A key list from ``count`` keys joined by ``"\\n"`` (offsets found by a split)."""
        if count == 0:
            return cls()
        return cls(blob, offset_array(blob, map(len, blob.split(_NL))))

    # ------------------------------------------------------------ the sequence

    def __len__(self) -> int:
        return len(self.starts) - 1

    def raw(self, i: int) -> bytes:
        """The UTF-8 bytes of key ``i``."""
        s = self.starts
        return self.blob[s[i] : s[i + 1] - 1]

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("key index out of range")
        return self.raw(i).decode("utf-8", "surrogateescape")

    def run(self, lo: int, hi: int) -> list[bytes]:
        """Keys ``lo`` to ``hi - 1`` as bytes, split in one go."""
        if hi <= lo:
            return []
        s = self.starts
        return self.blob[s[lo] : s[hi] - 1].split(_NL)

    def __iter__(self) -> Iterator[str]:
        for lo in range(0, len(self), BATCH):
            hi = min(lo + BATCH, len(self))
            s = self.starts
            yield from self.blob[s[lo] : s[hi] - 1].decode("utf-8", "surrogateescape").split("\n")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KeyList):
            return len(self) == len(other) and self.blob == other.blob
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"KeyList({len(self)} keys, {len(self.blob)} bytes)"

    # ------------------------------------------------------------ searching

    def bisect(self, key: bytes, lo: int = 0, hi: int | None = None) -> int:
        """First entry in ``[lo, hi)`` whose key is not below ``key`` (bytes order)."""
        blob, s = self.blob, self.starts
        hi = len(self) if hi is None else hi
        while lo < hi:
            mid = (lo + hi) // 2
            if blob[s[mid] : s[mid + 1] - 1] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def gallop(self, key: bytes, lo: int, hi: int) -> int:
        """:meth:`bisect` for a ``key`` expected close after ``lo``: steps that double first,
        so stepping over a sub-directory of ``m`` keys costs about ``2 log2 m`` probes."""
        blob, s = self.blob, self.starts
        step, bound = 1, lo
        while bound < hi and blob[s[bound] : s[bound + 1] - 1] < key:
            lo, bound, step = bound + 1, bound + step, step * 2
        return self.bisect(key, lo, min(bound, hi))

    def find(self, key: str) -> int | None:
        """Entry number of ``key`` when the keys are sorted, else None."""
        raw = key.encode("utf-8", "surrogateescape")
        i = self.bisect(raw)
        return i if i < len(self) and self.raw(i) == raw else None

    def under(self, prefix: bytes) -> tuple[int, int]:
        """``(lo, hi)``: the run of (sorted) keys starting with ``prefix``."""
        if not prefix:
            return 0, len(self)
        lo = self.bisect(prefix)
        end = prefix[:-1] + bytes([prefix[-1] + 1]) if prefix[-1] < 255 else None
        return lo, (len(self) if end is None else self.bisect(end, lo))

    def is_sorted(self) -> bool:
        """True when every key is at or above the one before (checked by batches)."""
        last = b""
        for lo in range(0, len(self), BATCH):
            batch = self.run(lo, min(lo + BATCH, len(self)))
            if batch[0] < last or sorted(batch) != batch:  # timsort: one pass when in order
                return False
            last = batch[-1]
        return True

    def sorted_order(self) -> tuple[KeyList, list[int]]:
        """The keys in order, and for each its entry number here."""
        raws = self.run(0, len(self))
        order = sorted(range(len(raws)), key=raws.__getitem__)
        blob = _NL.join(raws[i] for i in order)
        return KeyList(blob, offset_array(blob, (len(raws[i]) for i in order))), order


def as_keys(keys: Any) -> KeyList:
    """``keys`` (a :class:`KeyList` or a sequence of strings) as a :class:`KeyList`."""
    return keys if isinstance(keys, KeyList) else KeyList.from_strings(list(keys))
