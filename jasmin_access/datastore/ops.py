"""Inspecting and maintaining a datastore: log, status, diff, tag, rm, gc, verify, get."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import AccessDenied, AlreadyExists, IntegrityError, InvalidInput, NotFound, ReadOnly
from ..stores import resolve
from . import layout
from ._io import RootIO
from .publish import author
from .repo import Datastore, open_datastore

__all__ = [
    "GcResult",
    "VerifyResult",
    "diff",
    "gc",
    "get",
    "log",
    "parse_duration",
    "rm",
    "status",
    "tag",
    "verify",
]

logger = logging.getLogger(__name__)

WORKERS = 16
IN_PROGRESS_FOR = timedelta(minutes=15)


def _pmap(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(fn, items))


def _open(url: str, kw: dict[str, Any], write: bool = False) -> tuple[Datastore, str | None]:
    ds, selector = open_datastore(url, write=write, **kw)
    return ds.require(), selector


# --------------------------------------------------------------------------- log


def log(url: str, **kw: Any) -> list[dict[str, Any]]:
    """Every version, newest first: ID, parent, created, author, message, objects,
    bytes, bytes new in that version, tags, and ``fork`` when its parent has
    more than one child (two pushes made from the same version)."""
    ds, _ = _open(url, kw)
    ids = ds.version_ids()
    headers = _pmap(ds.header, ids)
    tags = ds.tags()
    by_version: dict[str, list[str]] = {}
    for name, targets in tags.items():
        for vid in targets:
            by_version.setdefault(vid, []).append(name)
    children: dict[str | None, int] = {}
    for h in headers:
        children[h.get("parent")] = children.get(h.get("parent"), 0) + 1
    out = []
    for h in reversed(headers):
        out.append(
            {
                "id": h["id"],
                "parent": h.get("parent"),
                "created": h.get("created"),
                "author": h.get("author"),
                "message": h.get("message"),
                "objects": h.get("count", 0),
                "bytes": h.get("bytes", 0),
                "new_bytes": h.get("new_bytes", 0),
                "tags": sorted(by_version.get(h["id"], [])),
                "fork": children.get(h.get("parent"), 0) > 1,
            }
        )
    return out


# --------------------------------------------------------------------------- status


def status(url: str, **kw: Any) -> dict[str, Any]:
    """State (complete / in progress / interrupted), versions, stored objects and
    bytes, what the latest version holds, and the dedup ratio (bytes of every
    version over bytes stored).

    An unfinished push is "in progress" while its session marker or the newest
    stored object is younger than 15 minutes, "interrupted" after that.  Ages
    are judged by the store's own clock: the LastModified of a probe object
    written now (one PUT, HEAD and DELETE), never by this machine's clock.
    Without write access the store's time cannot be read that way, and such a
    push is reported "unfinished".
    """
    ds, _ = _open(url, kw)
    ids = ds.version_ids()
    headers = _pmap(ds.header, ids)
    stored = n_stored = 0
    newest: datetime | None = None
    for st in ds.io.walk(layout.OBJECTS):
        stored += st.size
        n_stored += 1
        if st.mtime is not None and (newest is None or st.mtime > newest):
            newest = st.mtime
    sessions = [s for s in ds.io.list_dir(layout.SESSIONS) if s.key.endswith(".json")]
    published = set(ids)
    pending = [s for s in sessions if s.key.rsplit("/", 1)[-1][:-5] not in published]
    state = "complete"
    if pending:
        now = _store_clock(ds.io)
        if now is None:
            state = "unfinished"
        else:
            touched = [t for t in [newest, *(s.mtime for s in pending)] if t is not None]
            recent = bool(touched) and now - max(touched) < IN_PROGRESS_FOR
            state = "in progress" if recent else "interrupted"
    logical = sum(int(h.get("bytes", 0)) for h in headers)
    latest = headers[-1] if headers else {}
    return {
        "url": ds.url,
        "state": state,
        "unfinished_pushes": len(pending),
        "versions": len(ids),
        "latest": latest.get("id"),
        "latest_objects": latest.get("count", 0),
        "latest_bytes": latest.get("bytes", 0),
        "stored_objects": n_stored,
        "stored_bytes": stored,
        "dedup_ratio": round(logical / stored, 3) if stored else None,
    }


def _store_clock(io: RootIO) -> datetime | None:
    """The store's time now, or None when this client may not write there."""
    try:
        return _store_now(io)
    except (ReadOnly, AccessDenied, IntegrityError) as exc:
        logger.info("cannot read the store's clock at %s: %s", io.url, exc)
        return None


# --------------------------------------------------------------------------- diff


def diff(url_a: str, url_b: str, **kw: Any) -> dict[str, Any]:
    """Keys added, removed and changed from version A to version B."""
    ds_a, sel_a = _open(url_a, kw)
    ds_b, sel_b = _open(url_b, kw)
    a = ds_a.manifest(ds_a.select(sel_a)).entries()
    b = ds_b.manifest(ds_b.select(sel_b)).entries()
    added = sorted(set(b) - set(a))
    removed = sorted(set(a) - set(b))
    changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])
    return {
        "added": added,
        "removed": removed,
        "changed": changed,
        "bytes_added": sum(b[k][1] for k in added),
        "bytes_removed": sum(a[k][1] for k in removed),
    }


# --------------------------------------------------------------------------- tag


def tag(url: str, name: str, **kw: Any) -> str:
    """Tag the version ``url`` selects as ``name`` (an immutable object); returns its ID.

    Raises
    ------
    AlreadyExists
        When ``name`` already tags another version (tags never move).
    """
    layout.check_tag_name(name)
    ds, selector = _open(url, kw, write=True)
    vid = ds.select(selector)
    ds.manifest(vid)  # the version must exist
    current = ds.tag_target(name)
    if current == vid:
        return vid
    if current is not None:
        raise AlreadyExists(
            f"tag '{name}' already names version {current} of {ds.url}",
            "tags never move: choose another name",
        )
    doc = {
        "tag": name,
        "version": vid,
        "author": author(),
        "created": datetime.now(UTC).isoformat(),
    }
    ds.io.put(layout.tag_key(name, vid), json.dumps(doc).encode())
    return vid


# --------------------------------------------------------------------------- rm


def rm(url: str, *, force: bool = False, **kw: Any) -> dict[str, Any]:
    """Remove one version (``URL@V``: its manifest; objects go at the next ``gc``),
    or the whole datastore (``URL``: manifests first, so no version is ever half there)."""
    ds, selector = _open(url, kw, write=True)
    if selector is not None:
        vid = ds.select(selector)
        ds.header(vid)
        tagged = sorted(n for n, targets in ds.tags().items() if vid in targets)
        if tagged and not force:
            raise InvalidInput(
                f"version {vid} of {ds.url} is tagged {', '.join(tagged)}",
                "add --force to remove it and its tags",
            )
        _delete(ds.io, [layout.manifest_key(vid)] + [layout.tag_key(n, vid) for n in tagged])
        return {"removed_version": vid, "removed_tags": tagged}
    keys = [layout.manifest_key(v) for v in ds.version_ids()]
    _delete(ds.io, keys)
    rest = [s.key for s in ds.io.walk("") if s.key != layout.MARKER]
    _delete(ds.io, rest)
    _delete(ds.io, [layout.MARKER])
    return {"removed_versions": len(keys), "removed_objects": len(rest)}


def _delete(io: RootIO, keys: list[str]) -> None:
    failures = io.delete(keys)
    if failures:
        raise IntegrityError(
            f"{len(failures)} of {len(keys)} deletes failed ({failures[0][0]}: {failures[0][1]})",
            "re-run the same command",
        )


# --------------------------------------------------------------------------- gc


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | float | timedelta) -> timedelta:
    """``"24h"``, ``"30m"``, ``"7d"``, ``"0"`` or seconds -> timedelta."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, (int, float)):
        return timedelta(seconds=float(text))
    m = _DURATION.match(text)
    if not m:
        raise InvalidInput(f"invalid duration '{text}'", "use e.g. 24h, 30m, 7d or 0")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


@dataclass
class GcResult:
    """What ``gc`` found and did."""

    versions: int = 0
    referenced: int = 0
    unreferenced: int = 0
    deleted: int = 0
    deleted_bytes: int = 0
    kept_young: int = 0
    dry_run: bool = False
    candidates: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (without the candidate list)."""
        d = asdict(self)
        d.pop("candidates")
        return d


def _store_now(io: RootIO) -> datetime:
    """The store's clock: the LastModified of an object written now."""
    key = f"{layout.SESSIONS}/clock-{layout.new_version_id()}.probe"
    io.put(key, b"")
    st = io.stat(key)
    io.delete([key])
    if st is None or st.mtime is None:
        raise IntegrityError(
            f"{io.url}: the store reports no modification time", "gc needs LastModified; not run"
        )
    return st.mtime


def gc(url: str, *, grace: str | timedelta = "24h", dry_run: bool = False, **kw: Any) -> GcResult:
    """Mark and sweep: delete objects no version references, if older than ``grace``.

    Age is judged by the store's own LastModified against the store's clock
    (read from a probe object), never by this machine's clock.  Every manifest
    must read cleanly, or nothing is deleted.
    """
    window = parse_duration(grace)
    ds, selector = _open(url, kw, write=True)
    if selector is not None:
        raise InvalidInput("gc works on the whole datastore", "drop the @… from the URL")
    now = _store_now(ds.io)  # a probe object, also for --dry-run
    ids = ds.version_ids()
    referenced: set[str] = set()
    for m in _pmap(ds.manifest, ids):  # mark (any unreadable manifest aborts the gc)
        referenced.update(d.hex() for d in m.raw_digests())
    res = GcResult(versions=len(ids), referenced=len(referenced), dry_run=dry_run)
    doomed, sizes = [], 0
    for st in ds.io.walk(layout.OBJECTS):  # sweep
        name = st.key.rsplit("/", 1)[-1]
        if name in referenced or len(name) != 64:
            continue
        res.unreferenced += 1
        old = st.mtime is not None and st.mtime <= now - window
        if old:
            doomed.append(st.key)
            sizes += st.size
        else:
            res.kept_young += 1
    for st in ds.io.list_dir(layout.SESSIONS):
        if st.mtime is not None and st.mtime <= now - window:
            doomed.append(st.key)
    res.candidates = doomed
    if not dry_run:
        _delete(ds.io, doomed)
        res.deleted = sum(1 for k in doomed if k.startswith(layout.OBJECTS))
        res.deleted_bytes = sizes
    return res


# --------------------------------------------------------------------------- verify and get


@dataclass
class VerifyResult:
    """Outcome of re-hashing every object of a version."""

    url: str
    version: str
    objects: int
    bytes: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        """True when every object is there with the right bytes."""
        return not self.problems


def _check(ds: Datastore, vid: str, key: str, digest: str) -> tuple[bytes | None, str | None]:
    data = ds.io.get(layout.object_key(digest))
    where = f"{ds.url}@{vid}: {key} (object {layout.object_key(digest)})"
    if data is None:
        return None, f"{where} is missing"
    if hashlib.sha256(data).hexdigest() != digest:
        return None, f"{where} is corrupted (SHA-256 differs)"
    return data, None


def verify(url: str, **kw: Any) -> VerifyResult:
    """Re-read and re-hash every object of the selected version."""
    ds, selector = _open(url, kw)
    vid = ds.select(selector)
    m = ds.manifest(vid)
    first: dict[str, str] = {}
    for i, key in enumerate(m.keys):
        first.setdefault(m.digest_at(i), key)
    found = _pmap(lambda item: _check(ds, vid, item[1], item[0])[1], list(first.items()))
    problems = sorted(p for p in found if p)
    return VerifyResult(ds.url, vid, m.count, m.total_bytes, problems)


def get(url: str, dest: str, **kw: Any) -> dict[str, Any]:
    """Copy the selected version's files to ``dest`` (a local directory or any prefix),
    checking each object's SHA-256 on the way."""
    ds, selector = _open(url, kw)
    vid = ds.select(selector)
    m = ds.manifest(vid)
    out = RootIO(resolve(dest, write=True, **kw))

    def one(i: int) -> None:
        data, problem = _check(ds, vid, m.keys[i], m.digest_at(i))
        if problem:
            raise IntegrityError(problem, f"run `jasmin-access datastore verify {ds.url}@{vid}`")
        out.put(m.keys[i], data or b"")

    _pmap(one, list(range(m.count)))
    if m.count == 0:
        raise NotFound(f"{ds.url}@{vid} is empty", "nothing to get")
    return {"version": vid, "objects": m.count, "bytes": m.total_bytes, "dest": out.url}
