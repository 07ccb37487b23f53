"""Find the datasets under prefixes: one listing per pseudo-directory.

Discovery is a list of *finders*.  Each finder looks at one listed level
(the prefix URL and its entries) and returns the datasets it recognises
there, plus the sub-prefixes it has claimed (not walked further).  Zarr stores
(v2 and v3), versioned datastores and reference indexes of NetCDF sets are
found by the finders below; another kind of dataset is added with
:func:`register_finder` and needs no change here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..fs import Entry
from ._storage import Access, datastore_state, fingerprint, list_level

__all__ = ["Found", "Source", "discover", "register_finder"]

log = logging.getLogger(__name__)

MAX_DEPTH = 12
_SKIP = (".jasmin-access", ".git")


@dataclass(frozen=True)
class Source:
    """One dataset to catalogue.

    Attributes
    ----------
    url
        Where it is (a store prefix, an index object ...).
    kind
        The describer to use (``"zarr"``, ``"index"`` ...).
    fingerprint
        Changes whenever the dataset changes (ETag or mtime of its root
        metadata, a version number ...): unchanged entries are not rewritten.
    state
        What was read to make the fingerprint and the describer reuses (the
        versions and tags of a datastore).
    """

    url: str
    kind: str
    fingerprint: str
    state: Any = field(default=None, compare=False)


@dataclass
class Found:
    """What a finder recognised at one level."""

    sources: list[Source] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)  # directory URLs not to walk into


Finder = Callable[[str, list[Entry]], Found]
_FINDERS: list[Finder] = []


def register_finder(finder: Finder) -> Finder:
    """Add a finder (usable as a decorator); finders run in registration order."""
    _FINDERS.append(finder)
    return finder


@register_finder
def datastores(prefix: str, entries: list[Entry]) -> Found:
    """A prefix holding a datastore's marker object is one dataset (found by the raw
    listing, so no manifest is read); its fingerprint comes from its versions and tags."""
    from ..datastore.units import is_datastore_marker

    if not any(e.type == "file" and is_datastore_marker(e.name) for e in entries):
        return Found()
    dirs = {e.path for e in entries if e.type == "directory"}
    return Found([Source(prefix.rstrip("/"), "datastore", "")], dirs)


@register_finder
def zarr_stores(prefix: str, entries: list[Entry]) -> Found:
    """A prefix holding ``zarr.json`` (v3) or ``.zmetadata`` (v2, consolidated) is a store."""
    files = {e.name: e for e in entries if e.type == "file"}
    meta = files.get("zarr.json") or files.get(".zmetadata")
    if meta is None:
        return Found()
    url = prefix.rstrip("/")
    dirs = {e.path for e in entries if e.type == "directory"}
    return Found([Source(url, "zarr", fingerprint(meta))], dirs)


@register_finder
def netcdf_indexes(prefix: str, entries: list[Entry]) -> Found:
    """``*.index.json`` objects (``jasmin-access index``) stand for their NetCDF sets."""
    found = [
        Source(e.path, "index", fingerprint(e))
        for e in entries
        if e.type == "file" and e.name.endswith(".index.json")
    ]
    return Found(found)


def _with_state(source: Source, access: Access) -> Source:
    state = datastore_state(source.url, access)
    return Source(source.url, source.kind, state.fingerprint, state)


def _scan(prefix: str, access: Access) -> tuple[list[Source], list[str]]:
    entries = list_level(prefix, access)
    sources: list[Source] = []
    claimed: set[str] = set()
    for finder in _FINDERS:
        found = finder(prefix, entries)
        sources += found.sources
        claimed |= found.claimed
    sources = [_with_state(s, access) if s.kind == "datastore" else s for s in sources]
    if any(s.kind in ("zarr", "datastore") and s.url == prefix.rstrip("/") for s in sources):
        return sources, []  # inside a store: its groups and arrays are not datasets
    subdirs = [
        e.path
        for e in entries
        if e.type == "directory" and e.path not in claimed and e.name not in _SKIP
    ]
    return sources, subdirs


def discover(urls: Iterable[str], access: Access, exclude: Iterable[str] = ()) -> list[Source]:
    """Walk the prefixes breadth-first, listing each level once (levels in parallel).

    Parameters
    ----------
    urls
        Prefixes to walk (or a store URL itself).
    access
        Store access.
    exclude
        Prefixes not to walk into (the catalog's own prefix).

    Returns
    -------
    list[Source]
        Sorted by URL, without duplicates.
    """
    skip = tuple(u.rstrip("/") + "/" for u in exclude)
    level = [u.rstrip("/") + "/" for u in urls]
    found: dict[str, Source] = {}
    with ThreadPoolExecutor(8) as pool:
        for _depth in range(MAX_DEPTH):
            level = [u for u in level if not u.startswith(skip)]
            if not level:
                break
            next_level: list[str] = []
            for sources, subdirs in pool.map(lambda u: _scan(u, access), level):
                found.update((s.url, s) for s in sources)
                next_level += subdirs
            level = next_level
    log.info("found %d datasets", len(found))
    return [found[k] for k in sorted(found)]
