"""What ``append`` checks before writing: the store's record dimension and time, the new steps'
place, and that the new files agree with the store (variables, grid, attributes, NaN equal)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import InvalidInput
from ..timecoord import choose_time, same_value, time_candidates, values_equal
from .plan import Plan
from .scan import RECORD_NAMES, step_label
from .sources import read_slab
from .verify import IGNORED_ATTRS
from .writer import StoreTarget, dims_of

__all__ = [
    "check_against_store",
    "check_gaps",
    "check_variables",
    "dims_of",
    "placement",
    "record_dim_of",
    "record_length",
    "time_variable_of",
]


def record_dim_of(root: Any) -> str:
    recorded = root.attrs.get("jasmin_access", {}).get("record_dim")
    if recorded:
        return str(recorded)
    names = {str(d) for _, arr in root.arrays() for d in (arr.metadata.dimension_names or ())}
    found = next((n for n in RECORD_NAMES if n in names), None)
    if found is None:
        raise InvalidInput("cannot tell the store's record dimension", "pass --concat-dim")
    return found


def record_length(root: Any, rdim: str) -> int:
    """Length of the record dimension (it may have no coordinate variable)."""
    for _, arr in root.arrays():
        dims = dims_of(arr)
        if rdim in dims:
            return int(arr.shape[dims.index(rdim)])
    raise InvalidInput(f"no array of the store has the dimension {rdim!r}", "check the store")


def time_variable_of(root: Any, rdim: str, override: str | None) -> str | None:
    """The store's time coordinate: as recorded by convert, else chosen as convert would."""
    if override:
        return override
    prov = root.attrs.get("jasmin_access", {})
    if "time_variable" in prov:
        return prov["time_variable"]
    arrays = dict(root.arrays())
    variables = {n: (dims_of(a), dict(a.attrs)) for n, a in arrays.items()}
    names = time_candidates(variables, rdim)
    return choose_time(names, lambda n: np.asarray(arrays[n][...]))


def check_variables(plan: Plan, root: Any, rdim: str) -> None:
    inv = plan.inventory.groups[""]
    stored = {name: arr for name, arr in root.arrays()}
    for name, arr in stored.items():
        dims = dims_of(arr)
        info = inv.variables.get(name)
        if info is None:
            if rdim in dims:
                raise InvalidInput(
                    f"variable {name!r} is in the store but not in the sources",
                    "every record variable must be appended",
                )
            continue
        where = f"variable {name!r}"
        if info.dims != dims:
            raise InvalidInput(f"{where} has dims {info.dims}, the store {dims}", "")
        if np.dtype(arr.dtype) != info.dtype and info.dtype != object:
            raise InvalidInput(
                f"{where} is {info.dtype} in the sources, {arr.dtype} in the store", ""
            )
        old = [s for d, s in zip(dims, arr.shape, strict=True) if d != rdim]
        new = [s for d, s in zip(info.dims, info.shape, strict=True) if d != rdim]
        if old != new:
            raise InvalidInput(
                f"{where} has shape {info.shape} in the sources, {tuple(arr.shape)} in the store",
                "append files on the same grid",
            )
    extra = sorted(n for n, v in inv.variables.items() if n not in stored and rdim in v.dims)
    if extra:
        raise InvalidInput(f"variable {extra[0]!r} is not in the store", "use --drop-variables")


def placement(
    old: np.ndarray, new: np.ndarray, units: str | None, cal: str, replace_: bool, gaps: bool
) -> int:
    """Index in the store where the new steps start (validated)."""
    if old.size and new[0] < old[0]:
        raise InvalidInput(
            f"step {step_label(new[0], units, cal)} is before the store's first step "
            f"{step_label(old[0], units, cal)}",
            "prepending is not supported",
        )
    start = int(np.searchsorted(old, new[0]))
    overlap = min(old.size - start, new.size)
    if overlap > 0:
        if not replace_:
            first, last = step_label(new[0], units, cal), step_label(new[overlap - 1], units, cal)
            raise InvalidInput(
                f"steps {first} to {last} are already in the store",
                "use --replace to overwrite them",
            )
        bad = np.nonzero(old[start : start + overlap] != new[:overlap])[0]
        if bad.size:
            step = new[int(bad[0])]
            raise InvalidInput(
                f"step {step_label(step, units, cal)} does not match a step of the store",
                "replaced steps must coincide with existing ones",
            )
    if not gaps:
        check_gaps(old, new, start, units, cal)
    return start


def check_gaps(old: np.ndarray, new: np.ndarray, start: int, units: str | None, cal: str) -> None:
    joined = np.concatenate([old[:start], new])
    steps = np.diff(joined)
    reference = np.diff(old) if old.size > 1 else steps
    if not steps.size or not reference.size:
        return
    typical = float(np.median(reference))
    first_new = max(start - 1, 0)
    bad = np.nonzero(steps[first_new:] > 1.5 * typical)[0]
    if bad.size:
        step = joined[first_new + int(bad[0]) + 1]
        raise InvalidInput(
            f"gap before step {step_label(step, units, cal)} breaks the store's spacing",
            "use --allow-gaps to accept it",
        )


#: Static variables up to this size are compared with the store before appending.
_COMPARE_LIMIT = 16 << 20


def check_against_store(plan: Plan, target: StoreTarget) -> None:
    """Attributes and static values (up to 16 MiB each) equal the store's (NaN equals NaN)."""
    import xarray as xr

    inv = plan.inventory.groups[""]
    first = plan.inventory.sources[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = xr.open_zarr(target.zarr_store(), decode_cf=False, chunks=None)
    for name, info in inv.variables.items():
        if name not in raw.variables:
            continue
        stored = raw[name].attrs
        skip = {"units", "time_origin"} if name in inv.units else set()
        for key, value in info.attrs.items():
            if key in IGNORED_ATTRS or key in skip or key not in stored:
                continue
            if not same_value(stored[key], value):
                raise InvalidInput(
                    f"{first.url}: variable {name!r} differs from the store: attribute {key!r} "
                    f"({value!r} vs {stored[key]!r})",
                    "append files made the same way as the store's",
                )
        small = int(np.prod(info.shape, dtype=np.int64)) * info.dtype.itemsize <= _COMPARE_LIMIT
        if inv.record_dim not in info.dims and info.dtype != object and small:
            values = read_slab(first, "", name, tuple(slice(0, n) for n in info.shape))
            if not values_equal(values, raw[name].values):
                raise InvalidInput(
                    f"{first.url}: values of {name!r} differ from the store's",
                    "append files on the same grid",
                )
