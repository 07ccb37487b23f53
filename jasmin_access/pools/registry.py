"""Where each dataset of a pool lives: immutable records, newest wins.

Layout below the registry URL::

    records/<dataset>/<key>~<state>~<backend>.json
    usage/<key>.json

``<key>`` is time-sortable and unique (nanoseconds since the epoch, then
random hex), so two writers never write the same object and no conditional
write is needed: the record with the greatest key is the current one.  The
backend and the state are in the object's name, so one listing answers
"where is it" without reading the record; the body says why (rule, order,
weight, found, move) and when.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import translating
from ..stores import Location, resolve

__all__ = ["STATES", "Record", "Registry", "new_key"]

log = logging.getLogger(__name__)

STATES = ("placed", "found", "adopted", "moving", "moved", "settled")
"""``moving``: being copied to ``target`` (read the old copy); ``moved``: switched,
the old copy is being deleted; the others: the dataset lives on ``backend``."""
CACHE_SECONDS = 60.0  # a record read is trusted this long in one process (moves are rare)
CACHE_ENTRIES = 4096
_KEEP = 3  # superseded records kept per dataset (the rest are swept by writers)


def new_key() -> str:
    """A unique key that sorts by creation time."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:10]}"


def _after(key: str) -> str:
    """A fresh key sorting just after ``key`` (for a clock behind the store's writers)."""
    return f"{int(key.split('-')[0]) + 1:020d}-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Record:
    """One dataset's placement at one moment."""

    dataset: str
    backend: str
    state: str = "placed"
    why: str = ""
    target: str | None = None
    source: str | None = None
    size: int | None = None
    key: str = ""

    @property
    def time(self) -> datetime:
        """When the record was written."""
        return datetime.fromtimestamp(int(self.key.split("-")[0]) / 1e9, tz=UTC)

    @property
    def name(self) -> str:
        """The object name: key, state and backend."""
        return f"{self.key}~{self.state}~{self.backend}.json"


def _parse_name(dataset: str, name: str) -> Record | None:
    stem = name.removesuffix(".json")
    parts = stem.split("~")
    if len(parts) != 3 or parts[1] not in STATES or not name.endswith(".json"):
        return None
    return Record(dataset=dataset, backend=parts[2], state=parts[1], key=parts[0])


class Registry:
    """The records of one pool, kept at ``url`` (any backend URL)."""

    def __init__(self, url: str, profile: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.profile = profile
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Record]] = {}

    @property
    def location(self) -> Location:
        """The registry's location."""
        return resolve(self.url, profile=self.profile)

    def _dir(self, *parts: str) -> Location:
        loc = self.location
        for p in parts:
            loc = loc.child(p)
        return loc

    # ------------------------------------------------------------------ records

    def history(self, dataset: str) -> list[Record]:
        """Every record of ``dataset`` still stored, oldest first (one listing)."""
        loc = self._dir("records", dataset)
        with translating("reading the pool registry at", loc.url, loc.profile_name):
            objs, _ = loc.backend.list_level(loc.path)
        found = [_parse_name(dataset, os.path.basename(o.path.replace("\\", "/"))) for o in objs]
        return sorted((r for r in found if r is not None), key=lambda r: r.key)

    def current(self, dataset: str, *, fresh: bool = False) -> Record | None:
        """The newest record of ``dataset`` (cached in this process unless ``fresh``)."""
        if not fresh:
            hit = self._cache.get(dataset)
            if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
                return hit[1]
        records = self.history(dataset)
        rec = records[-1] if records else None
        if rec is not None:
            self._remember(rec)
        return rec

    def _remember(self, rec: Record) -> None:
        with self._lock:
            if len(self._cache) > CACHE_ENTRIES:
                self._cache.clear()
            self._cache[rec.dataset] = (time.monotonic(), rec)

    def details(self, rec: Record) -> Record:
        """The record with its body (why, target, source, size) read back."""
        loc = self._dir("records", rec.dataset, rec.name)
        body = loc.backend.read_json(loc.path) or {}
        fields = {k: body.get(k) for k in ("why", "target", "source", "size")}
        return Record(**{**asdict(rec), **{k: v for k, v in fields.items() if v is not None}})

    def write(self, rec: Record) -> Record:
        """Store a new record (never overwriting one); the older ones beyond a few are swept.

        Its key sorts after every record already there, even when this machine's
        clock is behind the one that wrote them (a move's steps stay in order).
        """
        before = self.history(rec.dataset)
        key = rec.key or new_key()
        if before and before[-1].key >= key:
            key = _after(before[-1].key)
        rec = Record(**{**asdict(rec), "key": key})
        loc = self._dir("records", rec.dataset, rec.name)
        body = {**asdict(rec), "time": rec.time.isoformat()}
        with translating("writing the pool registry at", loc.url, loc.profile_name):
            loc.backend.write_bytes(loc.path, json.dumps(body, sort_keys=True).encode())
        self._remember(rec)
        old = before[: max(len(before) + 1 - _KEEP, 0)]
        if old:  # superseded records beyond the newest few (any writer may sweep)
            base = self._dir("records", rec.dataset)
            base.backend.delete_many([base.backend.join(base.path, r.name) for r in old])
        return rec

    def datasets(self) -> list[str]:
        """Every dataset with a record."""
        loc = self._dir("records")
        with translating("reading the pool registry at", loc.url, loc.profile_name):
            _, dirs = loc.backend.list_level(loc.path)
        return sorted(os.path.basename(d.rstrip("/").replace("\\", "/")) for d in dirs)

    def forget(self, dataset: str) -> None:
        """Drop the in-process cache of ``dataset``."""
        with self._lock:
            self._cache.pop(dataset, None)

    # ------------------------------------------------------------------ usage

    def usage(self) -> tuple[dict[str, Any], datetime | None]:
        """The newest usage snapshot ``{backend: {...}}`` and when it was taken."""
        loc = self._dir("usage")
        objs, _ = loc.backend.list_level(loc.path)
        names = sorted(os.path.basename(o.path.replace("\\", "/")) for o in objs)
        for name in reversed(names):
            body = loc.backend.read_json(loc.backend.join(loc.path, name))
            if body is not None:
                key = name.removesuffix(".json")
                when = datetime.fromtimestamp(int(key.split("-")[0]) / 1e9, tz=UTC)
                return dict(body.get("backends", {})), when
        return {}, None

    def write_usage(self, backends: dict[str, Any]) -> None:
        """Store a usage snapshot (older snapshots beyond a few are swept)."""
        loc = self._dir("usage")
        name = f"{new_key()}.json"
        loc.backend.write_bytes(
            loc.backend.join(loc.path, name), json.dumps({"backends": backends}).encode()
        )
        objs, _ = loc.backend.list_level(loc.path)
        old = sorted(o.path for o in objs)[:-_KEEP]
        if old:
            loc.backend.delete_many(old)
