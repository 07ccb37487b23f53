"""From scanned sources and options to a plan: arrays, chunks, work units, template.

A *work unit* is one write block (a chunk, or a shard when sharding) of one
variable.  It knows which slab of which source file(s) it needs: a block along
the record dimension may span two files with uneven step counts, so chunks
stay uniform across file boundaries.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import paths
from ..errors import InvalidInput
from .chunking import block_slices, choose_chunks, choose_shards, grid
from .encoding import bitround, compressors_for, convert_times
from .runstate import kept_scan, scan_key
from .scan import FileRecord, GroupInventory, Inventory, VarInfo, scan
from .sources import SourceRef, expand_sources, read_slab

if TYPE_CHECKING:
    from ..stores import Location

log = logging.getLogger(__name__)

__all__ = [
    "ConvertOptions",
    "Plan",
    "Unit",
    "VarPlan",
    "build_plan",
    "check_char_fill_values",
    "read_unit",
]


@dataclass
class ConvertOptions:
    """Options that shape the store (and its fingerprint)."""

    chunks: dict[str, int] = field(default_factory=dict)
    target_chunk_mb: float | None = None
    zarr_format: int = 3
    shard_mb: float | None = None
    compressor: str = "zstd"
    compression_level: int | None = None
    keep_bits: int | None = None
    variables: list[str] | None = None
    drop_variables: list[str] | None = None
    concat_dim: str | None = None
    time_variable: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (for provenance and fingerprints)."""
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, [])}

    def scan_options(self) -> dict[str, Any]:
        """The options the scan of the sources depends on."""
        return {
            "concat_dim": self.concat_dim,
            "variables": self.variables,
            "drop_variables": self.drop_variables,
            "time_variable": self.time_variable,
        }

    def check(self) -> None:
        """Reject impossible combinations."""
        if self.zarr_format not in (2, 3):
            raise InvalidInput(f"zarr format {self.zarr_format}", "use --zarr-format 2 or 3")
        if self.shard_mb and self.zarr_format == 2:
            raise InvalidInput("sharding needs Zarr v3", "drop --shard-mb or use --zarr-format 3")
        if self.keep_bits is not None and not 0 <= self.keep_bits <= 52:
            raise InvalidInput(f"--keep-bits {self.keep_bits}", "give 0-23 (float32) or 0-52")


@dataclass
class VarPlan:
    """One array of the store."""

    group: str
    info: VarInfo
    raxis: int | None
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    keep_bits: int | None
    is_index: bool

    @property
    def name(self) -> str:
        """Variable name."""
        return self.info.name

    @property
    def array_path(self) -> str:
        """Path of the array inside the store."""
        return paths.join(self.group, self.info.name)

    @property
    def write_block(self) -> tuple[int, ...]:
        """Shape of one work unit (shard if sharded, else chunk)."""
        return self.shards or self.chunks


@dataclass(frozen=True)
class Unit:
    """One work unit: a block of one array and where its values come from."""

    array: str
    index: int
    selection: tuple[slice, ...]
    group: str
    name: str
    raxis: int | None
    parts: tuple[tuple[SourceRef, int, int, str | None], ...]
    target_units: str | None
    calendar: str
    keep_bits: int | None
    keep_values: tuple[Any, ...]
    dtype: str
    nbytes: int


@dataclass
class Plan:
    """The store to build."""

    inventory: Inventory
    options: ConvertOptions
    variables: list[VarPlan]
    fingerprint: str

    def units(self, done: dict[str, set[int]] | None = None) -> Iterator[Unit]:
        """Work units in write order (record block outermost), skipping ``done``."""
        done = done or {}
        writable = [v for v in self.variables if not v.is_index]
        static = [v for v in writable if v.raxis is None]
        records = [v for v in writable if v.raxis is not None]
        for vp in static:
            yield from self._var_units(vp, None, done)
        nblocks = max((grid(v.info.shape, v.write_block)[v.raxis] for v in records), default=0)
        for r in range(nblocks):
            for vp in records:
                yield from self._var_units(vp, r, done)

    def count_units(self) -> int:
        """Total number of work units."""
        return sum(
            math.prod(grid(v.info.shape, v.write_block)) for v in self.variables if not v.is_index
        )

    def count_index_objects(self) -> int:
        """Chunk objects of the dimension coordinates, written with the metadata, not as units."""
        return sum(
            math.prod(grid(v.info.shape, v.write_block)) for v in self.variables if v.is_index
        )

    def _offsets(self, group: str) -> np.ndarray:
        """Start of each file along the record dimension (computed once per group)."""
        cache = self.__dict__.setdefault("_offset_cache", {})
        if group not in cache:
            cache[group] = self.inventory.groups[group].offsets
        return cache[group]  # type: ignore[no-any-return]

    def _var_units(
        self, vp: VarPlan, rblock: int | None, done: dict[str, set[int]]
    ) -> Iterator[Unit]:
        shape, block = vp.info.shape, vp.write_block
        nb = grid(shape, block)
        ranges = [range(n) for n in nb]
        if rblock is not None and vp.raxis is not None:
            if rblock >= nb[vp.raxis]:
                return
            ranges[vp.raxis] = range(rblock, rblock + 1)
        finished = done.get(vp.array_path, set())
        for index in itertools.product(*ranges):
            linear = int(np.ravel_multi_index(index, nb)) if nb else 0
            if linear not in finished:
                yield self._unit(vp, linear, block_slices(shape, block, index))

    def _unit(self, vp: VarPlan, linear: int, sel: tuple[slice, ...]) -> Unit:
        inv = self.inventory.groups[vp.group]
        refs = self.inventory.sources
        units = inv.units.get(vp.name)
        if vp.raxis is None:
            parts: tuple[tuple[SourceRef, int, int, str | None], ...] = ((refs[0], 0, 0, None),)
        else:
            lo, hi = sel[vp.raxis].start, sel[vp.raxis].stop
            offsets = self._offsets(vp.group)
            first = int(np.searchsorted(offsets, lo, side="right")) - 1  # files overlapping
            last = int(np.searchsorted(offsets, hi, side="left"))  # [lo, hi): no scan of all
            parts = tuple(
                (refs[i], int(offsets[i]), int(inv.counts[i]), units[i] if units else None)
                for i in range(max(first, 0), min(last, len(refs)))
                if offsets[i] < hi and offsets[i + 1] > lo
            )
        attrs = vp.info.attrs
        keep = tuple(attrs[k] for k in ("_FillValue", "missing_value") if k in attrs)
        nbytes = math.prod(s.stop - s.start for s in sel) * max(vp.info.dtype.itemsize, 1)
        return Unit(
            array=vp.array_path,
            index=linear,
            selection=sel,
            group=vp.group,
            name=vp.name,
            raxis=vp.raxis,
            parts=parts,
            target_units=units[0] if units else None,
            calendar=inv.calendars.get(vp.name, "standard"),
            keep_bits=vp.keep_bits,
            keep_values=keep,
            dtype=vp.info.dtype.str if vp.info.dtype != object else "O",
            nbytes=nbytes,
        )


def read_unit(unit: Unit, *, raw: bool = False) -> np.ndarray:
    """Read the source values of a unit (bit-rounded unless ``raw``)."""
    sel = unit.selection
    if unit.raxis is None:
        values = read_slab(unit.parts[0][0], unit.group, unit.name, sel)
    else:
        ax = unit.raxis
        lo, hi = sel[ax].start, sel[ax].stop
        pieces = []
        for ref, start, count, units in unit.parts:
            a, b = max(lo, start), min(hi, start + count)
            local = list(sel)
            local[ax] = slice(a - start, b - start)
            piece = read_slab(ref, unit.group, unit.name, tuple(local))
            pieces.append(convert_times(piece, units, unit.target_units, unit.calendar))
        values = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=ax)
    values = values.astype(np.dtype(unit.dtype), copy=False)
    if unit.keep_bits is not None and not raw:
        values = bitround(values, unit.keep_bits, list(unit.keep_values))
    return values


def _is_coordinate(name: str, inv: GroupInventory) -> bool:
    info = inv.variables[name]
    if name in info.dims:
        return True
    for other in inv.variables.values():
        attrs = other.attrs
        if name in str(attrs.get("coordinates", "")).split() or attrs.get("bounds") == name:
            return True
    return False


def _var_plan(inv: GroupInventory, info: VarInfo, opts: ConvertOptions) -> VarPlan:
    itemsize = 8 if info.dtype == object else info.dtype.itemsize
    raxis = info.record_axis(inv.record_dim)
    chunks = choose_chunks(
        info.dims,
        info.shape,
        itemsize,
        inv.record_dim,
        target_mb=opts.target_chunk_mb,
        overrides=opts.chunks,
    )
    is_index = info.dims == (info.name,)
    shards = None if is_index else choose_shards(chunks, info.shape, itemsize, raxis, opts.shard_mb)
    keep = None
    if opts.keep_bits is not None and info.dtype.kind == "f" and not _is_coordinate(info.name, inv):
        keep = opts.keep_bits
    return VarPlan(inv.path, info, raxis, chunks, shards, keep, is_index)


def check_char_fill_values(inventory: Inventory) -> None:
    """xarray cannot read back a ``_FillValue`` of a character variable from Zarr v3."""
    for inv in inventory.groups.values():
        for info in inv.variables.values():
            if info.dtype.kind == "S" and "_FillValue" in info.attrs:
                raise InvalidInput(
                    f"variable {info.name!r} holds characters with a _FillValue, which xarray "
                    "cannot read back from a Zarr v3 store",
                    "convert with --zarr-format 2",
                )


def build_plan(inventory: Inventory, options: ConvertOptions) -> Plan:
    """Choose chunks, shards and codecs for every variable; fingerprint the run."""
    options.check()
    variables = [
        _var_plan(inv, info, options)
        for inv in inventory.groups.values()
        for info in inv.variables.values()
    ]
    known = {d for inv in inventory.groups.values() for v in inv.variables.values() for d in v.dims}
    unknown = sorted(set(options.chunks) - known)
    if unknown:
        raise InvalidInput(
            f"--chunks names unknown dimension '{unknown[0]}'",
            f"the sources' dimensions are: {', '.join(paths.natural_sorted(known))}",
        )
    head = {
        "options": options.to_dict(),
        # what the rules made of them: a run resumes only into the same layout,
        # even after an upgrade that changes a default chunking or codec rule
        "layout": {v.array_path: _layout(v, options) for v in variables},
    }
    digest = plan_digest(inventory.sources, head)
    return Plan(inventory, options, variables, digest[:20])


def _layout(vp: VarPlan, opts: ConvertOptions) -> list[Any]:
    comp = compressors_for(vp.info.dtype, opts.compressor, opts.zarr_format, opts.compression_level)
    return [vp.chunks, vp.shards, vp.keep_bits, repr(comp)]


def plan_digest(refs: Sequence[SourceRef], head: dict[str, Any]) -> str:
    """SHA-256 of ``{**head, "sources": [[url, size, mtime], ...]}`` as sorted JSON.

    The JSON is hashed a source at a time (the same bytes as one
    ``json.dumps(..., sort_keys=True)``), so no per-file list is built.
    ``head``'s keys sort before ``"sources"``.
    """
    if any(k >= "sources" for k in head):
        raise ValueError("the plan's fingerprint keys must sort before 'sources'")
    h = hashlib.sha256()
    start = json.dumps(head, sort_keys=True, default=str)[:-1]
    h.update((start + (', "sources": [' if head else '"sources": [')).encode())
    for i, r in enumerate(refs):
        item = json.dumps([r.url, r.size, r.mtime], default=str)
        h.update((", " + item if i else item).encode())
    h.update(b"]}")
    return h.hexdigest()


def _template_var(vp: VarPlan, inv: GroupInventory, refs: list[SourceRef]) -> Any:
    import dask.array as da

    info = vp.info
    attrs = dict(info.attrs)
    if vp.keep_bits is not None:
        attrs["keep_bits"] = vp.keep_bits
    if vp.is_index:
        if vp.raxis is not None and inv.record_values is not None:
            data: Any = inv.record_values
        else:
            full = tuple(slice(0, s) for s in info.shape)
            data = read_slab(refs[0], vp.group, info.name, full)
        data = np.asarray(data).astype(info.dtype, copy=False)
    elif info.dtype == object:  # xarray needs values to pick a string type
        data = np.full(info.shape, "", dtype=object)
    else:
        data = da.zeros(info.shape, dtype=info.dtype, chunks=-1)
    return (info.dims, data, attrs)


def _encoding(vp: VarPlan, opts: ConvertOptions) -> dict[str, Any]:
    enc: dict[str, Any] = {"chunks": vp.chunks}
    comp = compressors_for(vp.info.dtype, opts.compressor, opts.zarr_format, opts.compression_level)
    enc["compressors"] = comp
    if vp.shards:
        enc["shards"] = vp.shards
    return enc


def write_template(plan: Plan, store: Any, root_attrs: dict[str, Any]) -> None:
    """Write every group's and array's metadata (and index values) into ``store``."""
    import xarray as xr
    import zarr

    opts = plan.options
    refs = plan.inventory.sources
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path, inv in plan.inventory.groups.items():
            members = [v for v in plan.variables if v.group == path]
            ds = xr.Dataset(
                {v.name: _template_var(v, inv, refs) for v in members},
                attrs=root_attrs if not path else dict(inv.attrs),
            )
            ds.to_zarr(
                store,
                group=path or None,
                mode="w" if not path else "a",
                compute=False,
                consolidated=False,
                safe_chunks=False,  # one placeholder block per array: nothing is computed
                zarr_format=opts.zarr_format,
                encoding={v.name: _encoding(v, opts) for v in members},
            )
        zarr.consolidate_metadata(store, zarr_format=opts.zarr_format)


def prepare(
    sources: str | Path | Sequence[str | Path],
    options: ConvertOptions,
    resolve_kwargs: dict,
    dest: Location | Any | None = None,
    scanned: Inventory | None = None,
) -> Plan:
    """Expand, scan and cross-check the sources, then plan the store (no writes).

    With ``dest`` (a location, or anything with ``fs`` and ``path``), the scan
    an interrupted run of the same sources and options left in its run state
    (:mod:`jasmin_access.conversion.runstate`) is used instead of opening the
    sources again; so is ``scanned`` (a scan this process made) when it was
    made of the same sources, unchanged, with the same options.
    """
    refs = expand_sources(sources, **resolve_kwargs)
    scan_options = options.scan_options()
    key = scan_key(refs, scan_options)
    inventory = scanned if scanned is not None and scanned.key == key else None
    known: dict[str, FileRecord] = {}
    if inventory is None and dest is not None:
        inventory, known = kept_scan(dest.fs, dest.path, refs, scan_options)
    if inventory is None:
        inventory = scan(refs, known=known, **scan_options)
        inventory.key = key
        if inventory.reused:
            log.debug("%d of %d sources unchanged since the kept scan: not opened again",
                     inventory.reused, len(refs))  # fmt: skip
    return build_plan(inventory, options)
