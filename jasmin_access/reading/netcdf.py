"""NetCDF objects read in place, by byte ranges, without downloading them.

NetCDF4/HDF5 files are opened with h5netcdf over fsspec file objects (a block
cache keeps HDF5's many small metadata reads cheap); several files are joined
along their record dimension.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, translating
from ..stores import Location

if TYPE_CHECKING:  # xarray is imported when a file is opened: `info` of a Zarr store needs none
    import xarray as xr

__all__ = ["BLOCK_SIZE", "NETCDF_SUFFIXES", "is_netcdf", "open_netcdf", "open_netcdf_file"]

log = logging.getLogger(__name__)

NETCDF_SUFFIXES = (".nc", ".nc4", ".h5", ".hdf5", ".netcdf")
BLOCK_SIZE = 4 * 1024 * 1024


def is_netcdf(url: str) -> bool:
    """True when ``url`` names a NetCDF/HDF5 object by its suffix."""
    return url.lower().rstrip("/").endswith(NETCDF_SUFFIXES)


def open_netcdf_file(location: Location) -> Any:
    """A file object (or local path) for h5netcdf; remote objects are read lazily."""
    if location.caps.local_path:
        return location.path
    with translating("opening", location.url, location.profile_name):
        return location.backend.open_random(location.path, BLOCK_SIZE)


def _open_one(location: Location, chunks: Any, **kwargs: Any) -> xr.Dataset:
    import xarray as xr

    target = open_netcdf_file(location)
    kwargs.setdefault("phony_dims", "sort")  # plain HDF5 datasets get netCDF-4's dimension names
    with translating("opening", location.url, location.profile_name):
        try:
            return xr.open_dataset(target, engine="h5netcdf", chunks=chunks, **kwargs)
        except OSError as exc:
            if "signature" in str(exc).lower() or "not a" in str(exc).lower():
                raise InvalidInput(
                    f"{location.url} is not a NetCDF4/HDF5 file ({exc})",
                    "only NetCDF4 (HDF5-based) files can be read in place; "
                    "convert NetCDF3 files to Zarr with `jasmin-access convert`",
                ) from None
            raise


def open_netcdf(locations: list[Location], chunks: Any = "auto", **kwargs: Any) -> xr.Dataset:
    """Open one or several NetCDF objects lazily, joined along the record dimension.

    Parameters
    ----------
    locations
        The objects, in the order to join them (sorted by time afterwards).
    chunks
        Dask chunks (``"auto"`` follows the files' own chunking), or None.
    **kwargs
        Passed to :func:`xarray.open_dataset` (``decode_times`` ...).
    """
    from .subset import join_records

    if len(locations) == 1:
        return _open_one(locations[0], chunks, **kwargs)
    return join_records([_open_one(loc, chunks, **kwargs) for loc in locations])
