"""``jasmin-access info`` of the read store against opening it with xarray (fresh processes).

Ours: ``jasmin-access info s3://bench/read-VARIANT.zarr``: dims, variables,
dtypes, chunks, codecs, stored sizes, time range and attributes.  Peer:
``xr.open_zarr`` over an s3fs mapper and ``print`` of the first variable, what
a user types to see the same.  Goal: ≥5x faster.  The measurements live in
:mod:`benchmarks.cases.read`, beside the open case, and share its store.
"""

from __future__ import annotations

from .read import info_checks as checks
from .read import run_info as run

__all__ = ["NAME", "checks", "run"]

NAME = "info"
