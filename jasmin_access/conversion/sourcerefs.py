"""Source references, one at a time (:class:`SourceRef`) or many as columns (:class:`SourceList`).

A list of 100,000 sources kept as one record each costs about 0.4 KB a file
for the whole run (the record, its URL, its path, its ETag, its size and
time as Python objects).  :class:`SourceList` keeps the same facts as
columns: the paths and ETags as UTF-8 bytes with offsets, sizes and times as
machine numbers, and the URL as an interned prefix (``s3://``...) plus the
path.  Indexing it gives an ordinary :class:`SourceRef`, made on demand.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from .. import paths
from ..backends import Backend

__all__ = ["SourceList", "SourceRef", "as_source_list", "pick"]

_ENC = "surrogatepass"  # paths are str; any str round-trips through these bytes


@dataclass(frozen=True, slots=True)
class SourceRef:
    """One source file: where it is and how big/new it was when scanned.

    Pickles without secrets (the S3 filesystem pickles by profile name).
    """

    url: str
    backend: Backend | None
    path: str
    size: int
    mtime: float | None
    etag: str | None = None

    @property
    def name(self) -> str:
        """Base name, for messages."""
        return paths.basename(self.path)

    @property
    def fs(self) -> Any:
        """The backend's filesystem."""
        return self.backend.fs if self.backend is not None else None

    @property
    def local(self) -> bool:
        """True for files on this machine (opened by path, not through file objects)."""
        return self.backend is None or self.backend.caps.local_path


class _Strings:
    """Many strings as one UTF-8 byte buffer and end offsets (``None`` allowed)."""

    __slots__ = ("blob", "ends", "none")

    def __init__(self) -> None:
        self.blob = bytearray()
        self.ends = array("q")
        self.none = bytearray()  # 1 where the value is None

    def append(self, value: str | None) -> None:
        if value is not None:
            self.blob += value.encode("utf-8", _ENC)
        self.ends.append(len(self.blob))
        self.none.append(value is None)

    def __getitem__(self, i: int) -> str | None:
        if self.none[i]:
            return None
        start = self.ends[i - 1] if i else 0
        return self.blob[start : self.ends[i]].decode("utf-8", _ENC)


class _Refs(Sequence[SourceRef]):
    """A read-only sequence of sources whose records are made on demand by :meth:`_one`."""

    __slots__ = ()

    def _one(self, i: int) -> SourceRef:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> SourceRef: ...

    @overload
    def __getitem__(self, i: slice) -> list[SourceRef]: ...

    def __getitem__(self, i: int | slice) -> SourceRef | list[SourceRef]:
        if isinstance(i, slice):
            return [self._one(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("source index out of range")
        return self._one(i % n)

    def __iter__(self) -> Iterator[SourceRef]:
        return (self._one(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]


class SourceList(_Refs):
    """Sources as columns: a read-only sequence of :class:`SourceRef` made on demand.

    Each file costs its path and ETag as bytes plus about 30 bytes of numbers,
    instead of a record and four Python objects.  The backends and URL
    prefixes (``s3://``, an endpoint) are kept once each.

    Parameters
    ----------
    refs
        The sources, in order.
    """

    __slots__ = ("_etags", "_kind_of", "_kinds", "_mtimes", "_paths", "_sizes", "_urls", "_which")

    def __init__(self, refs: Iterable[SourceRef] = ()) -> None:
        self._kinds: list[tuple[Backend | None, str]] = []  # (backend, URL prefix) per kind
        self._kind_of: dict[tuple[int, str], int] = {}
        self._which = array("I")  # kind per file
        self._paths = _Strings()
        self._etags = _Strings()
        self._sizes = array("q")
        self._mtimes = array("d")  # NaN for None
        self._urls: dict[int, str] = {}  # URLs that are not a prefix plus the path
        for ref in refs:
            self.append(ref)

    def append(self, ref: SourceRef) -> None:
        """Add one source at the end."""
        self.add(ref.url, ref.backend, ref.path, ref.size, ref.mtime, ref.etag)

    def add(
        self,
        url: str,
        backend: Backend | None,
        path: str,
        size: int,
        mtime: float | None,
        etag: str | None,
    ) -> None:
        """Add one source at the end from its fields (no :class:`SourceRef` made)."""
        i = len(self._sizes)
        prefix = url[: len(url) - len(path)] if url.endswith(path) else None
        key = (id(backend), prefix or "")
        kind = self._kind_of.get(key)
        if kind is None or self._kinds[kind][0] is not backend:  # new, or an id reused
            kind = self._kind_of[key] = len(self._kinds)
            self._kinds.append((backend, prefix or ""))
        if prefix is None:
            self._urls[i] = url
        self._which.append(kind)
        self._paths.append(path)
        self._etags.append(etag)
        self._sizes.append(size)
        self._mtimes.append(math.nan if mtime is None else mtime)

    def __len__(self) -> int:
        return len(self._sizes)

    def _one(self, i: int) -> SourceRef:
        backend, prefix = self._kinds[self._which[i]]
        path = self._paths[i]
        assert path is not None
        url = self._urls.get(i)
        mtime = self._mtimes[i]
        return SourceRef(
            prefix + path if url is None else url,
            backend,
            path,
            self._sizes[i],
            None if math.isnan(mtime) else mtime,
            self._etags[i],
        )

    def __add__(self, other: Iterable[SourceRef]) -> SourceList:
        out = SourceList(self)
        for ref in other:
            out.append(ref)
        return out

    def __repr__(self) -> str:
        return f"SourceList({len(self)} sources)"

    def __copy__(self) -> SourceList:  # columns of its own, so appending leaves self alone
        return SourceList(self)

    def urls(self) -> Iterator[str]:
        """Each source's URL, in order (no record made)."""
        for i in range(len(self)):
            url = self._urls.get(i)
            yield self._kinds[self._which[i]][1] + str(self._paths[i]) if url is None else url


def as_source_list(refs: Sequence[SourceRef]) -> SourceList:
    """``refs`` as a :class:`SourceList` (itself when it is one already)."""
    return refs if isinstance(refs, SourceList) else SourceList(refs)


class _Picked(_Refs):
    """Some sources of a sequence, by number: records made on demand, none kept."""

    __slots__ = ("_base", "_numbers")

    def __init__(self, base: Sequence[SourceRef], numbers: Iterable[int]) -> None:
        self._base = base
        self._numbers = array("q", numbers)

    def __len__(self) -> int:
        return len(self._numbers)

    def _one(self, i: int) -> SourceRef:
        return self._base[self._numbers[i]]

    def __reduce__(self) -> tuple[Any, ...]:  # only the sources picked, not the whole base
        return SourceList, (list(self),)


def pick(refs: Sequence[SourceRef], numbers: Iterable[int]) -> Sequence[SourceRef]:
    """Sources ``refs[i]`` for each ``i`` in ``numbers``, without a record kept per source."""
    return _Picked(refs, numbers)
