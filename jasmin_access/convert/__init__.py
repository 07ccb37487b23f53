"""NetCDF model output into Zarr stores on any backend.

``convert(sources, dest)`` builds one store from many NetCDF files;
``verify(sources, dest)`` compares a store with its sources.
"""

from __future__ import annotations

from .api import ConvertReport, convert
from .verify import VerifyReport, verify

__all__ = ["ConvertReport", "VerifyReport", "convert", "verify"]
