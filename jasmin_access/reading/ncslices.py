"""Slices over raw NetCDF files: partitions evaluated in place by workers.

Dataplug's idea ("re-partition at zero cost") for NetCDF files that were never
converted: the client opens each file once (concurrently, by byte ranges on
remote stores) to read only the record coordinate, cuts the joined record axis
by a :class:`~jasmin_access.reading.cutting.Strategy`, and returns
:class:`NetCDFSlice` objects.  A slice names the files and index ranges it
covers, a profile *name* and nothing else: a worker evaluates it by reading
those ranges itself, the files' pieces concurrently.
"""

from __future__ import annotations

import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import xarray as xr

from ..errors import InvalidInput
from ..stores import Location
from .cutting import _bytes_per_step, _opener

__all__ = ["NetCDFSlice", "Piece", "file_slices"]

log = logging.getLogger(__name__)

#: Files opened at once while scanning, and pieces read at once by a worker.
CONCURRENCY = 8


@dataclass(frozen=True)
class Piece:
    """``isel({dim: slice(start, stop)})`` of one file."""

    url: str
    start: int
    stop: int


@dataclass(frozen=True)
class NetCDFSlice:
    """A contiguous piece of a set of NetCDF files along ``dim`` (picklable, no secrets)."""

    pieces: tuple[Piece, ...]
    dim: str
    profile: str | None = None
    variables: tuple[str, ...] | None = None
    endpoint_url: str | None = None
    anon: bool | None = None
    label: str | None = None
    opener: Any = None  # opens one file (jasmin_access.open_dataset), pickled by name

    @property
    def size(self) -> int:
        """Number of steps along :attr:`dim`."""
        return sum(p.stop - p.start for p in self.pieces)

    def _piece(self, piece: Piece) -> xr.Dataset:
        ds = _opener(self.opener)(
            piece.url, profile=self.profile, endpoint_url=self.endpoint_url, anon=self.anon,
            variables=list(self.variables) if self.variables else None, chunks=None,
        )  # fmt: skip
        return ds.isel({self.dim: slice(piece.start, piece.stop)})

    def open(self) -> xr.Dataset:
        """The piece, lazily (no Dask): files opened, nothing read but metadata."""
        from .subset import join_records

        return join_records([self._piece(p) for p in self.pieces], self.dim)

    def __call__(self) -> xr.Dataset:
        """Load the piece: its files' ranges read concurrently."""
        from .subset import join_records

        with ThreadPoolExecutor(min(CONCURRENCY, len(self.pieces))) as pool:
            parts = list(pool.map(lambda p: self._piece(p).load(), self.pieces))
        return join_records(parts, self.dim)


def _scan(
    location: Location, dim: str, names: tuple[str, ...] | None
) -> tuple[int, xr.DataArray | None, float]:
    """One open of one file: its length, record coordinate and bytes per step (no data)."""
    from .netcdf import open_netcdf

    with open_netcdf([location], chunks=None) as ds:
        if dim not in ds.dims:
            raise InvalidInput(f"dimension '{dim}' not in {location.url}",
                               f"dimensions: {', '.join(map(str, ds.dims))}")  # fmt: skip
        coord = ds[dim].load() if dim in ds.variables else None
        return int(ds.sizes[dim]), coord, _bytes_per_step(ds, dim, names)


def file_slices(
    locations: list[Location],
    dim: str,
    strategy: Any,
    variables: tuple[str, ...] | None,
    access: dict[str, Any],
) -> list[NetCDFSlice]:
    """Cut NetCDF files joined along ``dim`` into :class:`NetCDFSlice` pieces."""
    with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="slices-scan") as pool:
        scans = list(pool.map(lambda loc: _scan(loc, dim, variables), locations))
    lengths = [length for length, _, _ in scans]
    coords = [coord for _, coord, _ in scans]
    coord = None if any(c is None for c in coords) else xr.concat(coords, dim=dim)
    per_step = max(per for _, _, per in scans)
    cuts = strategy.cut(sum(lengths), coord, per_step)
    starts = [0, *itertools.accumulate(lengths)]
    out = []
    for a, b, label in cuts:
        pieces = tuple(
            Piece(loc.url, max(a, lo) - lo, min(b, hi) - lo)
            for loc, lo, hi in zip(locations, starts, starts[1:], strict=False)
            if min(b, hi) > max(a, lo)
        )
        out.append(NetCDFSlice(pieces, dim, access["profile"], variables, access["endpoint_url"],
                               access["anon"], label, access.get("opener")))  # fmt: skip
    log.info("%d files cut into %d slices along %s", len(locations), len(out), dim)
    return out
