"""One kind of module-level cache: bounded, least recently used first out, clearable at once.

The package keeps per-process caches (shared backends, zarr stores and arrays
of a run, chunk encoders, open HDF5 files, decoding pools).  Each is a
:class:`BoundedCache`: it never grows past its size, evicts the entry used
longest ago (calling ``on_evict`` for handles that need closing), and
:func:`clear_all` empties every one of them (tests, forks, closing a run).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["BoundedCache", "clear_all"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_ALL: weakref.WeakSet[BoundedCache[Any, Any]] = weakref.WeakSet()


class BoundedCache(Generic[K, V]):
    """A thread-safe mapping of at most ``maxsize`` entries, least recently used out first.

    Parameters
    ----------
    maxsize
        Entries kept.
    on_evict
        Called with each value pushed out by a newer one (not on :meth:`clear`,
        unless ``close`` is passed there).
    """

    def __init__(self, maxsize: int, on_evict: Callable[[V], None] | None = None) -> None:
        self.maxsize = maxsize
        self.on_evict = on_evict
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.RLock()
        _ALL.add(self)

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value for ``key`` (now the most recently used), or ``default``."""
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                _, old = self._data.popitem(last=False)
                if self.on_evict is not None:
                    self.on_evict(old)

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value for ``key``, made (and kept) on a miss."""
        with self._lock:
            found = self.get(key)
            if found is None:
                found = make()
                self[key] = found
            return found

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def values(self) -> list[V]:
        """The values, oldest first (a copy)."""
        with self._lock:
            return list(self._data.values())

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._data))

    def clear(self, close: Callable[[V], None] | None = None) -> None:
        """Forget everything, calling ``close`` on each value first if given."""
        with self._lock:
            values = list(self._data.values())
            self._data.clear()
        if close is not None:
            for value in values:
                close(value)


def clear_all(close: bool = False) -> None:
    """Empty every cache of the package.

    Parameters
    ----------
    close
        Also close what the caches hold that needs closing (their ``on_evict``).
    """
    for cache in list(_ALL):
        cache.clear(cache.on_evict if close else None)
