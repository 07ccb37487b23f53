"""The package's bounded caches: emptied at once, closing what they hold when asked."""

from __future__ import annotations

from jasmin_access.caches import BoundedCache, clear_all


def test_clear_all_closes_what_it_holds_only_when_asked() -> None:
    closed: list[int] = []
    cache: BoundedCache[str, int] = BoundedCache(2, on_evict=closed.append)
    cache["a"] = 1
    clear_all()
    assert len(cache) == 0 and closed == []
    cache["b"] = 2
    clear_all(close=True)
    assert len(cache) == 0 and closed == [2]
