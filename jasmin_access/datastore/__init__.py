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

from .layout import split_ref
from .manifest import Manifest
from .ops import GcResult, VerifyResult, diff, gc, get, log, rm, status, tag, verify
from .push import PushResult, create, push
from .repo import Datastore, open_datastore

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
    "open_datastore",
    "push",
    "rm",
    "split_ref",
    "status",
    "tag",
    "verify",
]
