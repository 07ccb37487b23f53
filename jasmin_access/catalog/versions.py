"""STAC items of a datastore's versions, with the STAC version extension.

Each version is one item whose ``data`` asset is the versioned URL
(``URL@ID``), so opening the item opens exactly those bytes.  Items carry
``version`` (the ID), ``created`` and the push message, the tags given to the
version, and ``latest-version``, ``predecessor-version`` (the version it was
pushed from) and ``successor-version`` links; the collection carries the latest
version's ID and a ``latest-version`` link.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["VERSION_EXT", "item_id", "version_specs"]

VERSION_EXT = "https://stac-extensions.github.io/version/v1.2.0/schema.json"


def item_id(name: str, vid: str) -> str:
    """Item id of version ``vid`` of the datastore called ``name``."""
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}-{vid}"


def _properties(version: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {"version": version["id"]}
    if version.get("created"):
        props["created"] = str(version["created"])
    if version.get("message"):
        props["jasmin:message"] = str(version["message"])
    if version.get("tags"):
        props["jasmin:tags"] = list(version["tags"])
    return props


def version_specs(
    url: str, name: str, versions: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Item specs (one per version) and the collection spec of a datastore.

    Parameters
    ----------
    url
        The datastore's URL (no selector).
    name
        Its short name (item ids are ``<name>-<ID>``).
    versions
        Newest first, as :func:`jasmin_access.datastore.log` returns them.
    """
    ids = {v["id"] for v in versions}
    children: dict[str, list[str]] = {}
    for v in versions:
        if v.get("parent"):
            children.setdefault(v["parent"], []).append(v["id"])
    latest = versions[0]["id"]
    latest_link = ("latest-version", f"./{item_id(name, latest)}.json")
    items = []
    for v in versions:
        links = [latest_link]
        if v.get("parent") in ids:
            links.append(("predecessor-version", f"./{item_id(name, v['parent'])}.json"))
        after = children.get(v["id"], [])
        if len(after) == 1:  # a fork has no single successor
            links.append(("successor-version", f"./{item_id(name, after[0])}.json"))
        items.append(
            {
                "id": item_id(name, v["id"]),
                "title": f"{name} @ {v['id']}",
                "href": f"{url}@{v['id']}",
                "properties": _properties(v),
                "stac_extensions": [VERSION_EXT],
                "links": links,
            }
        )
    collection = {
        "properties": {"version": latest},
        "stac_extensions": [VERSION_EXT],
        "links": [latest_link],
    }
    return items, collection
