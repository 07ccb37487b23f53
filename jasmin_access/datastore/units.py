"""A datastore seen by ``ls`` and ``du`` as one unit: its latest version, not its objects."""

from __future__ import annotations

from typing import Any

from .. import paths
from .layout import ID_RE, MANIFEST_SUFFIX, MARKER, VERSIONS

__all__ = ["MARKER", "summary", "version_entries"]


def version_entries(url: str, *, recursive: bool = False, **kw: Any) -> list[Any]:
    """``ls`` entries of the version ``url`` names (a datastore root: its latest), from
    its manifest: the files as pushed, with their sizes and the version's time."""
    from ..fs.records import Entry
    from .layout import version_time
    from .repo import open_datastore

    ds, selector = open_datastore(url, **kw)
    vid = ds.require().select(selector)
    m = ds.manifest(vid)
    when = version_time(vid)
    base = f"{ds.url}@{vid}"
    files: dict[str, int] = {}
    dirs: set[str] = set()
    for i, key in enumerate(m.keys):
        parts = key.split("/")
        if recursive:
            files[key] = int(m.sizes[i])
            dirs.update("/".join(parts[:j]) for j in range(1, len(parts)))
        elif len(parts) == 1:
            files[key] = int(m.sizes[i])
        else:
            dirs.add(parts[0])
    out = [Entry(f"{base}/{k}", k.rsplit("/", 1)[-1], "file", n, when) for k, n in files.items()]
    out += [Entry(f"{base}/{d}/", d.rsplit("/", 1)[-1], "directory") for d in dirs]
    return sorted(out, key=lambda e: paths.natural_key(e.path.rstrip("/")))


def is_version_key(rel: str) -> bool:
    """True for ``…/versions/<ID>.jdm`` keys (relative to anything above the datastore)."""
    parent, name = paths.parent(rel), paths.basename(rel)
    return (
        paths.basename(parent) == VERSIONS
        and name.endswith(MANIFEST_SUFFIX)
        and bool(ID_RE.match(name[: -len(MANIFEST_SUFFIX)]))
    )


def summary(url: str, version_keys: list[str], **kw: Any) -> dict[str, Any]:
    """What ``du`` shows for a datastore: versions, latest ID and its bytes (one ranged GET)."""
    ids = sorted(paths.basename(k)[: -len(MANIFEST_SUFFIX)] for k in version_keys)
    out: dict[str, Any] = {"versions": len(ids), "latest": ids[-1] if ids else None}
    if ids:
        from .repo import open_datastore

        ds, _ = open_datastore(url, **kw)
        head = ds.header(ids[-1])
        out.update(latest_objects=head.get("count", 0), latest_bytes=head.get("bytes", 0))
    return out


def is_datastore_marker(rel: str) -> bool:
    """True for a datastore's marker object."""
    return paths.basename(rel) == MARKER
