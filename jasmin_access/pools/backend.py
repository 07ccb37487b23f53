"""``pool://NAME/DATASET``: several stores as one, as a backend of the registry.

A URL naming a dataset resolves straight to the backend that holds it (or
is chosen for it when writing), seen through a :class:`DatasetView` that
names its paths as ``pool://`` URLs, so every command and opener works on
the real store with its own fast paths; the pool only adds the record lookup.
``pool://NAME/`` itself is served by :class:`PoolBackend`, which merges the
backends' listings and routes reads and writes below a dataset to its
backend, so ``ls``, ``du``, ``tree``, ``cp -r`` and ``rm -r`` work on a
whole pool.  Its fs paths are ``NAME/DATASET/KEY``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import paths
from ..backends.base import Backend, Capabilities, Obj, Request, Tick, _noop, instance
from ..errors import InvalidInput, NotSupported
from ..stores import Location
from .config import load_pools
from .pool import Pool, get_pool

__all__ = ["PoolBackend"]

log = logging.getLogger(__name__)


def _config_file(request: Request) -> str | None:
    path = getattr(request.config, "path", None)
    return str(path) if path else None


class PoolBackend(Backend):
    """The top of one pool (``pool://NAME/``), or of all pools (``pool://``)."""

    scheme = "pool"
    caps = Capabilities(buckets=True)
    url_root = "pool://"

    def __init__(self, profile: Any = None, *args: Any) -> None:
        super().__init__(None, *args)
        self.config_file: str | None = args[0] if args else None

    @classmethod
    def resolve(cls, scheme: str, text: str, rest: str, request: Request) -> tuple[Backend, str]:
        """A dataset: its backend's location; ``NAME`` alone: the pool's top."""
        cfg = _config_file(request)
        name, _, below = rest.partition("/")
        if name and below:
            loc = locate(name, below, write=request.write, config_file=cfg, check=True)
            return loc.backend, loc.path
        if name:
            get_pool(name, cfg)  # an unknown pool is named now, with the known ones
        return instance(cls, None, cfg), rest

    @property
    def identity(self) -> str:
        """The pools' config file."""
        return f"pool:{self.config_file or ''}"

    # ------------------------------------------------------------------ routing

    def _pool(self, name: str) -> Pool:
        return get_pool(name, self.config_file)

    def _route(self, fs_path: str, write: bool = False) -> tuple[Location, str]:
        """``(location on the member, pool path of that location)`` below a dataset."""
        name, dataset, key = _parts(fs_path)
        if not dataset:
            raise InvalidInput(
                f"pool://{name}/ holds datasets, not objects",
                f"name a dataset: pool://{name}/DATASET/...",
            )
        loc = locate(
            name, dataset + (f"/{key}" if key else ""), write=write, config_file=self.config_file
        )
        return loc, fs_path.rstrip("/")

    def _back(self, loc: Location, pool_path: str, obj_path: str) -> str:
        rel = obj_path[len(loc.path.rstrip("/")) :].replace("\\", "/").lstrip("/")
        return paths.join(pool_path, rel) if rel else pool_path

    def _map(self, loc: Location, pool_path: str, obj: Obj) -> Obj:
        marker = "/" if obj.path.endswith("/") else ""  # an empty directory stays one
        return obj._replace(path=self._back(loc, pool_path, obj.path) + marker)

    # ------------------------------------------------------------------ listing

    def list_buckets(self) -> list[str]:
        """The pools defined in the config file."""
        return sorted(load_pools(Path(self.config_file) if self.config_file else None))

    def bucket_exists(self, bucket: str) -> bool:
        """True for a defined pool."""
        return bucket in self.list_buckets()

    def make_bucket(self, bucket: str) -> None:
        """Pools are defined, not made."""
        raise NotSupported(
            "pools are defined in the config file", f"run `jasmin-access pool add {bucket} ...`"
        )

    def list_level(self, fs_dir: str) -> tuple[list[Obj], list[str]]:
        """A pool's datasets wherever they live, or one level below a dataset."""
        name, dataset, _ = _parts(fs_dir)
        if not dataset:
            listing = self._pool(name).list_top()
            objs = [o._replace(path=f"{name}/{n}") for n, (_, o) in listing.objs.items()]
            return objs, [f"{name}/{n}" for n in listing.dirs]
        loc, base = self._route(fs_dir)
        objs, dirs = loc.backend.list_level(loc.path)
        return [self._map(loc, base, o) for o in objs], [self._back(loc, base, d) for d in dirs]

    def walk_pages(self, fs_dir: str, markers: bool = False) -> Iterator[list[Obj]]:
        """Every object below, dataset by dataset (empty directories as markers if asked)."""
        name, dataset, _ = _parts(fs_dir)
        if dataset:
            loc, base = self._route(fs_dir)
            for page in loc.backend.walk_pages(loc.path, markers):
                yield [self._map(loc, base, o) for o in page]
            return
        objs, dirs = self.list_level(name)
        if objs:
            yield objs
        with ThreadPoolExecutor(max_workers=8) as ex:
            for pages in ex.map(lambda d: list(self.walk_pages(d, markers)), dirs):
                yield from pages

    def prefix_exists(self, fs_dir: str) -> bool:
        """A defined pool, or a directory below a dataset on its backend."""
        name, dataset, _ = _parts(fs_dir)
        if not dataset:
            return self.bucket_exists(name)
        loc, _ = self._route(fs_dir)
        return loc.backend.prefix_exists(loc.path)

    def head(self, fs_path: str) -> Obj | None:
        """The object, through its dataset's backend."""
        if not _parts(fs_path)[1]:
            return None
        loc, base = self._route(fs_path)
        obj = loc.backend.head(loc.path)
        return self._map(loc, base, obj) if obj else None

    def glob(self, pattern: str, files_only: bool = False) -> list[str]:
        """Globs on dataset names, then inside each matching dataset."""
        name, dataset, key = _parts(pattern)
        objs, dirs = self.list_level(name)
        names = [
            p for p in [o.path for o in objs] + dirs if paths.match_glob(f"{name}/{dataset}", p)
        ]
        if not key:
            return [p for p in names if not files_only or p not in dirs]
        out: list[str] = []
        for p in names:
            loc, base = self._route(f"{p}/{key}")
            out += [self._back(loc, base, m) for m in loc.backend.glob(loc.path, files_only)]
        return out

    def describe(self, fs_path: str) -> dict[str, Any]:
        """The object's metadata from its backend."""
        loc, _ = self._route(fs_path)
        return loc.backend.describe(loc.path)

    # ------------------------------------------------------------------ reading

    def open_read(self, fs_path: str) -> Any:
        """Read through the dataset's backend."""
        loc, _ = self._route(fs_path)
        return loc.backend.open_read(loc.path)

    def open_random(self, fs_path: str, block_size: int, cache_type: str = "blockcache") -> Any:
        """Random reads through the dataset's backend."""
        loc, _ = self._route(fs_path)
        return loc.backend.open_random(loc.path, block_size, cache_type)

    def read_bytes(self, fs_path: str) -> bytes:
        """The whole object, from the dataset's backend."""
        loc, _ = self._route(fs_path)
        return loc.backend.read_bytes(loc.path)

    def read_range(self, fs_path: str, start: int, stop: int) -> bytes:
        """A byte range, from the dataset's backend."""
        loc, _ = self._route(fs_path)
        return loc.backend.read_range(loc.path, start, stop)

    def download(self, obj: Obj, tmp: str, what: str, tick: Tick = _noop) -> None:
        """Download from the dataset's backend."""
        loc, _ = self._route(obj.path)
        loc.backend.download(obj._replace(path=loc.path), tmp, what, tick)

    def zarr_store(self, fs_path: str, *, read_only: bool = False) -> Any:
        """The zarr store of the dataset's backend."""
        loc, _ = self._route(fs_path, write=not read_only)
        return loc.backend.zarr_store(loc.path, read_only=read_only)

    # ------------------------------------------------------------------ writing

    def open_write(self, fs_path: str) -> Any:
        """Write to the dataset's backend (placed first if new)."""
        loc, _ = self._route(fs_path, write=True)
        return loc.backend.open_write(loc.path)

    def write_bytes(self, fs_path: str, data: bytes) -> None:
        """Write to the dataset's backend (placed first if new)."""
        loc, _ = self._route(fs_path, write=True)
        loc.backend.write_bytes(loc.path, data)

    def write_stream(self, target: str, reader: Any, size: int) -> None:
        """Stream into the dataset's backend (placed first if new)."""
        loc, _ = self._route(target, write=True)
        loc.backend.write_stream(loc.path, reader, size)

    def upload(self, local_path: str, target: str, what: str, tick: Tick = _noop) -> None:
        """Upload to the dataset's backend (placed first if new)."""
        loc, _ = self._route(target, write=True)
        loc.backend.upload(local_path, loc.path, what, tick)

    def receive(self, source: Backend, obj: Obj, target: str, what: str, tick: Tick) -> None:
        """Stream into the dataset's backend (placed first if new)."""
        loc, _ = self._route(target, write=True)
        if isinstance(source, PoolBackend):
            src_loc, _ = source._route(obj.path)
            source, obj = src_loc.backend, obj._replace(path=src_loc.path)
        loc.backend.receive(source, obj, loc.path, what, tick)

    def delete_many(self, fs_paths: list[str]) -> tuple[list[tuple[str, str]], bool]:
        """Delete through each dataset's backend."""
        groups: dict[str, tuple[Location, list[str]]] = {}
        for p in fs_paths:
            loc, _ = self._route(p)
            groups.setdefault(loc.backend.identity, (loc, []))[1].append(loc.path)
        failures: list[tuple[str, str]] = []
        refused = False
        for loc, members in groups.values():
            f, r = loc.backend.delete_many(members)
            failures += f
            refused = refused or r
        return failures, refused

    def remove_empty_dirs(self, fs_dir: str) -> None:
        """Tidy the dataset's backend."""
        if _parts(fs_dir)[1]:
            loc, _ = self._route(fs_dir)
            loc.backend.remove_empty_dirs(loc.path)


def _parts(fs_path: str) -> tuple[str, str, str]:
    """``(pool, dataset, key)`` of a pool fs path."""
    name, _, rest = fs_path.strip("/").partition("/")
    dataset, _, key = rest.partition("/")
    return name, dataset, key


def locate(
    name: str,
    below: str,
    *,
    write: bool = False,
    config_file: str | None = None,
    check: bool = False,
) -> Location:
    """The location of ``DATASET[/KEY]`` of pool ``name`` on the backend holding it.

    The backend is seen through a view that names its paths as ``pool://`` URLs.
    """
    pool = get_pool(name, config_file)
    dataset, _, key = below.strip("/").partition("/")
    member, _rec = pool.locate(dataset, write=write, check=check)
    base = pool.member_location(member, dataset)
    seen = view(base.backend, f"pool://{name}/{dataset}", base.path)
    loc = replace(base, backend=seen, url=seen.to_url(base.path))
    return loc.child(key) if key else loc


class DatasetView:
    """Mixed into a backend's class: its paths below one dataset shown as ``pool://`` URLs.

    Everything else (clients, verbs, capabilities, identity) is the backend's own.
    """

    _url_base: str
    _fs_base: str
    _inner: Backend

    def to_url(self, fs_path: str) -> str:
        """``pool://NAME/DATASET/KEY`` below the dataset, the backend's URL elsewhere."""
        base = self._fs_base.rstrip("/")
        if fs_path == base or fs_path.startswith((base + "/", base + os.sep)):
            rel = fs_path[len(base) :].replace(os.sep, "/").lstrip("/")
            return f"{self._url_base}/{rel}" if rel else self._url_base
        return self._inner.to_url(fs_path)

    def hint_url(self, example: str = "") -> str:
        """An example in the pool's form."""
        return f"{self._url_base}/{example}" if example else self._url_base

    def __reduce__(self) -> tuple[Any, ...]:
        return self._inner.__reduce__()  # workers get the backend itself

    def __repr__(self) -> str:
        return f"{type(self._inner).__name__}({self._inner.identity} as {self._url_base})"


_view_classes: dict[type, type] = {}
_views: dict[tuple[int, str, str], Backend] = {}
_views_lock = threading.Lock()


def view(backend: Backend, url_base: str, fs_base: str) -> Backend:
    """``backend`` as seen through ``url_base`` (shared, so ``is`` comparisons hold)."""
    if isinstance(backend, DatasetView):  # a pool inside a pool: one view, the outer name
        backend = backend._inner
    key = (id(backend), url_base, fs_base)
    with _views_lock:
        seen = _views.get(key)
        if seen is not None and seen._inner is backend:  # type: ignore[attr-defined]
            return seen
        cls = _view_classes.get(type(backend))
        if cls is None:
            cls = type(f"Pool{type(backend).__name__}", (DatasetView, type(backend)), {})
            _view_classes[type(backend)] = cls
        backend.fs  # noqa: B018  (the client is made once, shared with the view)
        seen = object.__new__(cls)
        seen.__dict__.update(backend.__dict__)
        seen.__dict__.update(_inner=backend, _url_base=url_base, _fs_base=fs_base)
        if len(_views) > 1024:
            _views.clear()
        _views[key] = seen
        return seen
