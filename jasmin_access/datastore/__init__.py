"""Datastores: named, immutable, versioned datasets on stores without conditional writes.

A datastore is a prefix holding content-addressed objects (``objects/<sha256>``)
and one immutable manifest per version (``versions/<ID>.jdm``), published last
under a time-ordered unique name.  Nothing is ever overwritten and no request
needs ``If-None-Match``/``If-Match``, so concurrent writers are safe on the
JASMIN object store: two pushes from the same version make a fork that
``log`` shows, and both are kept.

Versions are selected with ``URL@latest`` (default), ``URL@ID`` (or a unique
prefix of the ID), ``URL@TAG`` or ``URL@2026-11-01T12:00`` (the newest at that
time, UTC), and open with :func:`jasmin_access.open_dataset` like any store.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Datastore",
    "GcResult",
    "Manifest",
    "PushResult",
    "VerifyResult",
    "create",
    "diff",
    "gc",
    "get",
    "log",
    "mount",
    "open_datastore",
    "push",
    "rm",
    "split_ref",
    "status",
    "tag",
    "unmount",
    "verify",
    "version_store",
]

# imported on first use: ``ls`` and ``du`` consult this package without paying for zarr
_LAZY = {
    "split_ref": "layout",
    "Manifest": "manifest",
    **dict.fromkeys(["GcResult", "VerifyResult", "diff", "gc", "get", "log", "rm"], "ops"),
    **dict.fromkeys(["status", "tag", "verify"], "ops"),
    **dict.fromkeys(["PushResult", "create", "push"], "publish"),
    **dict.fromkeys(["Datastore", "open_datastore"], "repo"),
    **dict.fromkeys(["mount", "unmount"], "fusemount"),
    "version_store": "zstore",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jasmin_access.datastore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
