"""jasmin_access: ocean model output onto S3-compatible object stores, and back.

The Python API that the ``jasmin-access`` command and notebooks share::

    import jasmin_access as ja
    ja.convert("run/*_grid_T.nc", "s3://bucket/run.zarr", profile="jasmin")
    ja.ls("s3://bucket/", profile="jasmin")
    ds = ja.open_dataset("s3://bucket/run.zarr", profile="jasmin", time=("1976-01", "1976-12"))

Names are imported lazily so ``import jasmin_access`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .errors import JasminAccessError

__all__ = [
    "JasminAccessError",
    "__version__",
    "append",
    "cat",
    "catalog",
    "convert",
    "cp",
    "du",
    "find",
    "get_profile",
    "head",
    "info",
    "ls",
    "mb",
    "mv",
    "open_dataset",
    "open_mfdataset",
    "resolve",
    "rm",
    "slices",
    "stat",
    "sync",
    "tree",
    "verify",
]

_LAZY = {
    "resolve": "stores",
    "get_profile": "config",
    **dict.fromkeys(
        ["ls", "du", "tree", "find", "stat", "cat", "head", "cp", "mv", "rm", "sync", "mb"], "fs"
    ),
    **dict.fromkeys(["convert", "verify", "append"], "conversion"),
    **dict.fromkeys(["open_dataset", "open_mfdataset", "slices", "info"], "open"),
}


def __getattr__(name: str) -> Any:
    if name == "catalog":  # a subpackage: ja.catalog.build(...), ja.catalog.search(...)
        value = importlib.import_module(".catalog", __name__)
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jasmin_access' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
