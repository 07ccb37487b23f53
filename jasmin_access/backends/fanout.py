"""Listing many prefixes at once: pages from worker threads, through one bounded queue."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["fan_out"]

T = TypeVar("T")
_DONE = object()


def fan_out(
    pages_of: Callable[[str], Iterator[T]], prefixes: list[str], workers: int
) -> Iterator[T]:
    """Every page of ``pages_of(prefix)`` for each prefix, listed ``workers`` at a time.

    Pages arrive in the order they are listed; the queue holds at most 64, so
    memory stays flat however many keys there are.  The first error of a
    worker is raised here; stopping the iteration stops the workers.
    """
    pages: queue.Queue[Any] = queue.Queue(maxsize=64)
    stop = threading.Event()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def work(prefix: str) -> None:
        try:
            for page in pages_of(prefix):
                if stop.is_set():
                    return
                put(page)
        except BaseException as exc:  # handed to the consumer
            put(exc)
        finally:
            put(_DONE)

    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(prefixes))))
    try:
        for prefix in prefixes:
            pool.submit(work, prefix)
        pending = len(prefixes)
        while pending:
            item = pages.get()
            if item is _DONE:
                pending -= 1
            elif isinstance(item, BaseException):
                raise item
            elif item:
                yield item
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
