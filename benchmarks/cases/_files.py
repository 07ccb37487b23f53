"""Functions the ``scale`` case runs in fresh processes: many small files, and clusters.

- ``tiny_set``: N small NetCDF4 files (one step of a 4 x 5 grid each, a few KB);
- ``plan_only``: expand, scan and plan a conversion of them (no writes), or
  plan it from the scan a destination's run state keeps (``save_scan``);
- ``convert_with`` / ``index_with``: a run on threads or on a 2-worker process
  ``LocalCluster`` (started first; only the run itself is timed in ``seconds``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "convert_with",
    "expand_only",
    "index_with",
    "plan_only",
    "save_scan",
    "tiny_set",
    "write_tiny",
]


def write_tiny(path: Path, time: float, value: float) -> None:
    """One small NetCDF4 file: one step (``time``, days) of a 4 x 5 field of ``value``."""
    import netCDF4

    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time_counter", None)
        ds.createDimension("y", 4)
        ds.createDimension("x", 5)
        t = ds.createVariable("time_counter", "<f8", ("time_counter",))
        t.units = "days since 1900-01-01"
        t.calendar = "noleap"
        t[:] = [time]
        v = ds.createVariable("tos", "f4", ("time_counter", "y", "x"), zlib=True)
        v[:] = np.full((1, 4, 5), value, dtype="f4")


def tiny_set(directory: str, count: int) -> list[str]:
    """``count`` small NetCDF4 files ``tiny_000000.nc``..., one daily step each (cached)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"tiny_{i:06d}.nc"
        out.append(str(path))
        if path.exists():
            continue
        write_tiny(path, float(i), i % 30)
    return out


def plan_only(
    sources: list[str] | str, profile: str | None = None, resume_in: str | None = None
) -> dict[str, Any]:
    """Scan and plan a conversion of ``sources``; the units it would write.

    With ``resume_in`` (a destination URL) the scan is read from that
    destination's run state, as a resumed conversion does (see :func:`save_scan`).
    """
    from jasmin_access.conversion.api import prepare
    from jasmin_access.conversion.plan import ConvertOptions
    from jasmin_access.stores import resolve

    dest = resolve(resume_in, write=True, profile=profile) if resume_in else None
    start = time.perf_counter()
    plan = prepare(sources, ConvertOptions(), {"profile": profile}, dest)
    return {
        "units": plan.count_units(),
        "seconds": time.perf_counter() - start,
        "from_run_state": plan.inventory.cached,
    }


def expand_only(sources: list[str] | str, profile: str | None = None) -> dict[str, Any]:
    """Expand ``sources`` (a ``@list.txt``, globs, URLs) and size each one, as ``convert`` does."""
    from jasmin_access.conversion.sources import expand_sources

    start = time.perf_counter()
    refs = expand_sources(sources, profile=profile)
    return {"sources": len(refs), "seconds": time.perf_counter() - start}


def save_scan(sources: list[str] | str, dest: str, profile: str | None = None) -> dict[str, Any]:
    """Scan ``sources`` and keep the scan in ``dest``'s run state, as a convert does first."""
    from jasmin_access.conversion.api import prepare
    from jasmin_access.conversion.plan import ConvertOptions
    from jasmin_access.conversion.runstate import save_scan as keep
    from jasmin_access.stores import resolve

    loc = resolve(dest, write=True, profile=profile)
    inventory = prepare(sources, ConvertOptions(), {"profile": profile}).inventory
    keep(loc.fs, loc.path, inventory.key, inventory)
    return {"sources": len(inventory.sources)}


def _on(scheduler: str, run: Any) -> dict[str, Any]:
    if scheduler != "cluster":
        start = time.perf_counter()
        run(scheduler)
        return {"seconds": time.perf_counter() - start}
    from distributed import LocalCluster

    with LocalCluster(processes=True, n_workers=2, threads_per_worker=1) as cluster:
        start = time.perf_counter()
        run(cluster.scheduler_address)
        return {"seconds": time.perf_counter() - start}


def convert_with(sources: list[str], dest: str, scheduler: str, profile: str) -> dict[str, Any]:
    """Convert ``sources`` to ``dest`` with ``scheduler`` (``"cluster"``: a 2-worker cluster)."""
    import jasmin_access as ja

    return _on(scheduler, lambda s: ja.convert(sources, dest, profile=profile, overwrite=True,
                                                scheduler=s))  # fmt: skip


def index_with(sources: str, dest: str, scheduler: str, profile: str) -> dict[str, Any]:
    """Build the reference index of ``sources`` with ``scheduler``."""
    from jasmin_access.open import build_index

    return _on(scheduler, lambda s: build_index(sources, dest, profile=profile, scheduler=s))
