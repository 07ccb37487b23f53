"""Computing opened datasets without importing ``dask.distributed`` when no client can exist.

With no scheduler configured, every ``dask.compute`` first imports
``dask.distributed`` to ask whether a ``Client`` is current (0.3-0.8 s, on the
first ``.load()`` of every process), then uses the collection's own scheduler:
threads for arrays.  A ``Client`` can only exist once ``distributed`` has been
imported, so where it is not, :func:`use_threads` names Dask's threaded
scheduler in Dask's configuration: the same choice, without the import.

Only where no scheduler is configured and ``distributed`` is not loaded: a
scheduler named in Dask's configuration, ``scheduler=`` given to
``compute``/``load`` and a ``Client`` made later as the default (which sets
Dask's configuration itself) all come first.  Collections computed in the same
process run on threads (arrays, data frames and delayed objects already do; a
``dask.bag``, whose own default is processes, too), and a ``Client`` that is
not the default is used only when passed as ``scheduler=``.  Libraries that
check Dask's scheduler (iris) recognise it as the threaded one.

The scheduler is named by its function: named by the string ``"threads"``,
Dask would import ``distributed`` to look for a client all the same.  A
function in Dask's configuration cannot be written as JSON, which
``distributed``'s ``SSHCluster`` does to pass the configuration on: start such a
cluster before opening, or call ``dask.config.set(scheduler=None)`` first.
"""

from __future__ import annotations

import sys

__all__ = ["use_threads"]


def use_threads() -> None:
    """Name Dask's threaded scheduler in its configuration, unless a client may exist or one is."""
    if "distributed" in sys.modules:  # a client may exist or be made: Dask's own choice
        return
    import dask
    import dask.threaded

    if dask.config.get("scheduler", None) is None and dask.config.get("get", None) is None:
        dask.config.set(scheduler=dask.threaded.get)
