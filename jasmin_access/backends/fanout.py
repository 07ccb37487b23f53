"""Many requests at once: listings of many prefixes, reads of many objects, memory bounded."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["fan_out", "in_order"]

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


def in_order(
    func: Callable[[Any], T], items: Iterable[Any], window: int, workers: int | None = None
) -> Iterator[Any]:
    """``func(item)`` for each item on threads, yielded in the order given.

    Each result is the return value or the exception raised, so one failure
    does not end the others.  At most ``window`` results are in flight or
    waiting, on ``workers`` threads (``window`` if not given); stopping the
    iteration cancels the calls not started.
    """
    pending: deque[Future[T]] = deque()
    threads = max(1, workers or window)
    with ThreadPoolExecutor(threads, thread_name_prefix="in-order") as pool:
        try:
            for item in items:
                pending.append(pool.submit(func, item))
                if len(pending) >= window:
                    yield _outcome(pending.popleft())
            while pending:
                yield _outcome(pending.popleft())
        finally:
            for fut in pending:
                fut.cancel()


def _outcome(fut: Future[T]) -> Any:
    try:
        return fut.result()
    except Exception as exc:
        return exc
