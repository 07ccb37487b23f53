"""Scan sources and check that they agree before anything is written.

Multi-file inputs are concatenated along a record dimension: the one given
with ``concat_dim``, else the unlimited dimension, else ``time_counter`` or
``time``.  Everything else must agree with the first file (groups, variables,
dims, dtypes, non-record shapes, variable attributes and the values of
variables without the record dimension, NaN equal to NaN).  The first
offending file is named.

Files are ordered and checked by the time of the record dimension
(:mod:`jasmin_access.timecoord`): the record coordinate when it has CF time
units, else a CF time coordinate along it such as XIOS's ``time_centered``,
decoded with each file's own units.  Steps must increase strictly within and
across files (no duplicates, no overlaps).  Without a time coordinate the
files are joined in the order given and no order is checked: other
dimensions, and a record dimension that is not a time, keep their order.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidInput
from ..timecoord import choose_time, same_value, time_candidates
from .headers import RECORD_NAMES, FileHead, GroupHead, read_head, read_heads
from .sourcerefs import SourceRef, as_source_list, pick

__all__ = ["FileRecord", "GroupInventory", "Inventory", "VarInfo", "scan"]

log = logging.getLogger(__name__)

_TIME_ATTRS = ("units", "time_origin")


@dataclass
class VarInfo:
    """Shape and attributes of one variable (record length of the whole set)."""

    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    attrs: dict[str, Any]

    def record_axis(self, record_dim: str | None) -> int | None:
        """Axis of the record dimension, or None."""
        return self.dims.index(record_dim) if record_dim in self.dims else None


@dataclass
class GroupInventory:
    """One group of the concatenated set."""

    path: str
    record_dim: str | None
    counts: list[int]
    variables: dict[str, VarInfo]
    attrs: dict[str, Any]
    units: dict[str, list[str | None]] = field(default_factory=dict)
    calendars: dict[str, str] = field(default_factory=dict)
    record_values: np.ndarray | None = None
    time_name: str | None = None
    time_values: np.ndarray | None = None
    #: record values per (file number, variable) during the scan (numbers in the order scanned)
    read_cache: dict[tuple[int, str], np.ndarray] = field(default_factory=dict, repr=False)
    raw: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def time_units(self) -> str | None:
        """CF units of the time coordinate (the first file's), or None."""
        return (self.units.get(self.time_name or "") or [None])[0]

    @property
    def offsets(self) -> np.ndarray:
        """Start of each file along the record dimension (length files + 1)."""
        return np.concatenate([[0], np.cumsum(self.counts)]).astype(int)

    @property
    def nrec(self) -> int:
        """Total length of the record dimension."""
        return int(sum(self.counts))


@dataclass
class Inventory:
    """Everything known about the sources before writing."""

    sources: Sequence[SourceRef]  # a SourceList: columns, one record made per access
    groups: dict[str, GroupInventory]
    key: str = ""  # what the scan depends on (set when it is kept in the run state)
    cached: bool = False  # read back from the run state, not from the sources
    first: str = ""  # the source the others were checked against (the first given)
    reused: int = 0  # sources taken from a kept scan, not opened


@dataclass
class FileRecord:
    """What the scan keeps of one source besides the first: per group, steps, units, values.

    ``values`` holds the raw values of the 1-D variables along the record
    dimension (in the file's own units), as the file's head gives them.
    """

    counts: dict[str, int]
    units: dict[str, dict[str, str | None]]
    values: dict[str, dict[str, np.ndarray]]


def _record_dim(ds: Any, concat_dim: str | None, multi: bool, ref: SourceRef) -> str | None:
    if concat_dim:
        if concat_dim not in ds.dims and multi:
            raise InvalidInput(f"{ref.url} has no dimension '{concat_dim}'", "check --concat-dim")
        return concat_dim if concat_dim in ds.dims else None
    unlimited = [d for d in ds.encoding.get("unlimited_dims", ()) or () if d in ds.dims]
    if unlimited:
        return str(unlimited[0])
    return next((n for n in RECORD_NAMES if n in ds.dims), None)


def _time_units(ds: Any, name: str) -> str | None:
    attrs = ds[name].attrs
    units = attrs.get("units")
    if units is None:
        parent = next((v for v in ds.variables if ds[v].attrs.get("bounds") == name), None)
        units = ds[parent].attrs.get("units") if parent else None
    if not (isinstance(units, str) and " since " in units):
        return None
    return sys.intern(str(units))  # one copy of the string however many files repeat it


def _calendar(ds: Any, name: str) -> str:
    attrs = ds[name].attrs
    cal = attrs.get("calendar")
    if cal is None:
        parent = next((v for v in ds.variables if ds[v].attrs.get("bounds") == name), None)
        cal = ds[parent].attrs.get("calendar") if parent else None
    return str(cal or "standard")


def step_label(value: Any, units: str | None, calendar: str) -> str:
    """A record value as a date when it has time units (for messages)."""
    if not units:
        return repr(value.item() if hasattr(value, "item") else value)
    import cftime

    return str(cftime.num2date(value, units, calendar=calendar))


def _select(ds: Any, variables: list[str] | None, drop: list[str] | None) -> list[str]:
    names = [str(n) for n in ds.variables]
    if variables:
        missing = [v for v in variables if v not in names]
        if missing:
            raise InvalidInput(f"no variable {missing[0]!r} in the sources", "check --variables")
        keep = set(variables)
        for v in variables:
            keep.update(ds[v].dims)
            attrs = ds[v].attrs
            keep.update(str(attrs.get("coordinates", "")).split())
            keep.update([attrs["bounds"]] if "bounds" in attrs else [])
        for v in list(keep):
            if v in names and "bounds" in ds[v].attrs:
                keep.add(ds[v].attrs["bounds"])
        names = [n for n in names if n in keep]
    if drop:
        names = [n for n in names if n not in set(drop)]
    return names


def _attrs_equal(a: dict[str, Any], b: dict[str, Any], skip: tuple[str, ...]) -> str | None:
    keys = sorted((set(a) | set(b)) - set(skip))
    for k in keys:
        va, vb = a.get(k), b.get(k)
        if not same_value(va, vb):
            return f"attribute {k!r} ({va!r} vs {vb!r})"
    return None


def _group_first(
    ref: SourceRef, ds: GroupHead, path: str, opts: dict[str, Any], multi: bool
) -> GroupInventory:
    rdim = _record_dim(ds, opts.get("concat_dim"), multi and not path, ref)
    if multi and rdim is None and not path:
        raise InvalidInput(
            f"{ref.url} has no record dimension to concatenate along",
            "pass --concat-dim NAME",
        )
    names = _select(ds, opts.get("variables"), opts.get("drop_variables"))
    variables = {
        n: VarInfo(
            n, tuple(map(str, ds[n].dims)), tuple(ds[n].shape), ds[n].dtype, dict(ds[n].attrs)
        )
        for n in names
    }
    for info in variables.values():
        if info.dtype.kind == "U":
            info.dtype = np.dtype(object)
    inv = GroupInventory(path, rdim, [], variables, dict(ds.attrs))
    for n, info in variables.items():
        if rdim in info.dims:
            units = _time_units(ds, n)
            if units:
                inv.units[n] = []
                inv.calendars[n] = _calendar(ds, n)
    return inv


def _check_group(
    inv: GroupInventory, ref: SourceRef, ds: GroupHead, first: SourceRef, hashes: dict
) -> None:
    where = f"in group '{inv.path}' " if inv.path else ""
    rdim = inv.record_dim
    count = int(ds.sizes.get(rdim, 0)) if rdim else 0
    for n, info in inv.variables.items():
        if n not in ds.variables:
            raise InvalidInput(
                f"{ref.url}: variable {n!r} {where}missing ({first.name} has it)",
                "convert matching files only, or use --drop-variables",
            )
        var = ds[n]
        dtype = np.dtype(object) if var.dtype.kind == "U" else var.dtype
        diff = None
        if tuple(map(str, var.dims)) != info.dims:
            diff = f"dims {tuple(var.dims)} vs {info.dims}"
        elif dtype != info.dtype:
            diff = f"dtype {dtype} vs {info.dtype}"
        else:
            shape = [s for d, s in zip(var.dims, var.shape, strict=True) if d != rdim]
            want = [s for d, s in zip(info.dims, info.shape, strict=True) if d != rdim]
            if shape != want:
                diff = f"shape {tuple(var.shape)} vs {info.shape}"
        if diff is None:
            skip = _TIME_ATTRS if n in inv.units else ()
            diff = _attrs_equal(dict(var.attrs), info.attrs, skip)
        if diff is None and rdim not in info.dims and n in hashes and var.digest != hashes[n]:
            diff = "values"
        if diff is not None:
            raise InvalidInput(
                f"{ref.url}: variable {n!r} {where}differs from {first.name}: {diff}",
                "all files must share grid, variables and attributes",
            )
    inv.counts.append(count)
    for n in inv.units:
        inv.units[n].append(_time_units(ds, n))
    for n, info in inv.variables.items():
        if rdim is not None and info.dims == (rdim,) and ds[n].values is not None:
            inv.read_cache[(len(inv.counts) - 1, n)] = ds[n].values


def _hashes(inv: GroupInventory, ds: GroupHead) -> dict[str, str]:
    return {
        n: str(ds[n].digest)
        for n, info in inv.variables.items()
        if inv.record_dim not in info.dims and ds[n].digest is not None
    }


def scan(
    refs: list[SourceRef], known: dict[str, FileRecord] | None = None, **opts: Any
) -> Inventory:
    """Scan and cross-check the sources.

    Each source is opened once (:mod:`jasmin_access.conversion.headers`),
    many at a time; only dimensions, attributes, the record dimension's 1-D
    variables and digests of the other variables are read.

    Parameters
    ----------
    refs
        The expanded sources.
    known
        Records of sources unchanged since a kept scan checked them against
        the same first file (:func:`~jasmin_access.conversion.runstate.kept_scan`),
        by URL: those are not opened.
    **opts
        ``concat_dim``, ``variables``, ``drop_variables``, ``time_variable``.

    Raises
    ------
    InvalidInput
        Naming the first file that is not NetCDF or that differs from the first.
    """
    first = refs[0]
    multi = len(refs) > 1
    concat_dim = opts.get("concat_dim")
    head = read_head(first, concat_dim, digests=multi)
    group_paths = list(head.groups)
    groups = {p: _group_first(first, g, p, opts, multi) for p, g in head.groups.items()}
    hashes = {p: _hashes(inv, head.groups[p]) for p, inv in groups.items()} if multi else {}
    _check_file(groups, first, head, first, hashes)
    del head
    known = known or {}
    todo = pick(refs, [i for i in range(1, len(refs)) if not known or refs[i].url not in known])
    heads = read_heads(todo, concat_dim)
    for i in range(1, len(refs)):
        ref = refs[i]
        record = known.get(ref.url)
        if record is not None:
            _take_record(groups, ref, record)
            continue
        _, found = next(heads)
        if list(found.groups) != group_paths:
            extra = sorted(set(found.groups) ^ set(group_paths))
            raise InvalidInput(
                f"{ref.url}: groups differ from {first.name} (e.g. '{extra[0]}')",
                "all files must have the same groups",
            )
        _check_file(groups, ref, found, first, hashes)
    for p, inv in groups.items():
        _grow_record_shapes(inv)
        _choose_time(inv, refs, opts.get("time_variable") if not p else None)
    reused = len(refs) - 1 - len(todo)
    refs = _order_files(groups, refs, concat_dim)
    for inv in groups.values():
        _finish_group(inv, refs)
        _keep_raw(inv, refs)
    return Inventory(as_source_list(refs), groups, first=first.url, reused=reused)


def _take_record(groups: dict[str, GroupInventory], ref: SourceRef, record: FileRecord) -> None:
    """A source known from a kept scan: its steps, units and record values, without opening it."""
    for p, inv in groups.items():
        inv.counts.append(int(record.counts[p]))
        for n in inv.units:
            inv.units[n].append(record.units[p].get(n))
        for n, values in record.values[p].items():
            inv.read_cache[(len(inv.counts) - 1, n)] = values


def _keep_raw(inv: GroupInventory, refs: list[SourceRef]) -> None:
    """Keep the record values per file (raw, concatenated in order) for the run state."""
    names = {n for (_, n) in inv.read_cache}
    inv.raw = {
        n: np.concatenate([np.asarray(inv.read_cache[(i, n)]) for i in range(len(refs))])
        for n in sorted(names)
        if all((i, n) in inv.read_cache for i in range(len(refs)))
    }
    inv.read_cache.clear()


def _check_file(
    groups: dict[str, GroupInventory],
    ref: SourceRef,
    head: FileHead,
    first: SourceRef,
    hashes: dict[str, dict[str, str]],
) -> None:
    for p, inv in groups.items():
        _check_group(inv, ref, head.groups[p], first, hashes.get(p, {}))


def _grow_record_shapes(inv: GroupInventory) -> None:
    for info in inv.variables.values():
        if inv.record_dim in info.dims:
            axis = info.dims.index(inv.record_dim)
            info.shape = (*info.shape[:axis], inv.nrec, *info.shape[axis + 1 :])


def _file_values(inv: GroupInventory, refs: list[SourceRef], name: str) -> list[np.ndarray]:
    """Values of ``name`` per file, times re-encoded to the first file's units."""
    from .encoding import convert_times

    out = []
    for i in range(len(refs)):
        key = (i, name)
        if key not in inv.read_cache:  # read with the file's head; not reached in practice
            var = read_head(refs[i], inv.record_dim, digests=False).groups[inv.path][name]
            inv.read_cache[key] = np.asarray(var.values)
        values = inv.read_cache[key]
        if name in inv.units:
            values = convert_times(
                values, inv.units[name][i], inv.units[name][0], inv.calendars[name]
            )
        out.append(values)
    return out


def _choose_time(inv: GroupInventory, refs: list[SourceRef], override: str | None) -> None:
    rdim = inv.record_dim
    if rdim is None:
        return
    variables = {n: (v.dims, v.attrs) for n, v in inv.variables.items()}
    names = time_candidates(variables, rdim, override)
    name = choose_time(
        names, lambda n: np.concatenate(_file_values(inv, refs, n)), forced=bool(override)
    )
    inv.time_name = name
    if name is None and len(refs) > 1:
        log.info("no time coordinate along %r: files joined in the order given", rdim)


def _order_files(
    groups: dict[str, GroupInventory], refs: Sequence[SourceRef], concat_dim: str | None
) -> Sequence[SourceRef]:
    """Sort the files by the first step of the leading group's time coordinate."""
    lead = next((g for g in groups.values() if g.time_name), None)
    if lead is None or len(refs) < 2:
        return refs
    per_file = _file_values(lead, refs, str(lead.time_name))
    keys = [float(v[0]) if v.size else -np.inf for v in per_file]
    order = sorted(range(len(refs)), key=lambda i: keys[i])
    if order == list(range(len(refs))):
        return refs
    log.info("files ordered by %s (given in another order)", lead.time_name)
    head = read_head(refs[order[0]], concat_dim, digests=False)  # the new first file
    position = {old: new for new, old in enumerate(order)}
    for inv in groups.values():
        inv.read_cache = {(position[i], n): v for (i, n), v in inv.read_cache.items()}
        inv.counts = [inv.counts[i] for i in order]
        inv.units = {n: [u[i] for i in order] for n, u in inv.units.items()}
        ds = head.groups[inv.path]  # attributes (and time units) of the new first file
        inv.attrs = dict(ds.attrs)
        for name, info in inv.variables.items():
            info.attrs = dict(ds[name].attrs)
    return pick(refs, order)


def _finish_group(inv: GroupInventory, refs: list[SourceRef]) -> None:
    """Record values of the set, and the order checks on its time coordinate."""
    rdim = inv.record_dim
    if rdim is None:
        return
    if rdim in inv.variables:
        inv.record_values = np.concatenate(_file_values(inv, refs, rdim))
    name = inv.time_name
    if name is None:
        return
    units = (inv.units.get(name) or [None])[0]
    cal = inv.calendars.get(name, "standard")
    per_file = _file_values(inv, refs, name)
    prev_last: Any = None
    for ref, values in zip(refs, per_file, strict=True):
        steps = np.diff(values)
        if (steps <= 0).any():
            bad = int(np.argmax(steps <= 0)) + 1
            raise InvalidInput(
                f"{ref.url}: {name} step {bad} ({step_label(values[bad], units, cal)}) is "
                "duplicated or out of order",
                "remove duplicated or unsorted steps",
            )
        if prev_last is not None and len(values) and values[0] <= prev_last:
            raise InvalidInput(
                f"{ref.url}: {name} starts at {step_label(values[0], units, cal)}, not after "
                f"the previous file's last step {step_label(prev_last, units, cal)} "
                "(overlapping files)",
                "remove the overlapping steps or files",
            )
        if len(values):
            prev_last = values[-1]
    inv.time_values = np.concatenate(per_file)
