"""``append()``: add (or replace) record steps of an existing store.

Order of writes, so that readers (who open through the consolidated metadata)
see either the old length or the new one, never a mix:

1. ``.jasmin-access/in-progress.json`` with the old length of the store.
2. The data: blocks along the record dimension that hold new steps.  A block
   that also holds old steps (the partial last chunk, or the edges of a
   replaced range) is read, completed and rewritten whole; old steps outside
   the new range are never modified, so re-running is idempotent.
3. Every record array's metadata with the new shape, then the root
   metadata (provenance, ``history``, consolidated metadata) last.

Re-running after a crash finds the marker, takes the old length from it, and
finishes the same append, skipping units listed in the journal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..caches import BoundedCache
from ..errors import AlreadyExists, InvalidInput, NotFound, translating
from ..stores import new_run_id, resolve
from .api import ConvertReport
from .append_checks import (
    check_against_store,
    check_variables,
    dims_of,
    placement,
    record_dim_of,
    record_length,
    time_variable_of,
)
from .chunking import grid
from .encoding import convert_times
from .execute import run_units
from .plan import ConvertOptions, Plan, Unit, VarPlan, prepare
from .progress import Progress
from .runstate import save_scan, store_records
from .sources import close_all
from .writer import (
    MARKER,
    Journal,
    StoreTarget,
    _state_document,
    close_stores,
    coverage_of,
    drop_state,
    write_marker,
)

__all__ = ["append"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppendUnit:
    """A block of a record array: old steps kept, new steps read from the sources."""

    unit: Unit
    block: tuple[slice, ...]
    old_length: int
    new_length: int
    start: int


_views: BoundedCache[tuple[str, str, str, int], Any] = BoundedCache(512)


def _resized(target: StoreTarget, path: str, length: int, raxis: int) -> Any:
    """The array at ``path`` seen with ``length`` steps (metadata not written; cached)."""
    import zarr
    from zarr.core.array import Array, AsyncArray

    key = (target.run_id, target.path, path, length)
    view = _views.get(key)
    if view is None:
        arr = zarr.open_array(target.zarr_store(), path=path, mode="r+")
        shape = list(arr.shape)
        shape[raxis] = length
        meta = arr.metadata.update_shape(tuple(shape))
        inner = arr._async_array
        view = Array(AsyncArray(metadata=meta, store_path=inner.store_path, config=inner.config))
        _views[key] = view
    return view


def append_unit(target: StoreTarget, job: AppendUnit) -> int:
    """Write one block: old steps around the new ones are read back and kept."""
    from .plan import read_unit

    unit = job.unit
    ax = unit.raxis if unit.raxis is not None else 0
    block = job.block
    b0, b1 = block[ax].start, block[ax].stop
    a, b = unit.selection[ax].start + job.start, unit.selection[ax].stop + job.start
    shape = [s.stop - s.start for s in block]
    values = np.empty(shape, dtype=np.dtype(unit.dtype))
    index: list[slice] = [slice(None)] * len(shape)
    old = _resized(target, unit.array, job.old_length, ax) if (b0 < a or b < b1) else None
    if b0 < a:
        index[ax] = slice(0, a - b0)
        values[tuple(index)] = old[tuple(_with(block, ax, slice(b0, a)))]
    index[ax] = slice(a - b0, b - b0)
    values[tuple(index)] = read_unit(unit)
    if b < b1:
        index[ax] = slice(b - b0, b1 - b0)
        values[tuple(index)] = old[tuple(_with(block, ax, slice(b, b1)))]
    _resized(target, unit.array, job.new_length, ax)[block] = values
    return unit.nbytes


def _with(sel: tuple[slice, ...], axis: int, value: slice) -> list[slice]:
    out = list(sel)
    out[axis] = value
    return out


# --------------------------------------------------------------------------- planning


def _jobs(
    plan: Plan, root: Any, start: int, old_length: int, new_length: int, done: dict
) -> list[AppendUnit]:
    from .chunking import block_slices

    count = plan.inventory.groups[""].nrec
    out = []
    for vp in plan.variables:
        if vp.raxis is None or vp.group:
            continue
        ax = vp.raxis
        shape = list(vp.info.shape)
        shape[ax] = new_length
        block = vp.write_block
        nb = grid(shape, block)
        ranges = [range(n) for n in nb]
        ranges[ax] = range(start // block[ax], (start + count - 1) // block[ax] + 1)
        finished = done.get(vp.array_path, set())
        for index in np.ndindex(*[len(r) for r in ranges]):
            absolute = tuple(r[i] for r, i in zip(ranges, index, strict=True))
            linear = int(np.ravel_multi_index(absolute, nb))
            if linear in finished:
                continue
            sel = block_slices(shape, block, absolute)
            lo, hi = max(sel[ax].start, start), min(sel[ax].stop, start + count)
            rel = _with(sel, ax, slice(lo - start, hi - start))
            unit = replace(plan._unit(vp, linear, tuple(rel)), target_units=_units_of(root, vp))
            out.append(AppendUnit(unit, sel, old_length, new_length, start))
    return out


def _units_of(root: Any, vp: VarPlan) -> str | None:
    attrs = dict(root[vp.array_path].attrs)
    units = attrs.get("units")
    if units is None:
        parents = [a for _, a in root.arrays() if a.attrs.get("bounds") == vp.name]
        units = parents[0].attrs.get("units") if parents else None
    return str(units) if isinstance(units, str) and " since " in units else None


def _adopt_store_layout(plan: Plan, root: Any) -> None:
    for vp in plan.variables:
        if vp.array_path in root:
            arr = root[vp.array_path]
            vp.chunks, vp.shards, vp.is_index = tuple(arr.chunks), arr.shards, False
            bits = arr.attrs.get("keep_bits")
            vp.keep_bits = int(bits) if bits is not None else None


def _commit(
    target: StoreTarget, plan: Plan, rdim: str, new_length: int, fmt: int, tname: str | None
) -> None:
    import zarr

    store = target.zarr_store()
    group = zarr.open_group(store, mode="r+")
    for name, arr in group.arrays():
        dims = dims_of(arr)
        if rdim in dims and arr.shape[dims.index(rdim)] != new_length:
            shape = list(arr.shape)
            shape[dims.index(rdim)] = new_length
            zarr.open_array(store, path=name, mode="r+").resize(tuple(shape))
    attrs = dict(group.attrs)
    prov = dict(attrs.get("jasmin_access", {}))
    sources = list(prov.get("sources", []))
    sources += [{"name": r.url, "size": r.size, "mtime": r.mtime} for r in plan.inventory.sources]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    prov.update(sources=sources, converter_version=__version__, record_dim=rdim)
    history = str(attrs.get("history", "")).rstrip("\n")
    names = " ".join(r.url for r in plan.inventory.sources)
    line = f"{now} jasmin-access append {names}"
    coverage = coverage_of(group, store, tname)  # the extents now include the new steps
    group.attrs.update(
        {"jasmin_access": prov, "history": f"{history}\n{line}".lstrip("\n"), **coverage}
    )
    zarr.consolidate_metadata(store, zarr_format=fmt)
    drop_state(target)


# --------------------------------------------------------------------------- API


def append(
    sources: str | Path | Sequence[str | Path],
    dest: str,
    *,
    replace: bool = False,
    allow_gaps: bool = False,
    variables: Sequence[str] | None = None,
    drop_variables: Sequence[str] | None = None,
    time_variable: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    fail_after_units: int | None = None,
) -> ConvertReport:
    """Append NetCDF files to an existing store along its record dimension.

    Parameters
    ----------
    sources
        As for :func:`jasmin_access.convert`.
    dest
        An existing store made by ``convert`` (Zarr v2 or v3, sharded or not).
    replace
        Allow overwriting steps already in the store (anywhere, not only at the end).
    allow_gaps
        Accept steps further apart than the store's usual spacing.
    variables, drop_variables
        Select variables of the sources (every record variable of the store must remain).
    time_variable
        The variable whose steps place the new ones (default: the one convert
        chose, recorded in the store).
    workers, scheduler, progress, profile, endpoint_url, anon, fail_after_units
        As for :func:`jasmin_access.convert`.

    Returns
    -------
    ConvertReport

    Raises
    ------
    InvalidInput
        Before any write: overlapping steps without ``replace``, prepended or
        unsorted or duplicated steps, gaps, missing or extra variables, other
        grid sizes or dtypes.
    NotFound
        ``dest`` is not a complete store.

    Notes
    -----
    A datastore version as ``dest`` (``…/run1@latest``, ``…/run1@TAG``, or an
    existing datastore's URL) is staged locally, appended to, and pushed as
    one new version whose parent is that version; only the new and changed
    chunks and the metadata are uploaded.
    """
    params = dict(locals())
    started = time.monotonic()
    rkw = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    from ..datastore.staging import datastore_dest, into_datastore

    found = datastore_dest(dest, rkw)
    if found is not None:

        def run(stage: str) -> ConvertReport:
            return append(**{**params, "dest": stage})

        return into_datastore(found, run, append=True, message=f"append {sources}")  # type: ignore[no-any-return]
    flags = {"replace": replace, "allow_gaps": allow_gaps}
    select = {
        "variables": list(variables) if variables else None,
        "drop_variables": list(drop_variables) if drop_variables else None,
        "time_variable": time_variable,
    }
    try:
        loc = resolve(dest, write=True, **rkw)
        target = StoreTarget.of(loc, new_run_id())
        with translating("appending to", loc.url, loc.profile_name):
            report = _append(sources, target, loc.url, flags, rkw, workers, scheduler, progress,
                             fail_after_units, select)  # fmt: skip
    finally:
        close_all()
        close_stores()
        _views.clear()
    report.seconds = time.monotonic() - started
    return report


def _start(
    root: Any,
    target: StoreTarget,
    inv: Any,
    tname: str | None,
    old_length: int,
    flags: dict[str, bool],
) -> int:
    """Where the new steps go: placed by the time coordinate, else after the last step."""
    if tname is None:
        log.info("no time coordinate along %r: steps added after the last", inv.record_dim)
        return old_length
    arr = root[tname]
    old = np.asarray(_resized(target, tname, old_length, 0)[...])
    units = arr.attrs.get("units")
    units = units if isinstance(units, str) and " since " in units else None
    cal = str(arr.attrs.get("calendar", "standard"))
    new = convert_times(inv.time_values, inv.time_units, units, cal)
    return placement(old, new, units, cal, flags["replace"], flags["allow_gaps"])


def _open_root(target: StoreTarget, url: str) -> Any:
    import zarr

    from ..reading.zstore import open_metadata

    try:
        open_metadata(target.zarr_store(), url)  # unfinished store, unknown codecs: one line
        return zarr.open_group(target.zarr_store(), mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        raise NotFound(f"{url} is not a complete Zarr store", "convert the first files") from None


def _append(
    sources: Any,
    target: StoreTarget,
    url: str,
    flags: dict[str, bool],
    rkw: dict[str, Any],
    workers: int | None,
    scheduler: str | None,
    progress: bool,
    fail_after: int | None,
    select: dict[str, Any],
) -> ConvertReport:
    root = _open_root(target, url)
    rdim = record_dim_of(root)
    fmt = root.metadata.zarr_format
    tname = time_variable_of(root, rdim, select.pop("time_variable"))
    options = ConvertOptions(concat_dim=rdim, zarr_format=fmt, time_variable=tname, **select)
    plan = prepare(sources, options, rkw, target)  # the scan of an interrupted run, if any
    inv = plan.inventory.groups[""]
    nested = [p for p, g in plan.inventory.groups.items() if p and g.record_dim]
    if nested:
        raise InvalidInput(
            f"group '{nested[0]}' has a record dimension; append handles the root group only",
            "convert the full set again",
        )
    if inv.record_dim != rdim:
        raise InvalidInput(
            f"{plan.inventory.sources[0].url} has no {rdim!r} dimension (the store's record "
            "dimension)",
            "append files made like the store's",
        )
    check_variables(plan, root, rdim)
    check_against_store(plan, target)
    _adopt_store_layout(plan, root)
    fingerprint = f"{plan.fingerprint}-{int(flags['replace'])}{int(flags['allow_gaps'])}"
    marker = _state_document(target, target.key(MARKER))
    if marker is not None and marker.get("fingerprint") != fingerprint:
        raise AlreadyExists(
            f"{url} has an unfinished run of other inputs (run {marker.get('run_id')})",
            "re-run that command to finish it",
        )
    old_length = int(marker["old_length"]) if marker else record_length(root, rdim)
    start = _start(root, target, inv, tname, old_length, flags)
    new_length = max(old_length, start + inv.nrec)
    write_marker(target, fingerprint, old_length=old_length, operation="append")
    if not plan.inventory.cached:  # with the records of every source in the store, for verify
        scan_options = plan.options.scan_options()
        kept = store_records(target.fs, target.path, plan.inventory, scan_options)
        save_scan(target.fs, target.path, plan.inventory.key, plan.inventory, scan_options, kept)
    journal = Journal(target, fingerprint)
    if marker is not None:
        journal.load()
    jobs = _jobs(plan, root, start, old_length, new_length, journal.done)
    report = ConvertReport(
        dest=url,
        sources=len(plan.inventory.sources),
        variables=[v.array_path for v in plan.variables if v.raxis is not None],
        resumed=marker is not None,
    )
    report.chunks_total = len(jobs) + sum(len(v) for v in journal.done.values())
    report.chunks_skipped = report.chunks_total - len(jobs)
    bar = Progress(sum(j.unit.nbytes for j in jobs), len(jobs), enabled=progress, label="appending")

    def on_done(job: AppendUnit, nbytes: Any) -> None:
        journal.mark(job.unit)
        report.chunks_written += 1
        report.bytes_uncompressed += int(nbytes)
        bar.advance(int(nbytes))

    try:
        with bar:
            run_units(jobs, target, on_done, scheduler=scheduler, workers=workers,
                      task=append_unit, fail_after=fail_after)  # type: ignore[arg-type]  # fmt: skip
    finally:
        journal.flush()
    _commit(target, plan, rdim, new_length, fmt, tname)
    return report
