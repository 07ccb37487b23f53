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
    more otherwise.  Without a selector, ``check_marker`` looks for the
    datastore's latest version (the same LIST and GET; one GET more when it
    has no version) and returns None when there is no datastore.
    """
    from .repo import open_datastore
    from .zstore import version_store

    ds, selector = open_datastore(url, **resolve_kwargs)
    if selector is not None:
        vid = ds.select(selector)
    elif not check_marker:
        return None
    else:
        ids = ds.version_ids()  # one LIST finds the latest version and shows a datastore
        if not ids:
            if not ds.exists():  # only then the marker: an empty datastore or none
                return None
            ds.select(None)  # raises: no version yet
        vid = ids[-1]
    return version_store(ds, vid), ds.location
