"""Serializable read tasks: fan a dataset out to workers without moving data.

``slices(url, dim="time_counter", n=12)`` cuts a store into ``n`` contiguous
pieces along ``dim`` (on storage-chunk boundaries where possible) and returns
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

from .errors import InvalidInput
from .open import open_dataset

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
    """

    url: str
    profile: str | None
    dim: str
    start: int
    stop: int
    variables: tuple[str, ...] | None = None
    endpoint_url: str | None = None
    anon: bool | None = None

    def open(self, chunks: Any = None) -> xr.Dataset:
        """Open this piece lazily (no Dask by default: workers read it directly)."""
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
    url: str,
    *,
    dim: str = "time_counter",
    n: int = 12,
    profile: str | None = None,
    variables: list[str] | str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> list[ReadTask]:
    """Describe ``n`` contiguous pieces of a dataset along ``dim`` for parallel reading.

    Parameters
    ----------
    url
        Zarr store, NetCDF object or index URL (one URL; a string).
    dim
        Dimension to split (default the NEMO record dimension).
    n
        Number of pieces (fewer if ``dim`` is shorter).
    profile
        Profile *name*; workers resolve it from their own configuration.
    variables
        Variables each piece keeps.
    endpoint_url, anon
        Access overrides passed on to the workers.

    Returns
    -------
    list of ReadTask
        Picklable, small and free of secrets.

    Examples
    --------
    >>> tasks = slices("s3://bucket/run.zarr", n=12, profile="jasmin")  # doctest: +SKIP
    >>> means = client.map(lambda t: t().thetao.mean().item(), tasks)  # doctest: +SKIP
    """
    if n < 1:
        raise InvalidInput(f"n must be at least 1, got {n}")
    if not isinstance(profile, (str, type(None))):
        raise InvalidInput("slices takes a profile name", "pass profile='name'")
    ds = open_dataset(url, profile=profile, endpoint_url=endpoint_url, anon=anon, chunks=None)
    if dim not in ds.dims:
        raise InvalidInput(
            f"dimension '{dim}' not in {url}", f"dimensions: {', '.join(map(str, ds.dims))}"
        )
    step = _storage_step(ds, dim)
    names = (variables,) if isinstance(variables, str) else tuple(variables or ()) or None
    return [
        ReadTask(url, profile, dim, a, b, names, endpoint_url, anon)
        for a, b in _bounds(int(ds.sizes[dim]), n, step)
    ]


def _storage_step(ds: xr.Dataset, dim: str) -> int:
    """Storage chunk length along ``dim`` (largest among the variables using it)."""
    step = 1
    for var in ds.data_vars.values():
        chunks = var.encoding.get("preferred_chunks") or {}
        if dim in chunks:
            step = max(step, int(chunks[dim]))
    return step
