"""Serializable read tasks: fan a dataset out to workers without moving data.

``slices(url, dim="time_counter", n=12)`` cuts a store into ``n`` contiguous
pieces along ``dim`` (on storage-chunk boundaries where possible; or
``by="month"|"year"``, or ``max_mb=``) and returns
small frozen descriptions (URL, profile *name*, variables, index range).  A
worker of dask.distributed, a process pool or any other scheduler evaluates one
with ``task()`` or ``task.open()`` and reads its piece directly from the store;
the client never handles the data, and no secret travels with a task.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

import xarray as xr

from ..errors import InvalidInput

__all__ = ["ReadTask", "slices"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadTask:
    """One piece of a dataset: what to open and which index range to keep.

    Attributes
    ----------
    url
        Store or object URL (never carries credentials).
    profile
        Profile *name*, resolved by the worker from its own config/environment.
    dim, start, stop
        Keep ``isel({dim: slice(start, stop)})``.
    variables
        Variables to keep (None: all).
    endpoint_url, anon
        Overrides, as given to :func:`jasmin_access.slices`.
    label
        The month (``YYYY-MM``) or year of the piece when sliced ``by=``.
    """

    url: str
    profile: str | None
    dim: str
    start: int
    stop: int
    variables: tuple[str, ...] | None = None
    endpoint_url: str | None = None
    anon: bool | None = None
    label: str | None = None

    def open(self, chunks: Any = None) -> xr.Dataset:
        """Open this piece lazily (no Dask by default: workers read it directly)."""
        from ..open import open_dataset

        ds = open_dataset(
            self.url,
            profile=self.profile,
            endpoint_url=self.endpoint_url,
            anon=self.anon,
            variables=list(self.variables) if self.variables else None,
            chunks=chunks,
        )
        return ds.isel({self.dim: slice(self.start, self.stop)})

    def __call__(self) -> xr.Dataset:
        """Open this piece and load its values."""
        return self.open().load()

    @property
    def size(self) -> int:
        """Number of steps along :attr:`dim`."""
        return self.stop - self.start


def _bounds(length: int, n: int, step: int) -> list[tuple[int, int]]:
    """``n`` contiguous ranges covering ``length``, cut on multiples of ``step`` if possible."""
    units = -(-length // step)
    if units < n:
        step, units = 1, length
    n = min(n, units)
    cuts = [round(i * units / n) * step for i in range(n + 1)]
    cuts[-1] = length
    return [(a, min(b, length)) for a, b in itertools.pairwise(cuts) if b > a]


def slices(
    url: Any,
    *,
    dim: str = "time_counter",
    n: int | None = None,
    by: str | None = None,
    max_mb: float | None = None,
    profile: str | None = None,
    variables: list[str] | str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> list[Any]:
    """Describe pieces of a dataset along ``dim`` for parallel reading.

    Parameters
    ----------
    url
        Zarr store, NetCDF object or index URL; or a list or glob of NetCDF
        files/objects, sliced in place without an index
        (:class:`~jasmin_access.reading.ncslices.NetCDFSlice`).
    dim
        Dimension to split (default the NEMO record dimension).
    n
        Number of pieces (fewer if ``dim`` is shorter); 12 when no strategy is given.
    by
        ``"month"`` or ``"year"``: one piece per calendar month or year of ``dim``.
    max_mb
        Pieces of at most about this many MB uncompressed (at least one step).
    profile
        Profile *name*; workers resolve it from their own configuration.
    variables
        Variables each piece keeps.
    endpoint_url, anon
        Access overrides passed on to the workers.

    Returns
    -------
    list of ReadTask or NetCDFSlice
        Picklable, small and free of secrets; ``task()`` loads a piece,
        ``task.label`` names its month or year with ``by=``.

    Examples
    --------
    >>> tasks = slices("s3://bucket/run.zarr", by="month", profile="jasmin")  # doctest: +SKIP
    >>> means = client.map(lambda t: t().thetao.mean().item(), tasks)  # doctest: +SKIP
    """
    from .. import paths
    from ..open import _locations, open_dataset
    from .netcdf import is_netcdf

    if not isinstance(profile, (str, type(None))):
        raise InvalidInput("slices takes a profile name", "pass profile='name'")
    names = (variables,) if isinstance(variables, str) else tuple(variables or ()) or None
    access = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    if not isinstance(url, str) or paths.has_magic(url):
        locations = _locations(url, access)
        if not all(is_netcdf(loc.path) for loc in locations):
            raise InvalidInput("slices over several URLs take NetCDF files only",
                               "build an index first (`jasmin-access index`)")  # fmt: skip
        from .ncslices import file_slices

        return file_slices(locations, dim, Strategy(n, by, max_mb), names, access)
    ds = open_dataset(url, chunks=None, **access)
    if dim not in ds.dims:
        raise InvalidInput(
            f"dimension '{dim}' not in {url}", f"dimensions: {', '.join(map(str, ds.dims))}"
        )
    strategy = Strategy(n, by, max_mb)
    cuts = strategy.cuts(ds, dim, _storage_step(ds, dim), names)
    # a datastore version named by @latest, a tag or a time: every task reads the same one
    url = ds.encoding.get("jasmin_datastore_version", url)
    return [
        ReadTask(url, profile, dim, a, b, names, endpoint_url, anon, label) for a, b, label in cuts
    ]


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
