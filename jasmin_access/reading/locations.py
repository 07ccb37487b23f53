"""URLs, globs and lists of them resolved to locations, in natural order."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .. import paths
from ..errors import InvalidInput, NotFound, translating
from ..stores import Location, resolve

__all__ = ["URLs", "locations"]

URLs = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def locations(url: URLs, resolve_kwargs: dict[str, Any]) -> list[Location]:
    """Resolve a URL, a glob or a list of them to locations (natural order).

    Parameters
    ----------
    url
        One URL or path, a glob, or a list of them.
    resolve_kwargs
        ``profile``, ``endpoint_url`` and ``anon``, as for :func:`jasmin_access.resolve`.

    Raises
    ------
    InvalidInput
        When the list is empty.
    NotFound
        When a glob matches nothing.
    """
    items = [url] if isinstance(url, (str, os.PathLike)) else list(url)
    if not items:
        raise InvalidInput("no URL given", "give a store URL, a NetCDF URL, a list or a glob")
    out: list[Location] = []
    for item in items:
        loc = resolve(item, **resolve_kwargs)
        if paths.has_magic(loc.path):
            with translating("listing", loc.url, loc.profile_name):
                found = paths.natural_sorted(loc.backend.glob(loc.path))
            if not found:
                raise NotFound(f"nothing matches {loc.url}", "check the pattern with ls")
            out.extend(resolve(loc.to_url(p), **resolve_kwargs) for p in found)
        else:
            out.append(loc)
    return out
