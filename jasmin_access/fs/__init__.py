"""POSIX-like commands over object-store prefixes: ls, du, tree, find, stat, cat, head,
cp, mv, rm, sync, mb.

A "directory" is a common prefix ending in ``/``.  Every function takes a URL
(``s3://``, ``local://``, ``https://`` read-only, or a local path) and the
keyword arguments ``profile``, ``endpoint_url`` and ``anon``.
"""

from __future__ import annotations

from .buckets import mb
from .listing import find, iter_objects, ls, tree, walk
from .objects import cat, cat_to, head, stat
from .records import (
    Entry,
    ObjectInfo,
    Records,
    RemoveReport,
    TransferItem,
    TransferReport,
    TreeNode,
    Usage,
    ZarrSummary,
)
from .remove import rm
from .transfer import cp, mv, sync
from .usage import du

__all__ = [
    "Entry",
    "ObjectInfo",
    "Records",
    "RemoveReport",
    "TransferItem",
    "TransferReport",
    "TreeNode",
    "Usage",
    "ZarrSummary",
    "cat",
    "cat_to",
    "cp",
    "du",
    "find",
    "head",
    "iter_objects",
    "ls",
    "mb",
    "mv",
    "rm",
    "stat",
    "sync",
    "tree",
    "walk",
]
