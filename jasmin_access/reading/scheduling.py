"""Computing opened datasets without importing ``dask.distributed`` when no client can exist.

With no scheduler configured, every ``dask.compute`` first imports
``dask.distributed`` to ask whether a ``Client`` is current (0.3-0.8 s, on the
first ``.load()`` of every process), then uses the collection's own scheduler:
threads for arrays.  A ``Client`` can only exist once ``distributed`` has been
imported, so :func:`threads_or_client` makes the same choice from
``sys.modules``: the current client when ``distributed`` is loaded and one is
current, else Dask's threaded scheduler, and no import.

:func:`use_threads_or_client` installs it as Dask's ``scheduler`` setting when
opening a dataset, only where none is set: a scheduler named in Dask's
configuration, a ``Client`` made the default (which sets that configuration
itself) or ``scheduler=`` given to ``compute``/``load`` all come first.
Collections computed with it run on threads (arrays, data frames and delayed
objects already do; a ``dask.bag``, whose own default is processes, too).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["threads_or_client", "use_threads_or_client"]


def threads_or_client(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    """Compute ``keys`` of graph ``dsk`` on the current ``Client``, else on threads."""
    if "distributed" in sys.modules:  # a client may exist: Dask's own choice
        from distributed import get_client

        try:
            client = get_client()
        except ValueError:  # none is current
            pass
        else:
            from dask.base import get_scheduler

            return get_scheduler(scheduler=client)(dsk, keys, **kwargs)
    import dask.threaded

    return dask.threaded.get(dsk, keys, **kwargs)


def use_threads_or_client() -> None:
    """Make :func:`threads_or_client` Dask's scheduler, unless one is configured already."""
    import dask

    if dask.config.get("scheduler", None) is None and dask.config.get("get", None) is None:
        dask.config.set(scheduler=threads_or_client)
