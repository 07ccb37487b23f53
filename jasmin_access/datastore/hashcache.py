"""A local cache of source digests, so a push does not re-read unchanged source files.

A push must know the SHA-256 of every source file to write its manifest.
Reading the whole source again for each push costs as much as the first one;
this cache remembers, per datastore, the digest of each source file together
with what identifies its bytes without reading them:

* a local file: its size, ``st_mtime_ns``, inode and device;
* an object of a remote source: its size and ETag (else LastModified), taken
  from the listing the push does anyway.

A file whose stamp matches is not read again.  The cache only ever saves
reading the *source*: whether the store holds an object is still decided by
the store (an object is reused only when found there under its hash), and
``datastore verify`` re-hashes what is stored.  A local file modified less
than :data:`RACY_SECONDS` before it was hashed is not remembered, since a
write within the same timestamp tick would leave its stamp unchanged.

The cache is one SQLite file per datastore under
``$JASMIN_ACCESS_HASH_CACHE`` (default ``$XDG_CACHE_HOME/jasmin-access/hashes``,
i.e. ``~/.cache/jasmin-access/hashes``); ``JASMIN_ACCESS_HASH_CACHE=off``
turns it off.  A damaged or unwritable cache is ignored (and logged): it
costs reading the source, never a wrong version.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

__all__ = ["HashCache", "Stamp", "cache_dir", "local_stamp"]

log = logging.getLogger(__name__)

CACHE_ENV = "JASMIN_ACCESS_HASH_CACHE"
RACY_SECONDS = 2.0


class Stamp(NamedTuple):
    """What identifies a source file's bytes without reading them."""

    size: int
    token: str  # "mtime_ns:inode:device" locally, the ETag or LastModified remotely
    racy: bool = False  # modified too recently to be remembered


def cache_dir() -> Path | None:
    """The directory of the hash caches, or None when turned off."""
    given = os.environ.get(CACHE_ENV, "")
    if given.lower() in ("off", "0", "no", "false"):
        return None
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jasmin-access" / "hashes"


def local_stamp(path: str, now_ns: int | None = None) -> Stamp | None:
    """The stamp of a local file (None when it cannot be stat'ed)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    now_ns = time.time_ns() if now_ns is None else now_ns
    racy = now_ns - st.st_mtime_ns < RACY_SECONDS * 1e9
    return Stamp(st.st_size, f"{st.st_mtime_ns}:{st.st_ino}:{st.st_dev}", racy)


class HashCache:
    """Digests of one datastore's source files, by source and key.

    Parameters
    ----------
    datastore_url
        The datastore the sources are pushed to (one cache file each).
    source
        The source root (URL or absolute path); keys are relative to it.
    """

    def __init__(self, datastore_url: str, source: str) -> None:
        self.source = source
        self.path: Path | None = None
        self._known: dict[str, tuple[int, str, bytes]] = {}
        base = cache_dir()
        if base is None:
            return
        name = hashlib.sha256(datastore_url.encode()).hexdigest()[:16]
        self.path = base / f"{name}.sqlite"
        try:
            with closing(self._connect()) as db:
                rows = db.execute(
                    "SELECT key, size, token, digest FROM digests WHERE source = ?", (source,)
                )
                self._known = {k: (s, t, d) for k, s, t, d in rows}
        except (sqlite3.Error, OSError) as exc:
            log.info("hash cache %s not used: %s", self.path, exc)
            self.path = None

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        db.execute(
            "CREATE TABLE IF NOT EXISTS digests (source TEXT, key TEXT, size INTEGER, "
            "token TEXT, digest BLOB, PRIMARY KEY (source, key))"
        )
        return db

    def __len__(self) -> int:
        return len(self._known)

    def lookup(self, key: str, stamp: Stamp | None) -> str | None:
        """The hex digest remembered for ``key`` if its stamp is unchanged, else None."""
        if stamp is None or stamp.racy:
            return None
        known = self._known.get(key)
        if known is None or known[0] != stamp.size or known[1] != stamp.token:
            return None
        return known[2].hex()

    def remember(self, entries: Iterable[tuple[str, Stamp | None, str]]) -> int:
        """Store ``(key, stamp, hex digest)`` entries (racy or unstamped ones are skipped)."""
        rows = [
            (self.source, key, st.size, st.token, bytes.fromhex(digest))
            for key, st, digest in entries
            if st is not None and not st.racy and self.lookup(key, st) != digest
        ]
        if not rows or self.path is None:
            return 0
        try:
            with closing(self._connect()) as db, db:
                db.executemany("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?)", rows)
        except (sqlite3.Error, OSError) as exc:
            log.info("hash cache %s not updated: %s", self.path, exc)
            return 0
        for _source, key, size, token, digest in rows:
            self._known[key] = (size, token, digest)
        return len(rows)
