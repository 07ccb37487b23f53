"""A pool at run time: its registry, its backends' standing, and where a dataset is.

``Pool.locate`` answers "which backend holds (or will hold) this dataset":
the newest record if there is one; else a search of the backends in order
(data written before the pool knew it, recorded once found); else, for a
write, a placement decided and recorded before any byte is written.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..backends import Obj
from ..errors import InvalidInput, JasminAccessError, translate
from ..stores import Location, resolve
from .config import Member, PoolDef, parse_labels, pool_def
from .placement import Choice, Standing, choose
from .registry import Record, Registry

__all__ = ["Listing", "Pool", "get_pool", "placing"]

log = logging.getLogger(__name__)

ENV_LABELS = "JASMIN_ACCESS_POOL_LABELS"
USAGE_MAX_AGE = 3600.0  # seconds a usage snapshot is trusted for placement

_request: ContextVar[tuple[int | None, dict[str, str]]] = ContextVar(
    "pool_request", default=(None, {})
)


@contextmanager
def placing(*, size: int | None = None, labels: dict[str, str] | None = None) -> Any:
    """Size and labels for datasets placed inside the block.

    Examples
    --------
    >>> with placing(size=12 * 10**9, labels={"tier": "cold"}):  # doctest: +SKIP
    ...     ja.convert("run1/*.nc", "pool://nemo/run1.zarr")
    """
    token = _request.set((size, dict(labels or {})))
    try:
        yield
    finally:
        _request.reset(token)


def requested() -> tuple[int | None, dict[str, str]]:
    """Size and labels asked for by ``placing`` and ``--label`` (the environment)."""
    size, labels = _request.get()
    env = os.environ.get(ENV_LABELS)
    if env:
        labels = {**parse_labels(env.split(",")), **labels}
    return size, labels


@dataclass
class Listing:
    """Datasets found at the top of each backend, and the backends that failed."""

    objs: dict[str, tuple[str, Obj]] = field(default_factory=dict)
    dirs: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def exists(loc: Location) -> bool:
    """True when an object or a non-empty prefix is at ``loc``."""
    if loc.backend.head(loc.path) is not None:
        return True
    return loc.backend.list_level(loc.path) != ([], [])


class Pool:
    """One pool: its definition, registry and backends."""

    def __init__(self, definition: PoolDef) -> None:
        self.d = definition
        self.registry = Registry(definition.registry_url, definition.registry_profile)
        self._lock = threading.Lock()
        self._ids = {m.id for m in definition.members}

    @property
    def name(self) -> str:
        """The pool's name."""
        return self.d.name

    def member_location(self, member: Member | str, dataset: str = "") -> Location:
        """The location of ``dataset`` (or the base) on one backend."""
        m = self.d.member(member) if isinstance(member, str) else member
        url = m.url.rstrip("/") + ("/" + dataset if dataset else "")
        return resolve(url, profile=m.profile)

    # ------------------------------------------------------------------ where

    def locate(
        self, dataset: str, *, write: bool = False, check: bool = False
    ) -> tuple[Member, Record | None]:
        """The backend holding ``dataset``, or the one chosen for it when writing.

        A read of a dataset that exists nowhere gets the first backend and no
        record (the read then fails there, naming the URL).  With ``write`` and
        ``check``, a record whose data is gone (the dataset was removed) is
        placed again, unless it is a placement of the last hour not yet written.
        """
        if not dataset or dataset.startswith("."):
            raise InvalidInput(
                f"'{dataset}' is not a dataset name in pool '{self.name}'",
                "dataset names do not start with '.' (the pool keeps its records there)",
            )
        rec = self.registry.current(dataset)
        if rec is not None and rec.backend in self._ids:
            if not (write and check and self._gone(rec)):
                return self.d.member(rec.backend), rec
            with self._lock:
                return self._place_new(dataset)
        if rec is not None:
            log.warning(
                "pool %s: %s is recorded on %s, which the pool no longer has; searching",
                self.name,
                dataset,
                rec.backend,
            )
        with self._lock:  # threads of one command placing the same new dataset agree
            return self._find_or_place(dataset, write)

    def _find_or_place(self, dataset: str, write: bool) -> tuple[Member, Record | None]:
        rec = self.registry.current(dataset)
        if rec is not None and rec.backend in self._ids:
            return self.d.member(rec.backend), rec
        found = self.search(dataset)
        if found is not None:
            return found
        if not write:
            return self.d.members[0], None
        return self._place_new(dataset)

    def _gone(self, rec: Record) -> bool:
        """True when the recorded dataset is no longer stored (removed since)."""
        fresh = (datetime.now(UTC) - rec.time).total_seconds() < USAGE_MAX_AGE
        if rec.state == "placed" and fresh:
            return False  # placed ahead of writing (``pool place``), not written yet
        return not exists(self.member_location(rec.backend, rec.dataset))

    def _place_new(self, dataset: str) -> tuple[Member, Record]:
        size, labels = requested()
        choice = self.place(dataset, size=size, labels=labels)
        rec = self.registry.write(
            Record(dataset, choice.member.id, "placed", why=choice.why, size=size)
        )
        log.info("pool %s: %s placed on %s (%s)", self.name, dataset, choice.member.id, choice.why)
        self._usage_outdated()
        return choice.member, rec

    def _usage_outdated(self) -> None:
        """Data is about to land somewhere: the next placement (any process) lists usage again.

        An empty snapshot is newer than the last measured one, so every reader measures
        afresh; without it, a snapshot taken before this dataset was written would let the
        next dataset onto a backend this one has filled.
        """
        try:
            self.registry.write_usage({})
        except Exception as exc:
            log.warning("pool %s: usage cache not refreshed (%s)", self.name, translate(exc))

    def search(self, dataset: str) -> tuple[Member, Record] | None:
        """Search the backends in order for ``dataset``; record it where found."""
        for m in self.d.members:
            try:
                if not exists(self.member_location(m, dataset)):
                    continue
            except Exception as exc:  # an unreachable backend does not hide the others
                log.warning("pool %s: backend %s not searched: %s", self.name, m.id, _why(m, exc))
                continue
            why = f"found on {m.id} (written before the pool recorded it)"
            rec = Record(dataset, m.id, "found", why=why)
            try:
                rec = self.registry.write(rec)
            except (PermissionError, NotImplementedError) as exc:  # a reader may not write
                log.info("pool %s: %s found on %s, not recorded: %s", self.name, dataset, m.id, exc)
                return m, rec
            log.warning(
                "pool %s: %s was not in the registry; %s, now recorded",
                self.name,
                dataset,
                why.split(" (")[0],
            )
            return m, rec
        return None

    def place(
        self, dataset: str, *, size: int | None = None, labels: dict[str, str] | None = None
    ) -> Choice:
        """Choose a backend for a new dataset (nothing is written)."""
        return choose(self.d, dataset, self.standings(), size=size, labels=labels)

    # ------------------------------------------------------------------ usage

    def standings(self, *, refresh: bool = False) -> dict[str, Standing]:
        """Each backend's used bytes (cached usage, measured if missing or stale) and % full."""
        usage, when = ({}, None) if refresh else self._cached_usage()
        age = (datetime.now(UTC) - when).total_seconds() if when else None
        if age is None or age > USAGE_MAX_AGE or set(usage) != {m.id for m in self.d.members}:
            usage = self.measure()
        out = {}
        for m in self.d.members:
            u = usage.get(m.id, {})
            pct, total = _disk(self, m)
            out[m.id] = Standing(m, u.get("used"), pct, u.get("error"), total)
        return out

    def _cached_usage(self) -> tuple[dict[str, Any], datetime | None]:
        try:
            return self.registry.usage()
        except Exception as exc:
            log.warning(
                "pool %s: usage cache unreadable (%s); measuring", self.name, translate(exc)
            )
            return {}, None

    def measure(self) -> dict[str, Any]:
        """List every backend (in parallel), store the usage snapshot, return it."""

        def one(m: Member) -> tuple[str, dict[str, Any]]:
            try:
                loc = self.member_location(m)
                used = sum(o.size for o in _walk_datasets(loc))
                names = self._top_names(m, loc)
                return m.id, {"used": used, "datasets": len(names)}
            except Exception as exc:
                return m.id, {"error": str(_why(m, exc))}

        with ThreadPoolExecutor(max_workers=len(self.d.members)) as ex:
            usage = dict(ex.map(one, self.d.members))
        try:
            self.registry.write_usage(usage)
        except Exception as exc:
            log.warning("pool %s: usage not cached (%s)", self.name, translate(exc))
        return usage

    def _top_names(self, m: Member, loc: Location) -> list[str]:
        objs, dirs = loc.backend.list_level(loc.path)
        names = [_base(p) for p in [o.path for o in objs] + dirs]
        return [n for n in names if n and not n.startswith(".")]

    # ------------------------------------------------------------------ listing

    def list_top(self) -> Listing:
        """Datasets at the top of every backend, listed in parallel; failures named."""

        def one(m: Member) -> tuple[Member, Any]:
            try:
                loc = self.member_location(m)
                return m, loc.backend.list_level(loc.path)
            except Exception as exc:
                return m, exc

        out = Listing()
        with ThreadPoolExecutor(max_workers=len(self.d.members)) as ex:
            results = list(ex.map(one, self.d.members))
        for m, res in results:
            if isinstance(res, BaseException):
                err = _why(m, res)
                if not isinstance(err, JasminAccessError | OSError):
                    raise res
                out.failed[m.id] = str(err)
                log.warning(
                    "pool %s: backend %s (%s) failed, listing the others: %s",
                    self.name,
                    m.id,
                    m.url,
                    err,
                )
                continue
            objs, dirs = res
            for o in objs:
                name = _base(o.path)
                if name and not name.startswith("."):
                    out.objs.setdefault(name, (m.id, o))
            for d in dirs:
                name = _base(d)
                if name and not name.startswith(".") and name not in out.objs:
                    out.dirs.setdefault(name, m.id)
        return out


def _walk_datasets(loc: Location) -> Iterator[Obj]:
    """Every object below a backend's base, except the pool's own (``.pool``)."""
    base = loc.path.rstrip("/")
    for page in loc.backend.walk_pages(base):
        for o in page:
            if not o.path[len(base) :].replace("\\", "/").lstrip("/").startswith("."):
                yield o


def _why(m: Member, exc: BaseException) -> BaseException:
    """A backend's failure as one line naming its URL."""
    return translate(exc, action="listing", url=m.url, profile=m.profile)


def _base(fs_path: str) -> str:
    return fs_path.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]


def _disk(pool: Pool, m: Member) -> tuple[float | None, int | None]:
    """``(% full, size in bytes)`` of the disk under a local backend (statvfs), else Nones."""
    if m.max_percent_full is None:
        return None, None
    try:
        loc = pool.member_location(m)
    except Exception:
        return None, None
    if not loc.caps.local_path:
        return None, None
    path = loc.path
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    try:
        st = os.statvfs(path or "/")
    except OSError:
        return None, None
    total = st.f_blocks * st.f_frsize
    free = st.f_bavail * st.f_frsize
    return (100.0 * (total - free) / total, total) if total else (None, None)


_pools: dict[tuple[str, str], Pool] = {}
_pools_lock = threading.Lock()


def get_pool(name: str, config_file: str | None = None) -> Pool:
    """The pool called ``name`` (shared per process while its definition is unchanged)."""
    from pathlib import Path

    definition = pool_def(name, Path(config_file) if config_file else None)
    key = (name, repr(definition))
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            if len(_pools) > 64:
                _pools.clear()
            pool = _pools[key] = Pool(definition)
        return pool
