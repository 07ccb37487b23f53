"""``convert`` and ``append`` into a datastore: work on a local staging copy, then push.

The converter writes a plain Zarr store into a staging directory on local
disk (``$JASMIN_ACCESS_STAGING``, default ``~/.cache/jasmin-access/staging``,
one directory per datastore); the staging copy is then pushed, which
publishes exactly one version and uploads only objects the datastore lacks.

For ``append`` the staging directory is first made equal to the selected
version: files already there with the right SHA-256 stay (a previous run on
this machine leaves the latest version there, so usually nothing is
downloaded), others are fetched from their objects, extra files removed.  The
converter's own append then changes only the new chunks and the metadata,
and the push uploads just those.  A run that is interrupted publishes
nothing; re-running it redoes the local work and reuses every object it had
uploaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import IntegrityError
from ..stores import resolve
from . import layout
from ._io import RootIO
from .hashcache import HashCache, Stamp, local_stamp
from .publish import push_location
from .repo import Datastore, open_datastore

__all__ = ["datastore_dest", "into_datastore", "materialise", "staging_dir"]

log = logging.getLogger(__name__)

STAGING_ENV = "JASMIN_ACCESS_STAGING"


def staging_dir(url: str) -> Path:
    """The local staging directory of the datastore at ``url``."""
    base = os.environ.get(STAGING_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "jasmin-access", "staging"
    )
    return Path(base) / hashlib.sha256(url.encode()).hexdigest()[:16]


def datastore_dest(dest: str, rkw: dict[str, Any]) -> tuple[Datastore, str | None] | None:
    """The datastore a ``convert``/``append`` DEST names, or None for a plain store.

    ``URL@…`` always names a datastore (created by ``convert`` if missing); a
    URL without ``@`` does when a datastore is there (one GET for its marker).
    """
    if not isinstance(dest, str):
        return None
    _base, selector = layout.split_ref(dest)
    if selector is not None:
        return open_datastore(dest, write=True, **rkw)
    loc = resolve(dest, **rkw)
    if loc.caps.buckets and not loc.key:
        return None
    ds = Datastore(RootIO(loc))
    return (ds, None) if ds.exists() else None


def materialise(ds: Datastore, vid: str, directory: Path) -> int:
    """Make ``directory`` hold exactly the files of version ``vid``; returns bytes fetched.

    Files already there are checked against the version by the hash cache the
    push of this directory uses (read again only when their stamp changed),
    and files fetched are entered in it, so the push after a convert or
    append reads only what that run wrote.
    """
    m = ds.manifest(vid)
    wanted = m.entries()
    cache = HashCache(ds.url, resolve(str(directory)).url)
    directory.mkdir(parents=True, exist_ok=True)
    for path in sorted(directory.rglob("*"), reverse=True):
        rel = path.relative_to(directory).as_posix()
        if path.is_file() and rel not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    fetched = 0
    written: list[tuple[str, Stamp | None, str]] = []
    for key, (digest, _size) in wanted.items():
        target = directory.joinpath(*key.split("/"))
        if target.is_file() and _staged_digest(cache, key, target, written) == digest:
            continue
        data = ds.io.get(layout.object_key(digest))
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            raise IntegrityError(
                f"{ds.url}@{vid}: {key} (object {layout.object_key(digest)}) is missing or damaged",
                f"run `jasmin-access datastore verify {ds.url}@{vid}`",
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        fetched += len(data)
        stamp = local_stamp(str(target))
        # written here from bytes just checked: remembered even if modified just now
        written.append((key, stamp._replace(racy=False) if stamp else None, digest))
    cache.remember(written)
    return fetched


def _staged_digest(
    cache: HashCache, key: str, path: Path, hashed: list[tuple[str, Stamp | None, str]]
) -> str:
    """The digest of a staged file: from the cache, else read (and added to ``hashed``)."""
    stamp = local_stamp(str(path))
    known = cache.lookup(key, stamp)
    if known is not None:
        return known
    digest = _sha256(path)
    hashed.append((key, stamp, digest))
    return digest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def into_datastore(
    found: tuple[Datastore, str | None],
    run: Callable[[str], Any],
    *,
    append: bool,
    message: str,
) -> Any:
    """Run ``run(staging_path)`` (a convert or append) and push the result as one version.

    Returns whatever ``run`` returned, its ``dest`` set to ``URL@VERSION``.
    """
    ds, selector = found
    stage = staging_dir(ds.url)
    parent = None
    if append:
        parent = ds.require().select(selector)
        fetched = materialise(ds, parent, stage)
        log.info("staged %s@%s in %s (%d bytes fetched)", ds.url, parent, stage, fetched)
    else:
        if not ds.exists():
            ds.ensure_marker(new=True)
        shutil.rmtree(stage, ignore_errors=True)
        stage.parent.mkdir(parents=True, exist_ok=True)
    report = run(str(stage))
    res = push_location(ds, resolve(str(stage)), message, parent=parent)
    report.dest = f"{ds.url}@{res.version}"
    return report
