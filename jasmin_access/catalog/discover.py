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

from ..fs import Entry
from ._storage import Access, fingerprint, list_level

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
    """

    url: str
    kind: str
    fingerprint: str


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


def _datastore_version(prefix: str, entries: list[Entry]) -> str | None:
    """The version ID when ``entries`` are a datastore's listing (its latest version's files).

    Listing a datastore root shows the files of its latest version under
    ``<root>@<ID>/``, so the ID comes with the listing: no request more.
    """
    from ..datastore import split_ref

    root = prefix.rstrip("/")
    heads = {e.path[len(root) :].split("/", 1)[0] for e in entries}
    if len(heads) != 1:
        return None
    head = heads.pop()
    if not head.startswith("@"):
        return None
    base, vid = split_ref(f"{root}{head}")
    return vid if base == root else None


@register_finder
def datastores(prefix: str, entries: list[Entry]) -> Found:
    """A datastore is one dataset; its fingerprint is its latest version's ID."""
    vid = _datastore_version(prefix, entries)
    if vid is None:
        return Found()
    dirs = {e.path for e in entries if e.type == "directory"}
    return Found([Source(prefix.rstrip("/"), "datastore", f"version:{vid}")], dirs)


@register_finder
def zarr_stores(prefix: str, entries: list[Entry]) -> Found:
    """A prefix holding ``zarr.json`` (v3) or ``.zmetadata`` (v2, consolidated) is a store."""
    if _datastore_version(prefix, entries) is not None:
        return Found()  # a datastore's latest version, catalogued as the datastore
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


def _scan(prefix: str, access: Access) -> tuple[list[Source], list[str]]:
    entries = list_level(prefix, access)
    sources: list[Source] = []
    claimed: set[str] = set()
    for finder in _FINDERS:
        found = finder(prefix, entries)
        sources += found.sources
        claimed |= found.claimed
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
