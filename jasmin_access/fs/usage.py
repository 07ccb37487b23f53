"""``du``: bytes and object counts per prefix, with Zarr stores counted as one unit.

Listing streams page by page and is aggregated as pages arrive, so client
memory grows with the number of directories shown, not with the number of keys.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import paths
from ..datastore.layout import MANIFEST_SUFFIX
from ..datastore.layout import MARKER as DATASTORE_MARKER
from ..datastore.units import is_version_key
from ..datastore.units import summary as datastore_summary
from ..errors import translating
from ..stores import Location
from ._backend import head, list_buckets, locate, prefix_exists, sep_join, walk_pages
from .listing import _missing
from .records import Records, Usage, ZarrSummary

__all__ = ["ZARR_METADATA", "du"]

log = logging.getLogger(__name__)

ZARR_METADATA = frozenset({".zarray", ".zgroup", ".zattrs", ".zmetadata", "zarr.json"})
_STORE_MARKERS = frozenset({".zgroup", ".zarray", ".zmetadata", "zarr.json"})
_STATE = ".jasmin-access"  # the converter's run state inside a store
_IN_PROGRESS = f"{_STATE}/in-progress.json"  # a conversion or append not finished yet


@dataclass
class _Tally:
    """Running totals while a listing streams.

    Each key costs one update of its parent's row; the rows of the directories
    above (and the collapsing of chunk-grid directories) are worked out once,
    per parent, by :meth:`directories`.
    """

    depth: int | None
    expand: bool
    parents: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    total: list[int] = field(default_factory=lambda: [0, 0, 0])
    metadata: list[str] = field(default_factory=list)
    datastores: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)

    def add(self, rel: str, size: int) -> None:
        parent, _, name = rel.rpartition("/")
        if name == DATASTORE_MARKER:
            self.datastores.append(parent)
        elif name.endswith(MANIFEST_SUFFIX) and is_version_key(rel):
            self.versions.append(rel)
        meta = 0
        if name in ZARR_METADATA or (_STATE in rel and _STATE in parent.split("/")):
            meta = 1  # metadata and the converter's own state are not chunks
            self.metadata.append(rel)
        total, row = self.total, self.parents[parent]
        total[0] += size
        total[1] += 1
        total[2] += meta
        row[0] += size
        row[1] += 1
        row[2] += meta

    def directories(self) -> dict[str, list[int]]:
        """Bytes, objects and metadata objects per directory shown, from the parents' rows."""
        dirs: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for parent, (nbytes, count, meta) in self.parents.items():
            parts = parent.split("/") if parent else []
            levels = len(parts)
            if not self.expand and "c" in parts:
                i = parts.index("c")
                if all(p.isdigit() for p in parts[i + 1 :]):
                    levels = i  # a v3 chunk key: no rows for the chunk-grid directories
            if self.depth is not None:
                levels = min(levels, self.depth)
            key = ""
            for part in parts[:levels]:
                key = f"{key}/{part}" if key else part
                row = dirs[key]
                row[0] += nbytes
                row[1] += count
                row[2] += meta
        return dirs


def du(
    url: str,
    *,
    depth: int | None = None,
    summarize: bool = False,
    expand: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> Records[Usage]:
    """Total bytes and objects per prefix below ``url``.

    A prefix holding ``zarr.json`` (Zarr v3) or ``.zgroup``/``.zarray``/
    ``.zmetadata`` (v2) at its top is a Zarr store: one row of type ``"zarr"``
    with variables, chunks present, bytes stored and uncompressed.

    Parameters
    ----------
    depth
        Show prefixes at most this many levels below ``url``.
    summarize
        Only the total for ``url``.
    expand
        Also show the prefixes inside Zarr stores.
    include, exclude
        Count only the objects passing these patterns (see :func:`jasmin_access.paths.keep`).

    Returns
    -------
    Records[Usage]
        Rows sorted by path; the total for ``url`` comes last.
    """
    loc = locate(url, profile=profile, endpoint_url=endpoint_url, anon=anon)
    if loc.caps.buckets and not loc.bucket:
        return _per_bucket(loc, summarize, profile=profile, endpoint_url=endpoint_url, anon=anon)
    tally = _Tally(depth=0 if summarize else depth, expand=expand)
    with translating("listing", loc.url, loc.profile_name):
        base = loc.path.rstrip("/")
        cut = len(base) + 1
        filtered = bool(include or exclude)
        for page in walk_pages(loc, base):
            for obj in page:
                rel = obj.path[cut:]
                if not filtered or paths.keep(rel, include, exclude):
                    tally.add(rel, obj.size)
        if tally.total[1] == 0 and not (include or exclude):
            obj = head(loc, base)
            if obj is not None:
                return Records([Usage(loc.url, obj.size, 1, type="file")])
            if loc.key and not prefix_exists(loc, base):  # markers only: an empty directory
                raise _missing(loc)
        return Records(_rows(loc, tally, summarize, expand))


def _per_bucket(loc: Location, summarize: bool, **kwargs: Any) -> Records[Usage]:
    """``du s3://``: one row per bucket, then the total of the account."""
    with translating("listing buckets", loc.url, loc.profile_name):
        buckets = list_buckets(loc)
    rows = [du(loc.to_url(b), summarize=True, **kwargs)[-1] for b in buckets]
    total = Usage(loc.url, sum(r.bytes for r in rows), sum(r.objects for r in rows))
    return Records([total] if summarize else [*rows, total])


def _rows(loc: Location, tally: _Tally, summarize: bool, expand: bool) -> list[Usage]:
    stores = {paths.parent(m) for m in tally.metadata if paths.basename(m) in _STORE_MARKERS}
    unfinished = {m[: -len(_IN_PROGRESS)].rstrip("/") for m in tally.metadata if _is_journal(m)}
    stores = {s for s in stores if not any(_inside(u, s) for u in unfinished)} | unfinished
    top = {s for s in stores if not any(_inside(o, s) for o in stores if o != s)}
    units = set(tally.datastores)
    total = Usage(paths.as_dir(loc.url) if loc.key else loc.url, tally.total[0], tally.total[1])
    if "" in units:
        total.type, total.datastore = "datastore", _datastore(loc, "", tally)
        top = units = {""}
    elif "" in top:
        total.type, total.zarr = "zarr", _summary(loc, "", tally, tally.total)
        top = {""}
    top |= units
    if summarize:
        return [total]
    rows: list[Usage] = []
    dirs = tally.directories()
    for rel, (nbytes, nobj, _meta) in dirs.items():
        if not expand and any(_inside(t, rel) and t != rel for t in top):
            continue
        row = Usage(paths.as_dir(_url(loc, rel)), nbytes, nobj)
        if rel in units:
            row.type, row.datastore = "datastore", _datastore(loc, rel, tally)
        elif rel in top:
            row.type, row.zarr = "zarr", _summary(loc, rel, tally, dirs[rel])
        rows.append(row)
    rows.sort(key=lambda r: paths.natural_key(r.path))
    return [*rows, total]


def _datastore(loc: Location, rel: str, tally: _Tally) -> dict[str, Any]:
    """Versions and the latest version of the datastore at ``rel`` (one ranged GET)."""
    mine = [v for v in tally.versions if paths.parent(paths.parent(v)) == rel]
    url = _url(loc, rel) if rel else loc.url
    return datastore_summary(url, mine, profile=loc.profile)


def _is_journal(rel: str) -> bool:
    return rel == _IN_PROGRESS or rel.endswith("/" + _IN_PROGRESS)


def _inside(store: str, rel: str) -> bool:
    return store == "" or paths.is_within(store, rel)


def _url(loc: Location, rel: str) -> str:
    return loc.to_url(sep_join(loc, loc.path.rstrip("/"), rel))


def _summary(loc: Location, store: str, tally: _Tally, row: list[int]) -> ZarrSummary:
    metas = [m for m in tally.metadata if _inside(store, m)]
    local = [paths.relative(store, m) if store else m for m in metas]
    base = sep_join(loc, loc.path.rstrip("/"), store)
    arrays, fmt = _arrays(loc, base, local)
    uncompressed = sum(_nbytes(meta) for meta in arrays.values())
    return ZarrSummary(
        zarr_format=fmt,
        variables=paths.natural_sorted(arrays),
        chunks=row[1] - row[2],
        bytes_stored=row[0],
        bytes_uncompressed=uncompressed,
        chunks_expected=sum(_grid_count(meta) for meta in arrays.values()) if arrays else None,
        unfinished=any(_is_journal(m) for m in local),
    )


def _grid_count(meta: dict[str, Any]) -> int:
    """Chunk (or shard) objects an array has when every chunk is written.

    Chunks holding only the fill value may legitimately be absent, so fewer
    chunks present than this is a hint, not proof, of damage.
    """
    shape = meta.get("shape") or []
    grid = (meta.get("chunk_grid") or {}).get("configuration", {}).get("chunk_shape")
    chunks = grid if grid is not None else meta.get("chunks") or shape
    if len(chunks) != len(shape):
        return 0
    return int(math.prod(-(-int(s) // max(int(c), 1)) for s, c in zip(shape, chunks, strict=True)))


def _read_json(loc: Location, base: str, rel: str) -> dict[str, Any]:
    try:
        return dict(json.loads(loc.fs.cat_file(sep_join(loc, base, rel))))
    except (OSError, ValueError) as exc:
        where = loc.to_url(sep_join(loc, base, rel))
        log.warning("corrupt Zarr metadata %s (%s): its totals may be incomplete", where, exc)
        return {}


def _arrays(loc: Location, base: str, metas: list[str]) -> tuple[dict[str, dict[str, Any]], int]:
    """Array name → metadata (shape, dtype), from consolidated metadata when present."""
    if any(paths.basename(m) == "zarr.json" for m in metas):  # v3, maybe without its root yet
        root = _read_json(loc, base, "zarr.json") if "zarr.json" in metas else {}
        consolidated = (root.get("consolidated_metadata") or {}).get("metadata") or {}
        if root.get("node_type") == "array":
            return {"": root}, 3
        if consolidated:
            return {k: v for k, v in consolidated.items() if v.get("node_type") == "array"}, 3
        found = {}
        for m in metas:
            if paths.basename(m) == "zarr.json" and m != "zarr.json":
                meta = _read_json(loc, base, m)
                if meta.get("node_type") == "array":
                    found[paths.parent(m)] = meta
        return found, 3
    if ".zmetadata" in metas:
        consolidated = _read_json(loc, base, ".zmetadata").get("metadata", {})
        return {
            paths.parent(k): v for k, v in consolidated.items() if paths.basename(k) == ".zarray"
        }, 2
    found = {paths.parent(m): _read_json(loc, base, m) for m in metas if m.endswith(".zarray")}
    return found, 2


def _nbytes(meta: dict[str, Any]) -> int:
    shape = meta.get("shape") or []
    dtype = meta.get("dtype", meta.get("data_type"))
    if isinstance(dtype, dict):
        dtype = dtype.get("name")
    import numpy as np  # only here: numpy costs ~0.1 s of CLI start-up

    try:
        itemsize = np.dtype(dtype).itemsize if dtype is not None else 0
    except TypeError:
        itemsize = 0
    if isinstance(dtype, str) and dtype in ("string", "bytes", "variable_length_utf8"):
        itemsize = 0
    return int(math.prod(shape)) * itemsize
