"""``verify()``: read a store back and compare every variable with its sources.

Raw values are compared (the store holds them undecoded, like the files):
exactly for lossless codecs, within the bit-rounding bound ``|a - b| <=
|a| * 2**-(N+1)`` for variables with a ``keep_bits`` attribute.  Shapes,
dtypes and the sources' variable attributes are checked too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..caches import BoundedCache
from ..errors import NotFound, translating
from ..reading.zstore import open_metadata
from ..stores import new_run_id, resolve
from ..timecoord import same_value
from .encoding import keep_bits_tolerance
from .execute import run_units
from .plan import ConvertOptions, Unit, VarPlan, prepare, read_unit
from .progress import Progress
from .scan import Inventory
from .sources import close_all
from .writer import StoreTarget, close_stores

__all__ = ["VerifyReport", "verify"]

log = logging.getLogger(__name__)

IGNORED_ATTRS = {"_ARRAY_DIMENSIONS", "keep_bits"}
_MAX_REPORTED = 50


@dataclass
class VerifyReport:
    """Outcome of a verification (``to_dict()`` for ``--json``)."""

    dest: str
    arrays: int = 0
    blocks: int = 0
    bytes_compared: int = 0
    seconds: float = 0.0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing differs."""
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "dest": self.dest,
            "ok": self.ok,
            "arrays": self.arrays,
            "blocks": self.blocks,
            "bytes_compared": self.bytes_compared,
            "seconds": round(self.seconds, 3),
            "differences": self.differences,
        }


_stores: BoundedCache[tuple[str, str], Any] = BoundedCache(256)


def _store_array(target: StoreTarget, path: str) -> Any:
    import zarr

    return _stores.get_or_make(
        (target.run_id, path),
        lambda: zarr.open_array(target.zarr_store(read_only=True), path=path, mode="r"),
    )


def compare(expected: np.ndarray, actual: np.ndarray, keep_bits: int | None) -> str | None:
    """Describe how ``actual`` differs from ``expected`` (None when equal)."""
    if expected.shape != actual.shape:
        return f"shape {actual.shape}, expected {expected.shape}"
    if expected.dtype.kind in "fc":
        a = expected.astype("f8") if expected.dtype.kind == "f" else expected
        b = actual.astype(a.dtype)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if keep_bits is not None:
            tol = keep_bits_tolerance(keep_bits) * (1 + 1e-9)
            same |= np.abs(a - b) <= np.abs(a) * tol
    else:
        same = np.asarray(expected == actual, dtype=bool)
        if same.shape != expected.shape:
            same = np.broadcast_to(same, expected.shape)
    bad = int(same.size - np.count_nonzero(same))
    if not bad:
        return None
    where = np.unravel_index(int(np.argmin(same.ravel())), same.shape) if same.ndim else ()
    idx = tuple(int(i) for i in where)
    return f"{bad} values differ; first at {idx}: {actual[idx]!r}, expected {expected[idx]!r}"


def verify_unit(target: StoreTarget, unit: Unit) -> tuple[str | None, int]:
    """Compare one block of the store with the sources."""
    expected = read_unit(unit, raw=True)
    actual = np.asarray(_store_array(target, unit.array)[unit.selection])
    diff = compare(expected, actual, unit.keep_bits)
    span = ",".join(f"{s.start}:{s.stop}" for s in unit.selection)
    return (f"{unit.array}[{span}]: {diff}" if diff else None), unit.nbytes


def _check_array(vp: VarPlan, arr: Any, attrs: dict[str, Any], skip_units: bool) -> list[str]:
    out = []
    info = vp.info
    if tuple(arr.shape) != tuple(info.shape):
        out.append(f"{vp.array_path}: shape {tuple(arr.shape)}, sources {info.shape}")
    if info.dtype != object and np.dtype(arr.dtype) != info.dtype:
        out.append(f"{vp.array_path}: dtype {arr.dtype}, sources {info.dtype}")
    for key, value in info.attrs.items():
        if key in IGNORED_ATTRS or (skip_units and key in ("units", "time_origin")):
            continue
        if key not in attrs:
            out.append(f"{vp.array_path}: attribute {key!r} missing")
        elif not same_value(attrs[key], value):
            out.append(f"{vp.array_path}: attribute {key!r} is {attrs[key]!r}, sources {value!r}")
    return out


def verify(
    sources: str | Path | Sequence[str | Path],
    dest: str,
    *,
    variables: Sequence[str] | None = None,
    drop_variables: Sequence[str] | None = None,
    concat_dim: str | None = None,
    time_variable: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    scanned: Inventory | None = None,
) -> VerifyReport:
    """Compare a Zarr store with the NetCDF sources it was made from.

    Parameters
    ----------
    sources
        As for :func:`jasmin_access.convert`.
    dest
        The store.
    variables, drop_variables, concat_dim, time_variable
        As given to ``convert``.
    workers, scheduler, progress
        As for ``convert``.
    profile, endpoint_url, anon
        How to reach ``s3://`` URLs.
    scanned
        A scan of the same sources made in this process (``convert(verify=True)``
        passes its own): used when the sources did not change, so they are not
        opened twice.

    Returns
    -------
    VerifyReport
        ``ok`` is False and ``differences`` lists what differs otherwise.

    Raises
    ------
    NotFound
        ``dest`` is not a complete Zarr store.
    """
    import zarr

    started = time.monotonic()
    rkw = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    options = ConvertOptions(
        variables=list(variables) if variables else None,
        drop_variables=list(drop_variables) if drop_variables else None,
        concat_dim=concat_dim,
        time_variable=time_variable,
    )
    try:
        loc = resolve(dest, **rkw)
        plan = prepare(sources, options, rkw, loc, scanned=scanned)
        report = VerifyReport(dest=loc.url)
        target = StoreTarget.of(loc, new_run_id())
        with translating("verifying", loc.url, loc.profile_name):
            try:
                # unknown codecs and unfinished stores are named before any data is read
                open_metadata(target.zarr_store(read_only=True), loc.url)
                root = zarr.open_group(target.zarr_store(read_only=True), mode="r")
            except (FileNotFoundError, zarr.errors.GroupNotFoundError):
                raise NotFound(
                    f"{loc.url} is not a complete Zarr store", "convert it first"
                ) from None
            _compare_all(plan, root, target, report, workers, scheduler, progress)
    finally:
        close_all()
        close_stores()
        _stores.clear()
    report.seconds = time.monotonic() - started
    return report


def _compare_all(
    plan: Any,
    root: Any,
    target: StoreTarget,
    report: VerifyReport,
    workers: int | None,
    scheduler: str | None,
    progress: bool,
) -> None:
    import xarray as xr

    checked = []
    raw = {
        path: xr.open_zarr(
            target.zarr_store(read_only=True), group=path or None, decode_cf=False, chunks=None
        )
        for path in plan.inventory.groups
    }
    for vp in plan.variables:
        try:
            arr = root[vp.array_path]
        except KeyError:
            report.differences.append(f"{vp.array_path}: missing from the store")
            continue
        units = vp.info.name in plan.inventory.groups[vp.group].units
        attrs = dict(raw[vp.group][vp.name].attrs) if vp.name in raw[vp.group] else {}
        report.differences.extend(_check_array(vp, arr, attrs, units))
        vp.chunks, vp.shards, vp.is_index = tuple(arr.chunks), arr.shards, False
        bits = arr.attrs.get("keep_bits")
        vp.keep_bits = int(bits) if bits is not None else None
        checked.append(vp)
    plan.variables = checked
    report.arrays = len(checked)
    units = list(plan.units())
    bar = Progress(sum(u.nbytes for u in units), len(units), enabled=progress, label="verifying")

    def on_done(unit: Unit, result: tuple[str | None, int]) -> None:
        diff, nbytes = result
        report.blocks += 1
        report.bytes_compared += nbytes
        bar.advance(nbytes)
        if diff and len(report.differences) < _MAX_REPORTED:
            report.differences.append(diff)

    with bar:
        run_units(units, target, on_done, scheduler=scheduler, workers=workers, task=verify_unit)
