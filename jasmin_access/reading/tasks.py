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

import logging
from dataclasses import dataclass
from typing import Any

import xarray as xr

from ..errors import InvalidInput
from .cutting import Opener, Strategy, _opener, _storage_step
from .ncslices import file_slices

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
    opener
        The function that opens :attr:`url` (:func:`jasmin_access.open_dataset`);
        it pickles by name, so a worker imports it.
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
    opener: Opener | None = None

    def open(self, chunks: Any = None) -> xr.Dataset:
        """Open this piece lazily (no Dask by default: workers read it directly)."""
        ds = _opener(self.opener)(
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
    opener: Opener,
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
    opener
        Opens a URL as a dataset (:func:`jasmin_access.open_dataset`, which
        :func:`jasmin_access.slices` passes): here to read the metadata, and in
        each task to open its piece.

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
    from .locations import locations
    from .netcdf import is_netcdf

    if not isinstance(profile, (str, type(None))):
        raise InvalidInput("slices takes a profile name", "pass profile='name'")
    names = (variables,) if isinstance(variables, str) else tuple(variables or ()) or None
    access = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    if not isinstance(url, str) or paths.has_magic(url):
        found = locations(url, access)
        if not all(is_netcdf(loc.path) for loc in found):
            raise InvalidInput("slices over several URLs take NetCDF files only",
                               "build an index first (`jasmin-access index`)")  # fmt: skip
        return file_slices(found, dim, Strategy(n, by, max_mb), names, {**access, "opener": opener})
    ds = opener(url, chunks=None, **access)
    if dim not in ds.dims:
        raise InvalidInput(
            f"dimension '{dim}' not in {url}", f"dimensions: {', '.join(map(str, ds.dims))}"
        )
    strategy = Strategy(n, by, max_mb)
    cuts = strategy.cuts(ds, dim, _storage_step(ds, dim), names)
    # a datastore version named by @latest, a tag or a time: every task reads the same one
    url = ds.encoding.get("jasmin_datastore_version", url)
    return [
        ReadTask(url, profile, dim, a, b, names, endpoint_url, anon, label, opener)
        for a, b, label in cuts
    ]
