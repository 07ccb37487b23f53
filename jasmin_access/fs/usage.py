"""``du``: bytes and object counts per prefix, with Zarr stores counted as one unit.

Listing streams page by page and is aggregated as pages arrive, so client
memory grows with the number of directories shown, not with the number of keys.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .. import paths
from ..errors import translating
from ..stores import Location
from ..zarrkeys import METADATA_NAMES, STORE_MARKERS
from ._backend import head, locate, sep_join, walk_pages
from .listing import _missing
from .records import Records, Usage, ZarrSummary

__all__ = ["ZARR_METADATA", "du"]

log = logging.getLogger(__name__)

ZARR_METADATA = METADATA_NAMES
_STORE_MARKERS = STORE_MARKERS


@dataclass
class _Tally:
    """Running totals while a listing streams."""

    depth: int | None
    expand: bool
    dirs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    total: list[int] = field(default_factory=lambda: [0, 0, 0])
    metadata: list[str] = field(default_factory=list)

    def add(self, rel: str, size: int) -> None:
        parts = rel.split("/")
        name = parts[-1]
        meta = 1 if name in ZARR_METADATA else 0
        if meta:
            self.metadata.append(rel)
        self.total[0] += size
        self.total[1] += 1
        self.total[2] += meta
        levels = len(parts) - 1
        if not self.expand and "c" in parts[:-1]:
            i = parts.index("c")
            if all(p.isdigit() for p in parts[i + 1 : -1]):
                levels = i  # a v3 chunk key: no rows for the chunk-grid directories
        if self.depth is not None:
            levels = min(levels, self.depth)
        key = ""
        for part in parts[:levels]:
            key = f"{key}/{part}" if key else part
            row = self.dirs[key]
            row[0] += size
            row[1] += 1
            row[2] += meta


def du(
    url: str,
    *,
    depth: int | None = None,
    summarize: bool = False,
    expand: bool = False,
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

    Returns
    -------
    Records[Usage]
        Rows sorted by path; the total for ``url`` comes last.
    """
    loc = locate(url, profile=profile, endpoint_url=endpoint_url, anon=anon)
    tally = _Tally(depth=0 if summarize else depth, expand=expand)
    with translating("listing", loc.url, loc.profile_name):
        base = loc.path.rstrip("/")
        cut = len(base) + 1
        for page in walk_pages(loc, base):
            for obj in page:
                tally.add(obj.path[cut:], obj.size)
        if tally.total[1] == 0:
            obj = head(loc, base)
            if obj is not None:
                return Records([Usage(loc.url, obj.size, 1, type="file")])
            if loc.key:
                raise _missing(loc)
        return Records(_rows(loc, tally, summarize, expand))


def _rows(loc: Location, tally: _Tally, summarize: bool, expand: bool) -> list[Usage]:
    stores = {paths.parent(m) for m in tally.metadata if paths.basename(m) in _STORE_MARKERS}
    top = {s for s in stores if not any(_inside(o, s) for o in stores if o != s)}
    total = Usage(paths.as_dir(loc.url) if loc.key else loc.url, tally.total[0], tally.total[1])
    if "" in top:
        total.type, total.zarr = "zarr", _summary(loc, "", tally, tally.total)
        top = {""}
    if summarize:
        return [total]
    rows: list[Usage] = []
    for rel, (nbytes, nobj, _meta) in tally.dirs.items():
        if not expand and any(_inside(t, rel) and t != rel for t in top):
            continue
        row = Usage(paths.as_dir(_url(loc, rel)), nbytes, nobj)
        if rel in top:
            row.type, row.zarr = "zarr", _summary(loc, rel, tally, tally.dirs[rel])
        rows.append(row)
    rows.sort(key=lambda r: paths.natural_key(r.path))
    return [*rows, total]


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


def _zarr_document(loc: Location, base: str, rel: str) -> dict[str, Any]:
    try:
        return loc.backend.read_json(sep_join(loc, base, rel)) or {}
    except (OSError, ValueError) as exc:
        where = loc.to_url(sep_join(loc, base, rel))
        log.warning("corrupt Zarr metadata %s (%s): its totals may be incomplete", where, exc)
        return {}


def _arrays(loc: Location, base: str, metas: list[str]) -> tuple[dict[str, dict[str, Any]], int]:
    """Array name → metadata (shape, dtype), from consolidated metadata when present."""
    if "zarr.json" in metas:
        root = _zarr_document(loc, base, "zarr.json")
        consolidated = (root.get("consolidated_metadata") or {}).get("metadata") or {}
        if root.get("node_type") == "array":
            return {"": root}, 3
        if consolidated:
            return {k: v for k, v in consolidated.items() if v.get("node_type") == "array"}, 3
        found = {}
        for m in metas:
            if paths.basename(m) == "zarr.json" and m != "zarr.json":
                meta = _zarr_document(loc, base, m)
                if meta.get("node_type") == "array":
                    found[paths.parent(m)] = meta
        return found, 3
    if ".zmetadata" in metas:
        consolidated = _zarr_document(loc, base, ".zmetadata").get("metadata", {})
        return {
            paths.parent(k): v for k, v in consolidated.items() if paths.basename(k) == ".zarray"
        }, 2
    found = {paths.parent(m): _zarr_document(loc, base, m) for m in metas if m.endswith(".zarray")}
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
