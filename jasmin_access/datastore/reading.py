"""Finding the version a dataset URL names, for the openers (``open_dataset``, ``info``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .layout import split_ref

if TYPE_CHECKING:
    from ..stores import Location
    from .zstore import ManifestStore

__all__ = ["has_selector", "open_version"]


def has_selector(url: str) -> bool:
    """True when ``url`` names a datastore version (``…/name@SELECTOR``)."""
    return isinstance(url, str) and split_ref(url)[1] is not None


def open_version(
    url: str, *, check_marker: bool = False, **resolve_kwargs: Any
) -> tuple[ManifestStore, Location] | None:
    """The read-only store of the version ``url`` names, and the datastore's location.

    A URL with ``@SELECTOR`` costs one GET with a full version ID, one LIST
    more otherwise.  Without a selector, ``check_marker`` looks for a datastore
    there first (one GET) and returns None when there is none.
    """
    from .repo import open_datastore
    from .zstore import version_store

    ds, selector = open_datastore(url, **resolve_kwargs)
    if selector is None and (not check_marker or not ds.exists()):
        return None
    vid = ds.select(selector)
    return version_store(ds, vid), ds.location
