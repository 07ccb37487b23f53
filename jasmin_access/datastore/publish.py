"""Publishing a version: hash the source, upload what the store lacks, write the manifest last.

Order of writes, each a plain PUT of an immutable object:

1. ``sessions/<SID>.json`` (shows an unfinished push in ``status``; its
   store-side time is this push's clock);
2. every object the parent version does not reference, under its SHA-256;
3. the manifest ``versions/<ID>.jdm``: the version exists from this moment.

A crash before 3 leaves no version, only unreferenced objects and the session
marker.  A push that finds another push's marker looks for the objects it
needs in the store (one LIST or a HEAD each) and does not upload again those
found, so the rerun of a crashed push reuses them; ``gc`` removes them once
older than its grace period.  Without such a marker there is nothing to find
and each new object costs one PUT.  An object found but older than
half the default grace period is uploaded again (refreshing its store time),
so a ``gc`` running during the push can never delete it from under the new
version.
"""

from __future__ import annotations

import getpass
import json
import logging
import socket
from array import array
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import InvalidInput, NotFound
from ..stores import Location, resolve
from . import layout
from ._io import RootIO, Stat, walk_source
from .hashcache import RACY_SECONDS, HashCache, Stamp, local_stamp
from .manifest import INLINE_TOTAL, Manifest, encode
from .pushwork import (
    batches,
    fan_out,
    hash_files,
    is_metadata,
    keeps_bytes,
    src_path,
    upload_files,
)
from .repo import Datastore, open_datastore

__all__ = ["PushResult", "create", "push"]

log = logging.getLogger(__name__)

LIST_OBJECTS_ABOVE = 512  # more unknown objects than this: one listing instead of HEADs
REFRESH_AFTER = timedelta(hours=12)  # half the default gc grace period
SKIP_PREFIXES = (".jasmin-access/",)


@dataclass
class PushResult:
    """What a push did.

    ``hashed_objects``/``hashed_bytes`` count the source files read to hash
    them; the others were known unchanged from the local hash cache.
    """

    url: str
    version: str | None
    parent: str | None
    unchanged: bool
    objects: int = 0
    bytes: int = 0
    uploaded_objects: int = 0
    uploaded_bytes: int = 0
    reused_objects: int = 0
    hashed_objects: int = 0
    hashed_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


@dataclass
class _File:
    key: str
    size: int
    digest: str = ""
    data: bytes | None = None  # Zarr metadata, or a small object held inline
    stamp: Stamp | None = None


def author() -> str:
    """``user@host`` of whoever runs this."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# --------------------------------------------------------------------------- source


def _remote_stamp(st: Stat) -> Stamp | None:
    """An object's stamp: its ETag, else its LastModified (then racy when recent)."""
    if st.etag:
        return Stamp(st.size, f"etag:{st.etag}")
    if st.mtime is None:
        return None
    when = st.mtime if st.mtime.tzinfo else st.mtime.replace(tzinfo=UTC)
    age = (datetime.now(UTC) - when).total_seconds()
    return Stamp(st.size, f"mtime:{st.mtime.isoformat()}", racy=age < RACY_SECONDS)


def _scan(src: Location) -> list[_File]:
    local = src.caps.local_path
    files = [
        _File(s.key, s.size, stamp=None if local else _remote_stamp(s))
        for s in walk_source(src)
        if not s.key.startswith(SKIP_PREFIXES) and not s.key.endswith("/")
    ]
    if not files:
        raise NotFound(f"nothing to push in {src.url}", "give a directory, prefix or Zarr store")
    files.sort(key=lambda f: f.key)
    return files


def _hash_all(
    ds: Datastore, src: Location, files: list[_File], scheduler: str | None
) -> tuple[int, int]:
    """Set every file's digest: from the hash cache when unchanged, else by reading it.

    Returns the number of files and bytes read.  Zarr metadata is always read
    (the manifest holds it inline).
    """
    cache = HashCache(ds.url, src.url)
    if src.caps.local_path:
        for f in files:
            f.stamp = local_stamp(src_path(src, f.key))
    todo = []
    wanted = _kept(files)
    for f in files:
        known = None if f.key in wanted else cache.lookup(f.key, f.stamp)
        if known is None:
            todo.append(f)
        else:
            f.digest = known
    by_key = {f.key: f for f in todo}
    # only the small files the manifest keeps (metadata) to read: no need of the workers
    where = scheduler if any(f.key not in wanted for f in todo) else None
    tasks = batches([f.key for f in todo], lambda k: by_key[k].size, where)
    for done in fan_out(hash_files, tasks, where, src):
        for h in done:
            f = by_key[h.key]
            if f.stamp is not None and f.stamp.size != h.size:
                f.stamp = None  # changed while being read: do not remember
            f.digest, f.size, f.data = h.digest, h.size, h.data
    cache.remember((f.key, f.stamp, f.digest) for f in todo)
    log.info("hashed %d of %d source files (%d from the cache)", len(todo), len(files),
              len(files) - len(todo))  # fmt: skip
    return len(todo), sum(f.size for f in todo)


def _kept(files: list[_File]) -> set[str]:
    """Keys whose bytes the manifest holds: the Zarr metadata, and small objects while the
    inline budget lasts (in key order).  These are read on every push."""
    out, budget = set(), INLINE_TOTAL
    for f in files:
        if is_metadata(f.key):
            if keeps_bytes(f.key, f.size):
                out.add(f.key)
        elif keeps_bytes(f.key, f.size) and f.size <= budget:
            out.add(f.key)
            budget -= f.size
    return out


def _inline(files: list[_File]) -> dict[str, bytes]:
    """Hex digest -> bytes of the small objects the manifest holds inline."""
    out: dict[str, bytes] = {}
    budget = INLINE_TOTAL
    for f in files:
        if f.data is None or is_metadata(f.key) or f.digest in out or len(f.data) > budget:
            continue
        out[f.digest] = f.data
        budget -= len(f.data)
    return out


# --------------------------------------------------------------------------- upload


def _present(io: RootIO, digests: list[str]) -> dict[str, Stat]:
    """Stored objects among ``digests``: HEADs for a few, one listing for many."""
    if len(digests) <= LIST_OBJECTS_ABOVE:
        found = io.stat_many([layout.object_key(d) for d in digests])
        return {k.rsplit("/", 1)[-1]: s for k, s in found.items()}
    wanted = set(digests)
    out = {}
    for st in io.walk(layout.OBJECTS):
        name = st.key.rsplit("/", 1)[-1]
        if name in wanted:
            out[name] = st
    return out


def _start_session(io: RootIO, sid: str, info: dict[str, Any]) -> bool:
    """Write the session marker; True when other pushes left theirs (unfinished or running)."""
    others = [s for s in io.list_dir(layout.SESSIONS) if not s.key.endswith(f"/{sid}.json")]
    io.put(f"{layout.SESSIONS}/{sid}.json", json.dumps(info).encode())
    return bool(others)


def _to_upload(
    io: RootIO, sid: str, files: list[_File], known: set[str], look: bool
) -> tuple[list[_File], int]:
    """Files whose object must be uploaded, and how many unknown ones were found stored.

    Objects the parent does not reference are looked for in the store (HEADs, or
    one listing) only when another push left its session marker: an interrupted
    push is the way objects get there unreferenced.  Otherwise they are simply
    uploaded, one PUT each instead of a HEAD and a PUT; uploading an object that
    is there after all (kept by another version) rewrites the same bytes.
    """
    unknown: dict[str, _File] = {}
    for f in files:
        if f.digest not in known:
            unknown.setdefault(f.digest, f)
    if not look or not unknown:
        return list(unknown.values()), 0
    st = io.stat(f"{layout.SESSIONS}/{sid}.json")
    store_now = st.mtime if st else None  # the store's clock, for REFRESH_AFTER
    present = _present(io, sorted(unknown))
    fresh_after = store_now - REFRESH_AFTER if store_now else None
    upload, reused = [], 0
    for digest, f in unknown.items():
        st = present.get(digest)
        young = st is not None and (
            fresh_after is None or st.mtime is None or st.mtime >= fresh_after
        )
        if st is not None and st.size == f.size and young:
            reused += 1
        else:
            upload.append(f)
    return upload, reused


# --------------------------------------------------------------------------- push


def _manifest(files: list[_File], parent: Manifest | None, message: str, source: str) -> Manifest:
    vid = layout.new_version_id()
    digests = b"".join(bytes.fromhex(f.digest) for f in files)
    sizes = array("Q", (f.size for f in files))
    metadata = {
        f.key: f.data.decode("utf-8", "replace")
        for f in files
        if f.data is not None and is_metadata(f.key)
    }
    old = parent.raw_digests() if parent else set()
    new: dict[bytes, int] = {}
    for i, f in enumerate(files):
        raw = digests[32 * i : 32 * i + 32]
        if raw not in old:
            new[raw] = f.size
    return Manifest(
        id=vid,
        parent=parent.id if parent else None,
        created=layout.version_time(vid).isoformat(),
        author=author(),
        message=message,
        source=source,
        keys=[f.key for f in files],
        digests=digests,
        sizes=sizes,
        metadata=metadata,
        inline=_inline(files),
        new_objects=len(new),
        new_bytes=sum(new.values()),
    )


def push_location(
    ds: Datastore,
    src: Location,
    message: str | None = None,
    *,
    parent: str | None = None,
    scheduler: str | None = None,
) -> PushResult:
    """Publish the content of ``src`` as a new version of ``ds`` (unless unchanged).

    The new version's parent is ``parent`` if given, else the latest version.
    Hashing and uploading run on ``scheduler`` (see :func:`push`); the
    manifest is written here, last.
    """
    from ..execution import check_scheduler

    check_scheduler(scheduler)
    ds.require()
    ds.location.require_writable()
    files = _scan(src)
    hashed = _hash_all(ds, src, files, scheduler)
    parent_id = parent or ds.latest()
    base = ds.manifest(parent_id) if parent_id else None
    result = PushResult(ds.url, None, parent_id, False, len(files), sum(f.size for f in files))
    result.hashed_objects, result.hashed_bytes = hashed
    candidate = _manifest(files, base, message or "", src.url)
    if base is not None and base.same_content(candidate):
        result.version, result.unchanged = parent_id, True
        return result
    sid = candidate.id
    look = _start_session(ds.io, sid, {"version": sid, "author": candidate.author})
    known = {d.hex() for d in base.raw_digests()} if base else set()
    upload, result.reused_objects = _to_upload(ds.io, sid, files, known, look)
    log.info("uploading %d objects to %s", len(upload), ds.url)
    items = [(f.key, f.digest, f.size) for f in upload]
    tasks = batches(items, lambda item: item[2], scheduler)
    result.uploaded_bytes = sum(fan_out(upload_files, tasks, scheduler, ds.io, src))
    result.uploaded_objects = len(upload)
    ds.io.put(layout.manifest_key(candidate.id), encode(candidate))  # the version exists now
    result.version = candidate.id
    ds.io.delete([f"{layout.SESSIONS}/{sid}.json"])
    return result


def push(
    url: str,
    src: str,
    message: str | None = None,
    *,
    profile: Any = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    scheduler: str | None = None,
) -> PushResult:
    """Publish ``src`` as a new version of the datastore at ``url``.

    Parameters
    ----------
    url
        The datastore (``s3://bucket/name``).
    src
        A local directory, a prefix on any backend or a Zarr store.
    message
        Recorded in the version.
    scheduler
        Where source files are hashed and uploaded: ``threads`` (default),
        ``processes`` or a Dask scheduler ``tcp://HOST:PORT`` (workers read
        their own credentials; see :mod:`jasmin_access.execution`).  The
        manifest is always written by this process, last.

    Returns
    -------
    PushResult
        ``unchanged`` is True (and no version is written) when ``src`` holds
        exactly the bytes of the latest version.
    """
    ds, selector = open_datastore(
        url, profile=profile, endpoint_url=endpoint_url, anon=anon, write=True
    )
    if selector is not None:
        raise InvalidInput(f"push takes a datastore URL without @: {url}", "drop the @…")
    source = resolve(src, profile=profile, endpoint_url=endpoint_url, anon=anon)
    return push_location(ds, source, message, scheduler=scheduler)


def create(
    url: str,
    src: str | None = None,
    message: str | None = None,
    *,
    profile: Any = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    scheduler: str | None = None,
) -> PushResult | None:
    """Create an empty datastore at ``url``, then push ``src`` as its first version if given.

    ``scheduler`` is as for :func:`push`.
    """
    ds, selector = open_datastore(
        url, profile=profile, endpoint_url=endpoint_url, anon=anon, write=True
    )
    if selector is not None:
        raise InvalidInput(f"create takes a URL without @: {url}", "drop the @…")
    source = resolve(src, profile=profile, endpoint_url=endpoint_url, anon=anon) if src else None
    if source is not None:
        _scan(source)  # refuse a missing or empty source before creating anything
    ds.ensure_marker(new=True)
    if source is None:
        return None
    return push_location(ds, source, message or "created", scheduler=scheduler)
