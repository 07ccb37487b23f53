"""Atomic, resumable writing of a planned store.

Order of writes, so that a reader never sees a half-written store:

1. ``.jasmin-access/in-progress.json``: which run owns the store (run id,
   host, pid, start time, fingerprint of sources and options).
2. Every array's and sub-group's metadata, but *not* the root group metadata
   (``zarr.json`` for v3; ``.zgroup``/``.zattrs``/``.zmetadata`` for v2):
   without it the store cannot be opened.
3. The data, one work unit per task; completed units go to a progress journal
   (``.jasmin-access/progress.json``) flushed every few seconds.
4. The root metadata with the consolidated metadata, last; then the marker
   and the journal are removed.  The scan of the sources stays, so that
   ``verify`` and a later append open only the sources that changed.

A re-run with the same fingerprint skips the units in the journal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .. import paths
from ..backends import Backend
from ..caches import BoundedCache
from ..coverage import coverage_attrs
from ..errors import AlreadyExists, JasminAccessError
from ..stores import Location
from ..zarrkeys import JOURNAL, MARKER, ROOT_METADATA, STATE_PREFIX
from .chunkio import clear_encoders, encode_unit, put_sync
from .plan import Unit, read_unit

__all__ = [
    "Journal", "StoreState", "StoreTarget", "coordinates_store", "coverage_of", "dims_of",
    "inspect_store", "write_unit",
]  # fmt: skip

log = logging.getLogger(__name__)

ROOT_KEYS = {3: ["zarr.json"], 2: [".zattrs", ".zmetadata", ".zgroup"]}
ALL_ROOT_KEYS = ROOT_METADATA
#: Names of the metadata documents of groups and arrays (Zarr v2 and v3).
METADATA_KEYS = (*ALL_ROOT_KEYS, ".zarray")


@dataclass(frozen=True)
class StoreTarget:
    """Where tasks write: a backend and a root path (pickles without secrets)."""

    backend: Backend
    path: str
    run_id: str

    @classmethod
    def of(cls, loc: Location, run_id: str) -> StoreTarget:
        """The target for a resolved destination."""
        return cls(loc.backend, loc.path, run_id)

    @property
    def fs(self) -> Any:
        """The backend's synchronous filesystem."""
        return self.backend.fs

    def key(self, rel: str) -> str:
        """Path on :attr:`fs` of a key relative to the store root."""
        return self.path.rstrip("/") + "/" + paths.validate_key(rel)

    def zarr_store(self, read_only: bool = False) -> Any:
        """A zarr store over the target (cached per process and backend)."""
        key = (self.backend.identity, self.run_id, self.path, read_only)
        return _stores.get_or_make(
            key, lambda: self.backend.zarr_store(self.path, read_only=read_only)
        )


_stores: BoundedCache[tuple[str, str, str, bool], Any] = BoundedCache(64)


def close_stores() -> None:
    """Close the S3 sessions of the cached zarr stores of this process."""
    from zarr.core.sync import sync

    for store in list(_stores.values()):
        s3 = getattr(getattr(store, "fs", None), "_s3", None)
        if s3 is not None:
            try:
                sync(s3.__aexit__(None, None, None))
            except Exception as exc:  # closing is best effort
                log.debug("closing an S3 session failed: %s", exc)
    _stores.clear()
    _arrays.clear()
    clear_encoders()


_arrays: BoundedCache[tuple[str, str, str], Any] = BoundedCache(256)


def _array(target: StoreTarget, path: str) -> Any:
    import zarr

    return _arrays.get_or_make(
        (target.run_id, target.path, path),
        lambda: zarr.open_array(target.zarr_store(), path=path, mode="r+"),
    )


def write_unit(target: StoreTarget, unit: Unit) -> int:
    """Read one unit from the sources and write it as whole chunks; return its bytes."""
    chunk = encode_unit(target, unit)
    if chunk is None:
        write_unit_zarr(target, unit)
    else:
        put_sync(target, chunk)
    return unit.nbytes


def write_unit_zarr(target: StoreTarget, unit: Unit) -> None:
    """Read one unit and write it through zarr (sharded and string arrays)."""
    _array(target, unit.array)[unit.selection] = read_unit(unit)


class SimulatedCrash(JasminAccessError):
    """Raised by the test-only ``fail_after_units`` option."""


# --------------------------------------------------------------------------- store state


@dataclass
class StoreState:
    """What is at the destination before a run."""

    complete: bool
    marker: dict[str, Any] | None
    has_objects: bool


def _state_document(target: StoreTarget, path: str) -> dict[str, Any] | None:
    """A run-state document: None when absent, empty when damaged."""
    try:
        return target.backend.read_json(path)
    except ValueError:
        return {}


def _children(target: StoreTarget) -> set[str]:
    """Names of the objects and prefixes directly under the store root (one listing)."""
    try:
        objs, dirs = target.backend.list_level(target.path)
    except (FileNotFoundError, NotADirectoryError):
        return set()
    return {paths.basename(p.rstrip("/")) for p in [*(o.path for o in objs), *dirs]}


def inspect_store(target: StoreTarget) -> StoreState:
    """Is the destination a complete store, an unfinished run, or empty?

    One listing of the store's top level answers all three; the marker is
    read only when the listing shows the run-state prefix.
    """
    children = _children(target)
    complete = any(k in children for k in ALL_ROOT_KEYS)
    marker = _state_document(target, target.key(MARKER)) if STATE_PREFIX in children else None
    return StoreState(complete, marker, bool(children))


def check_destination(state: StoreState, url: str, fingerprint: str, overwrite: bool) -> bool:
    """Decide what to do with an existing destination; True means resume.

    Raises
    ------
    AlreadyExists
        For a complete store, another run's unfinished store, or unrelated objects.
    """
    marker = state.marker
    if marker is not None and marker.get("fingerprint") == fingerprint:
        return True  # the same command crashed: any old store was removed before the marker
    if overwrite:
        return False
    if state.complete and marker is None:
        raise AlreadyExists(
            f"{url} is already a Zarr store", "use --overwrite, or jasmin-access append"
        )
    if marker is not None:
        raise AlreadyExists(
            f"{url} holds an unfinished conversion of other sources or options "
            f"(run {marker.get('run_id')} started {marker.get('started')})",
            "re-run that command to resume it, or use --overwrite",
        )
    if state.has_objects:
        raise AlreadyExists(f"{url} is not empty and not a Zarr store", "use --overwrite")
    return False


def remove_store(target: StoreTarget) -> None:
    """Delete a store: root metadata first (it vanishes for readers), then the rest."""
    fs = target.fs
    for k in ALL_ROOT_KEYS:
        if fs.exists(target.key(k)):
            fs.rm_file(target.key(k))
    if fs.exists(target.path):
        fs.rm(target.path, recursive=True)


def write_marker(target: StoreTarget, fingerprint: str, **extra: Any) -> None:
    """Write the in-progress marker naming this run (``extra`` keys are added)."""
    marker = {
        **extra,
        "run_id": target.run_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "fingerprint": fingerprint,
    }
    target.fs.pipe_file(target.key(MARKER), json.dumps(marker).encode())


def copy_metadata(template: Any, target: StoreTarget, index_arrays: set[str]) -> dict[str, bytes]:
    """Copy the template's metadata (and index arrays' data) but the root metadata.

    Returns the root metadata keys' bytes, to be written last by :func:`finalize`.
    Other data keys of the template (placeholders) are never copied, so a resumed
    run cannot clobber units written before.
    """
    root: dict[str, bytes] = {}
    copies: dict[str, bytes] = {}
    for key, buf in sorted(template._store_dict.items()):
        data = bytes(buf.to_bytes())
        if key in ALL_ROOT_KEYS:
            root[key] = data
        elif paths.basename(key) in METADATA_KEYS or any(
            paths.is_within(a, key) for a in index_arrays
        ):
            copies[target.key(key)] = data
    if copies:
        target.fs.pipe(copies)  # concurrent PUTs on S3
    return root


def finalize(target: StoreTarget, root: dict[str, bytes], zarr_format: int) -> None:
    """Make the store visible (root metadata last) and drop the run state."""
    for key in ROOT_KEYS[zarr_format]:
        if key in root:
            target.fs.pipe_file(target.key(key), root[key])
    drop_state(target)


def dims_of(arr: Any) -> tuple[str, ...]:
    """Dimension names of a zarr array (v3 metadata or the v2 ``_ARRAY_DIMENSIONS``)."""
    names = getattr(arr.metadata, "dimension_names", None)
    if names is None:
        names = arr.attrs.get("_ARRAY_DIMENSIONS", ())
    return tuple(str(n) for n in names)


def coverage_of(group: Any, data_store: Any, time_variable: str | None) -> dict[str, Any]:
    """ACDD coverage attributes of a store's root group (see :mod:`jasmin_access.coverage`).

    ``group`` gives the arrays' metadata (the template of a conversion, or the
    store itself when appending); the values of the few coordinates needed
    (time, depth, longitude, latitude; 2-D on curvilinear grids) are read
    from ``data_store``, where they have just been written.
    """
    import zarr

    arrays = dict(group.arrays())
    variables = {name: (dims_of(a), dict(a.attrs)) for name, a in arrays.items()}

    def values_of(name: str) -> Any:
        return zarr.open_array(data_store, path=arrays[name].path, mode="r")[...]

    return coverage_attrs(variables, values_of, time_variable)


def coordinates_store(
    group: Any, template: Any, target: StoreTarget, time_variable: str | None
) -> Any:
    """A memory copy of ``template`` holding the stored objects of the coordinates coverage reads.

    The objects of the (at most four) coordinates :func:`coverage_of` reads are
    fetched with the target's own filesystem (one listing per coordinate, then
    concurrent GETs on S3), so no second S3 client is made just to read a few
    small arrays through zarr's store.  Chunks that were never stored (all fill
    value) are absent here as they are there.
    """
    import zarr.storage
    from zarr.core.buffer import default_buffer_prototype

    from ..coverage import find_axes

    arrays = dict(group.arrays())
    axes = find_axes({n: (dims_of(a), dict(a.attrs)) for n, a in arrays.items()}, time_variable)
    found: list[str] = []
    for name in {axes.time, axes.vertical, axes.lon, axes.lat} - {None}:
        try:
            listed = target.fs.find(target.key(arrays[name].path))
        except FileNotFoundError:
            continue
        found += [p for p in listed if paths.basename(p) not in METADATA_KEYS]  # in the template
    root = target.path.rstrip("/") + "/"
    store = zarr.storage.MemoryStore(dict(template._store_dict))
    buffer = default_buffer_prototype().buffer
    for path, data in (target.fs.cat(found) if found else {}).items():
        if path.startswith(root):
            store._store_dict[path[len(root) :]] = buffer.from_bytes(data)
    return store


def drop_state(target: StoreTarget) -> None:
    """Remove the run state (journal, then marker) without listing it first.

    The scan of the sources (:data:`SCAN`) stays with the finished store: a
    later ``verify`` of the same sources opens only those that changed since.
    """
    if target.backend.caps.bulk_delete:  # one request; absent keys are fine
        target.backend.delete_many([target.key(JOURNAL), target.key(MARKER)])
        return
    for key in (JOURNAL, MARKER):
        with contextlib.suppress(FileNotFoundError):
            target.fs.rm_file(target.key(key))


# --------------------------------------------------------------------------- journal


def _ranges(values: set[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for v in sorted(values):
        if out and out[-1][1] == v:
            out[-1][1] = v + 1
        else:
            out.append([v, v + 1])
    return out


@dataclass
class Journal:
    """Completed units, flushed to the store every few seconds."""

    target: StoreTarget
    fingerprint: str
    done: dict[str, set[int]] = field(default_factory=dict)
    interval: float = 2.0
    _last: float = 0.0
    _dirty: int = 0

    def load(self) -> None:
        """Read a previous run's journal (same fingerprint only)."""
        data = _state_document(self.target, self.target.key(JOURNAL)) or {}
        if data.get("fingerprint") != self.fingerprint:
            return
        for array, ranges in data.get("done", {}).items():
            self.done[array] = {i for a, b in ranges for i in range(a, b)}

    def mark(self, unit: Unit) -> None:
        """Record a finished unit; flush if the interval has passed."""
        self.done.setdefault(unit.array, set()).add(unit.index)
        self._dirty += 1
        if time.monotonic() - self._last >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Write the journal object (one PUT)."""
        if not self._dirty and self._last:
            return
        payload = {
            "fingerprint": self.fingerprint,
            "done": {k: _ranges(v) for k, v in sorted(self.done.items())},
        }
        self.target.fs.pipe_file(self.target.key(JOURNAL), json.dumps(payload).encode())
        self._last = time.monotonic()
        self._dirty = 0


def stored_bytes(target: StoreTarget) -> int:
    """Total size of the objects under the store."""
    try:
        return int(np.sum([int(s) for s in target.fs.du(target.path, total=False).values()]))
    except FileNotFoundError:
        return 0
