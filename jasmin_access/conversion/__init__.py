"""NetCDF model output into Zarr stores on any backend.

``convert(sources, dest)`` builds one store from many NetCDF files;
``append(sources, dest)`` adds steps to it; ``verify(sources, dest)`` compares a
store with its sources.
"""

from __future__ import annotations

from .api import ConvertReport, convert
from .append import append
from .verify import VerifyReport, verify

__all__ = ["ConvertReport", "VerifyReport", "append", "convert", "verify"]
