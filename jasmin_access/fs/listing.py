"""``ls``, ``find``, ``tree`` and streaming walks over pseudo-directories."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime

from .. import paths
from ..datastore.reading import has_selector
from ..datastore.units import is_datastore_marker, version_entries
from ..errors import BucketNotFound, InvalidInput, NotFound, translating
from ..stores import Location
from ._backend import (
    Obj,
    bucket_exists,
    head,
    is_marker,
    list_buckets,
    list_level,
    locate,
    prefix_exists,
)
from ._backend import walk_pages as _walk_pages
from .records import Entry, Records, TreeNode

__all__ = ["find", "iter_objects", "ls", "tree", "walk"]

log = logging.getLogger(__name__)


def _file(loc: Location, obj: Obj, conflict: bool = False) -> Entry:
    return Entry(
        path=loc.to_url(obj.path),
        name=paths.basename(obj.path),
        type="file",
        size=obj.size,
        last_modified=obj.mtime,
        etag=obj.etag,
        conflict=conflict,
    )


def _dir(loc: Location, fs_path: str, conflict: bool = False) -> Entry:
    return Entry(
        path=paths.as_dir(loc.to_url(fs_path)),
        name=paths.basename(fs_path),
        type="directory",
        conflict=conflict,
    )


def missing_bucket(loc: Location) -> BucketNotFound:
    """The error for a bucket that does not exist, naming the profile that was used."""
    name = loc.profile_name or "local"
    root = loc.url.split("://")[0] + "://"
    embedded = loc.profile is not None and loc.profile.is_local
    flag = "" if embedded or loc.profile is None else f" -p {name}"
    make = f"make it with `jasmin-access mb {root}{loc.bucket}{flag}`"
    if embedded:
        return BucketNotFound(
            f"bucket '{loc.bucket}' does not exist in the embedded store ({loc.url}, "
            f"profile '{name}')",
            "for a server, pass -p NAME or set a default with `jasmin-access config default "
            f"NAME`; or {make}",
        )
    return BucketNotFound(
        f"bucket '{loc.bucket}' does not exist ({loc.url}, profile '{name}')",
        f"check the name with `jasmin-access ls {root}{flag}`, or {make}",
    )


def _missing(loc: Location) -> NotFound:
    if not bucket_exists(loc):
        return missing_bucket(loc)
    return NotFound(
        f"no such object or prefix: {loc.url}", "check the path with `jasmin-access ls`"
    )


def no_match(loc: Location) -> NotFound:
    """The error for a glob that matches nothing."""
    return NotFound(f"nothing matches {loc.url}", "check the pattern with `jasmin-access ls`")


def _level_entries(loc: Location, objs: list[Obj], dirs: list[str]) -> list[Entry]:
    shared = {paths.basename(o.path) for o in objs} & {paths.basename(d) for d in dirs}
    entries = [_file(loc, o, paths.basename(o.path) in shared) for o in objs]
    entries += [_dir(loc, d, paths.basename(d) in shared) for d in dirs]
    return sorted(entries, key=lambda e: (paths.natural_key(e.name), e.type))


def _bucket_entries(loc: Location) -> list[Entry]:
    return [_dir(loc, b) for b in list_buckets(loc)]


def _at_keyspace_root(loc: Location) -> bool:
    return loc.caps.buckets and not loc.bucket


def ls(
    url: str,
    *,
    recursive: bool = False,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> Records[Entry]:
    """List a pseudo-directory, one level by default.

    Parameters
    ----------
    url
        ``s3://bucket/prefix``, ``local://…``, ``https://…`` or a local path.
        ``s3://b/run1`` lists ``run1/`` (never ``run10/``); quoted globs
        (``*``, ``?``, ``[]``, ``**``) are matched on the client.
    recursive
        List every object below, with the implied directories.
    profile, endpoint_url, anon
        Passed to :func:`jasmin_access.stores.resolve`.

    Returns
    -------
    Records[Entry]
        Entries sorted naturally by name; zero-byte directory markers hidden;
        an object and a prefix sharing a name are both listed with ``conflict``.

    Raises
    ------
    NotFound, BucketNotFound
        When nothing exists at ``url``.
    """
    kw = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    if has_selector(url):  # a datastore version: its files, from the manifest
        return Records(version_entries(url, recursive=recursive, **kw))
    loc = locate(url, **kw)
    with translating("listing", loc.url, loc.profile_name):
        if _at_keyspace_root(loc):
            return Records(_bucket_entries(loc))
        if paths.has_magic(loc.key):
            found = _glob_entries(loc, recursive)
            if not found:
                raise no_match(loc)
            return Records(found)
        if recursive:
            entries = _recursive_entries(loc, loc.path)
        else:
            objs, dirs = list_level(loc, loc.path)
            if loc.key and any(is_datastore_marker(o.path) for o in objs):  # a datastore
                return Records(version_entries(loc.url, **kw))
            entries = _level_entries(loc, objs, dirs)
        if entries:
            return Records(entries)
        obj = head(loc, loc.path)
        if obj is not None:
            return Records([_file(loc, obj)])
        if (loc.key == "" and bucket_exists(loc)) or prefix_exists(loc, loc.path):
            return Records([])  # an empty bucket, or a prefix holding only directory markers
        raise _missing(loc)


def _recursive_entries(loc: Location, base: str) -> list[Entry]:
    found: list[Obj] = [o for page in _walk_pages(loc, base, markers=True) for o in page]
    files = [o for o in found if not is_marker(o)]
    file_paths = {o.path for o in files}
    dirs: set[str] = set()
    for o in found:
        if is_marker(o):  # an empty directory: list it (and its parents), never as a file
            o = o._replace(path=o.path.rstrip("/") + "/.")
        parent = loc.backend.parent(o.path)
        while parent and len(parent) > len(base.rstrip("/")) and parent not in dirs:
            dirs.add(parent)
            parent = parent.rsplit("/", 1)[0]
    entries = [_file(loc, o, o.path in dirs) for o in files]
    entries += [_dir(loc, d, d in file_paths) for d in dirs]
    return sorted(entries, key=lambda e: (paths.natural_key(e.path.rstrip("/")), e.type))


def _split_glob(loc: Location) -> tuple[str, bool]:
    pattern = loc.path
    base = paths.glob_base(pattern)
    if loc.caps.buckets and len(base) < len(loc.path) - len(loc.key) - 1:
        raise InvalidInput(
            f"wildcards in a bucket name are not supported: {loc.url}", "name one bucket"
        )
    tail = pattern[len(base) :].lstrip("/")
    return base, "**" in tail or "/" in tail


def _glob_entries(loc: Location, recursive: bool) -> list[Entry]:
    base, deep = _split_glob(loc)
    if deep or recursive:
        files = (o for page in _walk_pages(loc, base) for o in page)
        found = [_file(loc, o) for o in files if paths.match_glob(loc.path, o.path)]
        return sorted(found, key=lambda e: paths.natural_key(e.path))
    objs, dirs = list_level(loc, base)
    objs = [o for o in objs if paths.match_glob(loc.path, o.path)]
    dirs = [d for d in dirs if paths.match_glob(loc.path, d)]
    return _level_entries(loc, objs, dirs)


def walk(
    url: str,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> Iterator[Entry]:
    """Stream every object below ``url`` (or matching a glob), page by page.

    Memory stays flat: nothing is collected.  On S3 sub-prefixes are listed in
    parallel, so the order is by prefix, not globally sorted.

    Raises
    ------
    NotFound, BucketNotFound
        When nothing exists at a plain (non-glob) ``url``.
    """
    loc = locate(url, profile=profile, endpoint_url=endpoint_url, anon=anon)
    with translating("listing", loc.url, loc.profile_name):
        yield from _walk_loc(loc)


def _walk_loc(loc: Location, markers: bool = False) -> Iterator[Entry]:
    """Files below ``loc``; with ``markers``, directory markers too, as directory entries."""
    if _at_keyspace_root(loc):
        raise InvalidInput(f"cannot walk every bucket ({loc.url})", "name a bucket")
    if paths.has_magic(loc.key):
        base, _ = _split_glob(loc)
        matched = False
        for page in _walk_pages(loc, base):
            for o in page:
                if paths.match_glob(loc.path, o.path):
                    matched = True
                    yield _file(loc, o)
        if not matched:
            raise no_match(loc)
        return
    seen = False
    for page in _walk_pages(loc, loc.path, markers=markers):
        seen = True
        for o in page:
            yield _dir(loc, o.path.rstrip("/")) if is_marker(o) else _file(loc, o)
    if not seen:
        obj = head(loc, loc.path)
        if obj is not None:
            yield _file(loc, obj)
        elif (loc.key != "" or not bucket_exists(loc)) and not prefix_exists(loc, loc.path):
            raise _missing(loc)


iter_objects = walk


def _parse_date(value: str | date | datetime) -> datetime:
    if isinstance(value, datetime):
        out = value
    elif isinstance(value, date):
        out = datetime(value.year, value.month, value.day)
    else:
        try:
            out = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInput(
                f"cannot read date '{value}'", "use ISO form, e.g. 2024-05-01 or 2024-05-01T12:00"
            ) from exc
    return out if out.tzinfo else out.replace(tzinfo=UTC)


def find(
    url: str,
    *,
    name: str | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    newer: str | date | datetime | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> Iterator[Entry]:
    """Stream the objects below ``url`` that pass every filter.

    Parameters
    ----------
    name
        Glob matched against the object's name (last component), e.g. ``"*.nc"``.
    min_size, max_size
        Inclusive size bounds in bytes.
    newer
        Keep objects modified after this date (ISO string, date or datetime; UTC if naive).
    """
    cutoff = _parse_date(newer) if newer is not None else None
    for entry in walk(url, profile=profile, endpoint_url=endpoint_url, anon=anon):
        if name is not None and not paths.match_glob(name, entry.name):
            continue
        size = entry.size or 0
        if (min_size is not None and size < min_size) or (max_size is not None and size > max_size):
            continue
        if cutoff is not None and (entry.last_modified is None or entry.last_modified <= cutoff):
            continue
        yield entry


def tree(
    url: str,
    *,
    max_depth: int | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> TreeNode:
    """The pseudo-directory tree below ``url``.

    Parameters
    ----------
    max_depth
        Show at most this many levels (deeper objects still count in sizes).

    Returns
    -------
    TreeNode
        Root node; ``root.lines()`` renders it like the ``tree`` command.
    """
    loc = locate(url, profile=profile, endpoint_url=endpoint_url, anon=anon)
    root = TreeNode(name=loc.url, path=loc.url, type="directory")
    index: dict[tuple[str, ...], TreeNode] = {(): root}
    base_url = paths.as_dir(loc.url)
    with translating("listing", loc.url, loc.profile_name):
        for entry in _walk_loc(loc, markers=True):
            where = entry.path.rstrip("/")
            if where + "/" == base_url:  # the marker of the directory itself
                continue
            rel = where[len(base_url) :] if where.startswith(base_url) else entry.name
            _insert(index, tuple(rel.split("/")), entry, max_depth, base_url)
    _sort(root)
    return root


def _insert(
    index: dict[tuple[str, ...], TreeNode],
    parts: tuple[str, ...],
    entry: Entry,
    max_depth: int | None,
    base_url: str,
) -> None:
    size = entry.size or 0
    index[()].size += size
    limit = len(parts) if max_depth is None else min(len(parts), max_depth)
    for depth in range(1, limit + 1):
        key = parts[:depth]
        node = index.get(key)
        if node is None:
            is_file = depth == len(parts) and entry.type == "file"
            node = TreeNode(
                name=parts[depth - 1],
                path=entry.path if is_file else base_url + "/".join(key) + "/",
                type="file" if is_file else "directory",
            )
            index[key] = node
            index[key[:-1]].children.append(node)
        node.size += size


def _sort(node: TreeNode) -> None:
    node.children.sort(key=lambda n: paths.natural_key(n.name))
    for child in node.children:
        _sort(child)
