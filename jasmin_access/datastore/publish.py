"""Publishing a version: hash the source, upload what the store lacks, write the manifest last.

Order of writes, each a plain PUT of an immutable object:

1. ``sessions/<SID>.json`` (informative: shows an unfinished push in
   ``status``; its store-side time is this push's clock);
2. every object the store does not hold yet, under its SHA-256;
3. the manifest ``versions/<ID>.jdm``: the version exists from this moment.

A crash before 3 leaves no version, only unreferenced objects that a rerun
finds (one LIST or a HEAD each) and does not upload again, and that ``gc``
removes once older than its grace period.  An object found but older than
half the default grace period is uploaded again (refreshing its store time),
so a ``gc`` running during the push can never delete it from under the new
version.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import socket
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ..errors import IntegrityError, InvalidInput, NotFound
from ..fs.usage import ZARR_METADATA
from ..stores import Location, resolve
from . import layout
from ._io import RootIO, Stat, open_source_file, walk_source
from .manifest import Manifest, encode
from .repo import Datastore, open_datastore

__all__ = ["PushResult", "create", "push"]

log = logging.getLogger(__name__)

WORKERS = 8
BLOCK = 8 << 20
IN_MEMORY = 64 << 20  # objects up to this size are uploaded from memory
INLINE_METADATA = 4 << 20
LIST_OBJECTS_ABOVE = 512  # more unknown objects than this: one listing instead of HEADs
REFRESH_AFTER = timedelta(hours=12)  # half the default gc grace period
SKIP_PREFIXES = (".jasmin-access/",)


@dataclass
class PushResult:
    """What a push did."""

    url: str
    version: str | None
    parent: str | None
    unchanged: bool
    objects: int = 0
    bytes: int = 0
    uploaded_objects: int = 0
    uploaded_bytes: int = 0
    reused_objects: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


@dataclass
class _File:
    key: str
    size: int
    digest: str = ""
    meta: bytes | None = None


def author() -> str:
    """``user@host`` of whoever runs this."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# --------------------------------------------------------------------------- source


def _scan(src: Location) -> list[_File]:
    files = [
        _File(s.key, s.size)
        for s in walk_source(src)
        if not s.key.startswith(SKIP_PREFIXES) and not s.key.endswith("/")
    ]
    if not files:
        raise NotFound(f"nothing to push in {src.url}", "give a directory, prefix or Zarr store")
    files.sort(key=lambda f: f.key)
    return files


def _src_path(src: Location, key: str) -> str:
    return src.backend.join(src.path.rstrip("/") or src.path, key)


def _hash(src: Location, f: _File) -> None:
    digest = hashlib.sha256()
    keep = f.key.rsplit("/", 1)[-1] in ZARR_METADATA and f.size <= INLINE_METADATA
    kept: list[bytes] = []
    size = 0
    with open_source_file(src, _src_path(src, f.key)) as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
            size += len(block)
            if keep:
                kept.append(block)
    f.digest, f.size = digest.hexdigest(), size
    f.meta = b"".join(kept) if keep else None


def _run(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(fn, items))


# --------------------------------------------------------------------------- upload


def _upload(io: RootIO, src: Location, f: _File) -> None:
    key = layout.object_key(f.digest)
    path = _src_path(src, f.key)
    if f.size <= IN_MEMORY:
        with open_source_file(src, path) as fh:
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != f.digest:
            raise IntegrityError(
                f"{src.url}/{f.key} changed while it was being pushed",
                "re-run the push once the source is no longer being written",
            )
        io.put(key, data)
        return
    if src.caps.local_path:
        io.put_file(key, path)
        return
    with tempfile.TemporaryDirectory(prefix="jasmin-push-") as tmp:
        local = os.path.join(tmp, "object")
        src.fs.get_file(path, local)
        io.put_file(key, local)


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


def _start_session(io: RootIO, sid: str, info: dict[str, Any]) -> datetime | None:
    """Write the session marker; return the store's time for it (its LastModified)."""
    key = f"{layout.SESSIONS}/{sid}.json"
    io.put(key, json.dumps(info).encode())
    st = io.stat(key)
    return st.mtime if st else None


def _to_upload(
    io: RootIO, files: list[_File], known: set[str], store_now: datetime | None
) -> tuple[list[_File], int]:
    """Files whose object must be uploaded, and how many unknown ones were found stored."""
    unknown: dict[str, _File] = {}
    for f in files:
        if f.digest not in known:
            unknown.setdefault(f.digest, f)
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
    sizes = np.fromiter((f.size for f in files), dtype="<u8", count=len(files))
    metadata = {f.key: f.meta.decode("utf-8", "replace") for f in files if f.meta is not None}
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
        new_objects=len(new),
        new_bytes=sum(new.values()),
    )


def push_location(
    ds: Datastore, src: Location, message: str | None = None, *, parent: str | None = None
) -> PushResult:
    """Publish the content of ``src`` as a new version of ``ds`` (unless unchanged).

    The new version's parent is ``parent`` if given, else the latest version.
    """
    ds.require()
    ds.location.require_writable()
    files = _scan(src)
    _run(lambda f: _hash(src, f), files)
    parent_id = parent or ds.latest()
    base = ds.manifest(parent_id) if parent_id else None
    result = PushResult(ds.url, None, parent_id, False, len(files), sum(f.size for f in files))
    candidate = _manifest(files, base, message or "", src.url)
    if base is not None and base.same_content(candidate):
        result.version, result.unchanged = parent_id, True
        return result
    sid = candidate.id
    store_now = _start_session(ds.io, sid, {"version": sid, "author": candidate.author})
    known = {d.hex() for d in base.raw_digests()} if base else set()
    upload, result.reused_objects = _to_upload(ds.io, files, known, store_now)
    log.info("uploading %d objects to %s", len(upload), ds.url)
    _run(lambda f: _upload(ds.io, src, f), upload)
    result.uploaded_objects = len(upload)
    result.uploaded_bytes = sum(f.size for f in upload)
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
    return push_location(ds, source, message)


def create(
    url: str,
    src: str | None = None,
    message: str | None = None,
    *,
    profile: Any = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> PushResult | None:
    """Create an empty datastore at ``url``, then push ``src`` as its first version if given."""
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
    return push_location(ds, source, message or "created")
