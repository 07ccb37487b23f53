"""How a dataset is cut for parallel reading: strategies, ranges, the opener of a piece.

Shared by the read tasks of :mod:`.tasks` (stores) and :mod:`.ncslices`
(NetCDF files read in place).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import xarray as xr

from ..errors import InvalidInput

__all__ = ["Opener", "Strategy"]

Opener = Callable[..., xr.Dataset]


def _opener(opener: Opener | None) -> Opener:
    if opener is None:
        raise InvalidInput("this task has no opener", "make tasks with jasmin_access.slices")
    return opener


def _bounds(length: int, n: int, step: int) -> list[tuple[int, int]]:
    """``n`` contiguous ranges covering ``length``, cut on multiples of ``step`` if possible."""
    units = -(-length // step)
    if units < n:
        step, units = 1, length
    n = min(n, units)
    cuts = [round(i * units / n) * step for i in range(n + 1)]
    cuts[-1] = length
    return [(a, min(b, length)) for a, b in itertools.pairwise(cuts) if b > a]


@dataclass(frozen=True)
class Strategy:
    """How to cut a record dimension: ``n`` pieces, ``by`` month/year or ``max_mb``."""

    n: int | None = None
    by: str | None = None
    max_mb: float | None = None

    def __post_init__(self) -> None:
        given = [k for k in ("n", "by", "max_mb") if getattr(self, k) is not None]
        if len(given) > 1:
            raise InvalidInput(f"give one of n=, by=, max_mb=, not {' and '.join(given)}")
        if self.n is not None and self.n < 1:
            raise InvalidInput(f"n must be at least 1, got {self.n}")
        if self.by not in (None, "month", "year"):
            raise InvalidInput(f"by={self.by!r} is not a partition", "use by='month' or 'year'")
        if self.max_mb is not None and self.max_mb <= 0:
            raise InvalidInput(f"max_mb must be positive, got {self.max_mb}")

    def cuts(
        self, ds: xr.Dataset, dim: str, step: int = 1, names: tuple[str, ...] | None = None
    ) -> list[tuple[int, int, str | None]]:
        """``(start, stop, label)`` ranges covering ``ds[dim]``."""
        coord = ds[dim] if dim in ds.variables else None
        return self.cut(int(ds.sizes[dim]), coord, _bytes_per_step(ds, dim, names), step)

    def cut(
        self, length: int, coord: xr.DataArray | None, per_step: float, step: int = 1
    ) -> list[tuple[int, int, str | None]]:
        """``(start, stop, label)`` ranges over ``length`` steps of ``per_step`` bytes."""
        if self.by is not None:
            if coord is None:
                raise InvalidInput(f"by='{self.by}' needs a time coordinate",
                                   "slice with n= or max_mb= instead")  # fmt: skip
            return _calendar_cuts(coord, self.by)
        if self.max_mb is not None:
            steps = max(1, int(self.max_mb * 1e6 // max(per_step, 1)))
            return [(a, min(a + steps, length), None) for a in range(0, length, steps)]
        return [(a, b, None) for a, b in _bounds(length, self.n or 12, step)]


def _calendar_cuts(coord: xr.DataArray, by: str) -> list[tuple[int, int, str | None]]:
    """Contiguous runs of one calendar month or year (decoded times, any calendar)."""
    if coord.dtype.kind not in "Mm" and coord.dtype != object:
        raise InvalidInput(
            f"by='{by}' needs decoded times, but '{coord.name}' holds {coord.dtype} values",
            "slice with n= or max_mb= instead",
        )
    years = coord.dt.year.values
    keys = [f"{y:04d}" for y in years]
    if by == "month":
        keys = [f"{k}-{m:02d}" for k, m in zip(keys, coord.dt.month.values, strict=True)]
    out: list[tuple[int, int, str | None]] = []
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out.append((start, i, keys[start]))
            start = i
    return out


def _bytes_per_step(ds: xr.Dataset, dim: str, names: tuple[str, ...] | None) -> float:
    chosen = [ds[v] for v in (names or ds.data_vars) if dim in ds[v].dims]
    return sum(v.size * v.dtype.itemsize for v in chosen) / max(int(ds.sizes[dim]), 1)


def _storage_step(ds: xr.Dataset, dim: str) -> int:
    """Storage chunk length along ``dim`` (largest among the variables using it)."""
    step = 1
    for var in ds.data_vars.values():
        chunks = var.encoding.get("preferred_chunks") or {}
        if dim in chunks:
            step = max(step, int(chunks[dim]))
    return step
