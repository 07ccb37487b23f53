"""Raw listing and object access shared by the fs commands.

Two families of backends: remote (``s3`` and ``https`` locations, through the
s3fs client's ``list_objects_v2`` pages) and local (the embedded store and
plain paths, through ``os.scandir``).  Everything here works on paths of the
location's filesystem (``bucket/key`` on S3, absolute paths locally); the
public modules turn them into URLs.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .. import paths
from ..errors import JasminAccessError, NotFound, translate, translating
from ..stores import TMP_PREFIX, Location, resolve

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
LIST_WORKERS = 16
_DONE = object()
_V1_ONLY: weakref.WeakSet[Any] = weakref.WeakSet()  # filesystems whose server refused v2


class Obj(NamedTuple):
    """One object as listed: fs path, size, modification time, ETag."""

    path: str
    size: int
    mtime: datetime | None
    etag: str | None


def locate(
    url: str,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    write: bool = False,
) -> Location:
    """:func:`jasmin_access.stores.resolve` with the common keyword arguments."""
    return resolve(url, profile=profile, endpoint_url=endpoint_url, anon=anon, write=write)


def is_remote(loc: Location) -> bool:
    """True for locations read through the S3 protocol."""
    return loc.kind in ("s3", "https")


def sep_join(loc: Location, base: str, rel: str) -> str:
    """Join an fs path and a ``/`` relative key for ``loc``'s filesystem."""
    if not rel:
        return base
    return paths.join(base, rel) if is_remote(loc) else base.rstrip("/") + "/" + rel


def rel_key(loc: Location, base: str, path: str) -> str:
    """``path`` relative to the directory ``base`` (``/``-separated)."""
    return paths.relative(base, path) if base else path.lstrip("/")


# --------------------------------------------------------------------------- S3 pages


def _etag(raw: str | None) -> str | None:
    return raw.strip('"') if raw else None


def _s3_pages(
    loc: Location, bucket: str, prefix: str, delimiter: bool
) -> Iterator[tuple[list[Obj], list[str]]]:
    """Pages of ``(objects, common prefixes)``; falls back to ListObjects v1."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE_SIZE}
    if delimiter:
        kwargs["Delimiter"] = "/"
    version = 1 if loc.fs in _V1_ONLY else 2
    token: str | None = None
    while True:
        try:
            if version == 2:
                extra = {"ContinuationToken": token} if token else {}
                resp = loc.fs.call_s3("list_objects_v2", **kwargs, **extra)
            else:
                extra = {"Marker": token} if token else {}
                resp = loc.fs.call_s3("list_objects", **kwargs, **extra)
        except Exception as exc:
            if version == 2 and not isinstance(translate(exc), JasminAccessError):
                log.info("ListObjectsV2 refused (%s); using ListObjects v1", exc)
                version, token = 1, None
                _V1_ONLY.add(loc.fs)
                continue
            raise
        contents = resp.get("Contents", [])
        objs = [
            Obj(f"{bucket}/{c['Key']}", int(c["Size"]), c.get("LastModified"), _etag(c.get("ETag")))
            for c in contents
        ]
        prefixes = [f"{bucket}/{p['Prefix'].rstrip('/')}" for p in resp.get("CommonPrefixes", [])]
        yield objs, prefixes
        if version == 2:
            token = resp.get("NextContinuationToken")
            more = resp.get("IsTruncated") and token
        else:
            more = resp.get("IsTruncated")
            token = resp.get("NextMarker") or (contents[-1]["Key"] if contents else None)
        if not more or not token:
            return


def _split(loc: Location, fs_dir: str) -> tuple[str, str]:
    bucket, key = paths.split_bucket(fs_dir)
    return bucket, paths.as_dir(key)


# --------------------------------------------------------------------------- local


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, tz=UTC)


def _local_level(fs_dir: str) -> tuple[list[Obj], list[str]]:
    objs: list[Obj] = []
    dirs: list[str] = []
    with os.scandir(fs_dir) as it:
        for e in it:
            if e.name.startswith(TMP_PREFIX):
                continue
            if e.is_dir():
                dirs.append(e.path)
            else:
                st = e.stat()
                objs.append(Obj(e.path, st.st_size, _mtime(st), None))
    return objs, dirs


def _local_walk(fs_dir: str, markers: bool = False) -> Iterator[list[Obj]]:
    stack = [fs_dir]
    while stack:
        current = stack.pop()
        try:
            objs, dirs = _local_level(current)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if markers and not objs and not dirs:  # an empty directory: the local form of a marker
            objs = [Obj(current.rstrip("/") + "/", 0, _mtime(os.stat(current)), None)]
        if objs:
            yield objs
        stack.extend(sorted(dirs, reverse=True))


def is_marker(obj: Obj) -> bool:
    """True for a directory marker (``prefix/``, zero bytes): an empty directory, not a file."""
    return obj.path.endswith("/")


# --------------------------------------------------------------------------- public helpers


def list_level(loc: Location, fs_dir: str) -> tuple[list[Obj], list[str]]:
    """One level below the directory ``fs_dir``: objects and sub-prefixes (fs paths).

    Zero-byte directory markers are dropped.  Raises the backend's error for
    a missing bucket or directory (callers translate).
    """
    if not is_remote(loc):
        if not os.path.isdir(fs_dir):
            return [], []
        return _local_level(fs_dir)
    bucket, prefix = _split(loc, fs_dir)
    objs: list[Obj] = []
    dirs: list[str] = []
    for page_objs, page_dirs in _s3_pages(loc, bucket, prefix, delimiter=True):
        objs.extend(o for o in page_objs if not is_marker(o))
        dirs.extend(page_dirs)
    return objs, dirs


def walk_pages(
    loc: Location, fs_dir: str, *, workers: int = LIST_WORKERS, markers: bool = False
) -> Iterator[list[Obj]]:
    """Every object below ``fs_dir``, page by page.

    Directory markers (zero-byte ``prefix/`` objects on S3, empty directories
    locally) are dropped, or with ``markers`` kept as objects whose path ends
    in ``/`` (see :func:`is_marker`).  On S3 the first level is listed with a
    delimiter and each sub-prefix is then listed flat in parallel; pages
    stream through a bounded queue so memory stays flat however many keys
    there are.
    """
    if not is_remote(loc):
        yield from _local_walk(fs_dir, markers)
        return
    bucket, prefix = _split(loc, fs_dir)
    subdirs: list[str] = []
    for objs, dirs in _s3_pages(loc, bucket, prefix, delimiter=True):
        objs = [o for o in objs if markers or not is_marker(o)]
        if objs:
            yield objs
        subdirs.extend(dirs)
    if subdirs:
        yield from _parallel_pages(loc, bucket, subdirs, workers, markers)


def _parallel_pages(
    loc: Location, bucket: str, subdirs: list[str], workers: int, markers: bool
) -> Iterator[list[Obj]]:
    pages: queue.Queue[Any] = queue.Queue(maxsize=64)
    stop = threading.Event()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def work(sub: str) -> None:
        try:
            _, key = paths.split_bucket(sub)
            for objs, _dirs in _s3_pages(loc, bucket, paths.as_dir(key), delimiter=False):
                if stop.is_set():
                    return
                put([o for o in objs if markers or not is_marker(o)])
        except BaseException as exc:  # handed to the consumer
            put(exc)
        finally:
            put(_DONE)

    pool = ThreadPoolExecutor(max_workers=min(workers, len(subdirs)))
    try:
        for sub in subdirs:
            pool.submit(work, sub)
        pending = len(subdirs)
        while pending:
            item = pages.get()
            if item is _DONE:
                pending -= 1
            elif isinstance(item, BaseException):
                raise item
            elif item:
                yield item
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)


def prefix_exists(loc: Location, fs_dir: str) -> bool:
    """True when anything is stored below ``fs_dir``, if only a zero-byte directory marker.

    S3 gateways and web consoles make empty "folders" as a zero-byte object
    ``prefix/``; the embedded store and local paths keep an empty directory.
    Either is an empty directory, not a missing one.
    """
    if not is_remote(loc):
        return os.path.isdir(fs_dir)
    bucket, prefix = _split(loc, fs_dir)
    objs, dirs = next(_s3_pages(loc, bucket, prefix, delimiter=False), ([], []))
    return bool(objs or dirs)


def head(loc: Location, fs_path: str) -> Obj | None:
    """The object at ``fs_path``, or None when there is none (a prefix is not an object)."""
    if not is_remote(loc):
        if not os.path.isfile(fs_path):
            return None
        st = os.stat(fs_path)
        return Obj(fs_path, st.st_size, _mtime(st), None)
    bucket, key = paths.split_bucket(fs_path)
    if not key or key.endswith("/"):
        return None
    try:
        resp = loc.fs.call_s3("head_object", Bucket=bucket, Key=key)
    except Exception as exc:
        if isinstance(translate(exc), NotFound) and not isinstance(exc, PermissionError):
            return None
        raise
    return Obj(
        fs_path, int(resp["ContentLength"]), resp.get("LastModified"), _etag(resp.get("ETag"))
    )


def head_info(loc: Location, fs_path: str) -> dict[str, Any]:
    """Raw HEAD response of an S3 object (content type, metadata, ...)."""
    bucket, key = paths.split_bucket(fs_path)
    with translating("reading", loc.to_url(fs_path), loc.profile_name):
        return dict(loc.fs.call_s3("head_object", Bucket=bucket, Key=key))


def list_buckets(loc: Location) -> list[str]:
    """Bucket names (fs paths) in the keyspace of ``loc``."""
    if is_remote(loc):
        resp = loc.fs.call_s3("list_buckets")
        return sorted(b["Name"] for b in resp.get("Buckets", []))
    root = loc.fs_root
    if not os.path.isdir(root):
        return []
    return sorted(os.path.join(root, n) for n in os.listdir(root) if not n.startswith("."))


def bucket_exists(loc: Location) -> bool:
    """True when the bucket of ``loc`` exists (always True for plain local paths)."""
    if loc.kind == "local":
        return True
    if not is_remote(loc):
        return os.path.isdir(os.path.join(loc.fs_root, loc.bucket))
    try:
        loc.fs.call_s3("head_bucket", Bucket=loc.bucket)
    except Exception as exc:
        if isinstance(translate(exc), NotFound):
            return False
        raise
    return True
