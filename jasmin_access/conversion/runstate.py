"""The scan of a conversion, kept in the destination's run state.

A conversion writes its scan (:class:`~jasmin_access.conversion.scan.Inventory`)
to ``.jasmin-access/scan.json`` next to the in-progress marker, before any
data.  A resumed run whose sources (names, sizes, modification times, in the
order given, and ETags where the store gives them) and scan options are the
same reads it back instead of opening every source again; a changed source
changes the key, and the sources are scanned again.  ``append`` keeps its scan
the same way, and ``convert --verify`` hands its scan to the verification.
The object is plain JSON: arrays and numpy scalars are kept exactly (dtype
and bytes), nothing in it is executed when it is read.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any

import numpy as np
from numpy.lib.format import descr_to_dtype, dtype_to_descr

from ..zarrkeys import SCAN
from .scan import FileRecord, GroupInventory, Inventory, VarInfo
from .sourcerefs import SourceRef, as_source_list

__all__ = [
    "SCAN",
    "kept_scan",
    "load_scan",
    "options_key",
    "save_scan",
    "scan_key",
    "store_records",
]

log = logging.getLogger(__name__)

_VERSION = 3


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, default=str).encode()).hexdigest()[:24]


def _stamp(ref: SourceRef) -> list[Any]:
    return [ref.url, ref.size, ref.mtime, ref.etag]


def options_key(scan_options: dict[str, Any]) -> str:
    """What a scan depends on besides the sources: its options."""
    options = {k: v for k, v in sorted(scan_options.items()) if v not in (None, [], {})}
    return _digest({"version": _VERSION, "options": options})


def scan_key(refs: list[SourceRef], scan_options: dict[str, Any]) -> str:
    """What a scan depends on: the sources as given (size, time, ETag) and the scan's options."""
    return _digest({"sources": [_stamp(r) for r in refs], "options": options_key(scan_options)})


# --------------------------------------------------------------------------- exact JSON


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _descr(dtype: np.dtype[Any]) -> Any:
    return dtype_to_descr(dtype)


def _dtype(descr: Any) -> np.dtype[Any]:
    if isinstance(descr, list):
        descr = [tuple(f) for f in descr]
    return descr_to_dtype(descr)


def encode(value: Any) -> Any:
    """A JSON-able form of attribute values, arrays and containers (see :func:`decode`)."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return {"__a__": "O", "shape": list(value.shape),
                    "items": [encode(v) for v in value.ravel().tolist()]}  # fmt: skip
        data = _b64(np.ascontiguousarray(value).tobytes())
        return {"__a__": _descr(value.dtype), "shape": list(value.shape), "b64": data}
    if isinstance(value, np.generic):
        return {"__s__": _descr(value.dtype), "b64": _b64(value.tobytes())}
    if isinstance(value, bytes):
        return {"__b__": _b64(value)}
    if isinstance(value, dict):
        return {"__d__": [[str(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return {"__l__": [encode(v) for v in value], "tuple": isinstance(value, tuple)}
    if isinstance(value, float) and not np.isfinite(value):
        return {"__f__": repr(value)}
    return value


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`."""
    if not isinstance(value, dict):
        return value
    if "__a__" in value:
        shape = tuple(value["shape"])
        if value["__a__"] == "O":
            items = [decode(v) for v in value["items"]]
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(shape)
        dtype = _dtype(value["__a__"])
        return np.frombuffer(base64.b64decode(value["b64"]), dtype=dtype).reshape(shape).copy()
    if "__s__" in value:
        return np.frombuffer(base64.b64decode(value["b64"]), dtype=_dtype(value["__s__"]))[0]
    if "__b__" in value:
        return base64.b64decode(value["__b__"])
    if "__d__" in value:
        return {k: decode(v) for k, v in value["__d__"]}
    if "__l__" in value:
        items = [decode(v) for v in value["__l__"]]
        return tuple(items) if value["tuple"] else items
    if "__f__" in value:
        return float(value["__f__"])
    raise ValueError(f"unknown encoded value {sorted(value)}")


def _group(inv: GroupInventory) -> dict[str, Any]:
    variables = [
        [v.name, list(v.dims), list(v.shape), _descr(v.dtype), encode(v.attrs)]
        for v in inv.variables.values()
    ]
    return {
        "path": inv.path,
        "record_dim": inv.record_dim,
        "counts": [int(c) for c in inv.counts],
        "variables": variables,
        "attrs": encode(inv.attrs),
        "units": inv.units,
        "calendars": inv.calendars,
        "record_values": encode(inv.record_values),
        "time_name": inv.time_name,
        "time_values": encode(inv.time_values),
        "raw": {n: encode(v) for n, v in inv.raw.items()},
    }


def _ungroup(data: dict[str, Any]) -> GroupInventory:
    variables = {
        name: VarInfo(name, tuple(dims), tuple(shape), _dtype(descr), decode(attrs))
        for name, dims, shape, descr, attrs in data["variables"]
    }
    return GroupInventory(
        path=data["path"],
        record_dim=data["record_dim"],
        counts=list(data["counts"]),
        variables=variables,
        attrs=decode(data["attrs"]),
        units=dict(data["units"]),
        calendars=dict(data["calendars"]),
        record_values=decode(data["record_values"]),
        time_name=data["time_name"],
        time_values=decode(data["time_values"]),
        raw={n: decode(v) for n, v in data.get("raw", {}).items()},
    )


# --------------------------------------------------------------------------- store


def _section(inventory: Inventory, scan_options: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "options": options_key(scan_options) if scan_options is not None else None,
        "first": inventory.first,
        "sources": [r.url for r in inventory.sources],
        "stamps": [_stamp(r)[1:] for r in inventory.sources],
        "groups": [_group(g) for g in inventory.groups.values()],
    }


def save_scan(
    fs: Any,
    root: str,
    key: str,
    inventory: Inventory,
    scan_options: dict[str, Any] | None = None,
    store: dict[str, Any] | None = None,
) -> None:
    """Write the scan into the run state of the store at ``root`` on ``fs`` (one PUT).

    With the scan's options, each source's size, time and ETag are kept too,
    so that a later scan of partly changed sources (a ``verify``, a resumed
    run) opens only the changed ones (:func:`kept_scan`).  ``store`` is the
    record of every source in the store (:func:`store_records`), kept beside
    an append's own scan.
    """
    payload = {"version": _VERSION, "key": key, **_section(inventory, scan_options)}
    if store is not None:
        payload["store"] = store
    fs.pipe_file(root.rstrip("/") + "/" + SCAN, json.dumps(payload).encode())


def store_records(
    fs: Any, root: str, appended: Inventory, scan_options: dict[str, Any]
) -> dict[str, Any] | None:
    """The records of the sources already in the store, followed by those of ``appended``.

    An ``append`` keeps these beside its own scan, so that a later ``verify``
    of the whole set opens only the first source (every other is known, as
    long as it is unchanged).  They keep the options and first source of the
    conversion that made the store.  None when the store keeps no scan, or one
    of other groups.
    """
    data = _read(fs, root)
    if data is None:
        return None
    base = data.get("store") or data
    # the append names the store's record dimension and time variable itself (the
    # conversion may have left them to be found); the selection must be the same
    named = [{}, {"concat_dim": None}, {"time_variable": None}]
    named.append({**named[1], **named[2]})
    if base.get("options") not in {options_key({**scan_options, **n}) for n in named}:
        log.info("not merging a saved scan made with another selection of variables")
        return None
    new = _section(appended, scan_options)
    try:
        old_groups = [_ungroup(g) for g in base["groups"]]
        new_groups = [_ungroup(g) for g in new["groups"]]
        if [g.path for g in old_groups] != [g.path for g in new_groups]:
            return None
        appended_urls = set(new["sources"])
        entries = [e for e in _entries(base, old_groups) if e[0] not in appended_urls]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        log.info("not merging an unreadable saved scan (%s)", exc)
        return None
    entries += _entries(new, new_groups)
    groups = [_merged_group(g, [e[2] for e in entries]) for g in old_groups]
    return {
        "options": base.get("options"),
        "first": base.get("first"),
        "sources": [e[0] for e in entries],
        "stamps": [e[1] for e in entries],
        "groups": [_group(g) for g in groups],
    }


def _entries(
    section: dict[str, Any], groups: list[GroupInventory]
) -> list[tuple[str, list[Any], FileRecord]]:
    """``(url, stamp, record)`` of each source a kept scan describes."""
    out = []
    for i, (url, stamp) in enumerate(zip(section["sources"], section["stamps"], strict=True)):
        spans = {g.path: slice(int(g.offsets[i]), int(g.offsets[i + 1])) for g in groups}
        record = FileRecord(
            counts={g.path: int(g.counts[i]) for g in groups},
            units={g.path: {n: u[i] for n, u in g.units.items()} for g in groups},
            values={g.path: {n: v[spans[g.path]] for n, v in g.raw.items()} for g in groups},
        )
        out.append((url, stamp, record))
    return out


def _merged_group(template: GroupInventory, records: list[FileRecord]) -> GroupInventory:
    """``template``'s description with the steps, units and record values of ``records``."""
    p = template.path
    raw = {
        n: np.concatenate([np.asarray(r.values[p][n]) for r in records])
        for n in template.raw
        if all(n in r.values[p] for r in records)
    }
    return GroupInventory(
        path=p,
        record_dim=template.record_dim,
        counts=[r.counts[p] for r in records],
        variables=template.variables,
        attrs=template.attrs,
        units={n: [r.units[p].get(n) for r in records] for n in template.units},
        calendars=template.calendars,
        time_name=template.time_name,
        raw=raw,
    )


def _read(fs: Any, root: str) -> dict[str, Any] | None:
    try:
        data = json.loads(fs.cat_file(root.rstrip("/") + "/" + SCAN))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError as exc:
        log.info("ignoring an unreadable saved scan (%s)", exc)
        return None
    return data if isinstance(data, dict) and data.get("version") == _VERSION else None


def _whole(data: dict[str, Any], key: str, refs: list[SourceRef]) -> Inventory | None:
    if data.get("key") != key:
        return None
    by_url = {r.url: r for r in refs}
    try:
        sources = as_source_list([by_url[u] for u in data["sources"]])
        groups = [_ungroup(g) for g in data["groups"]]
    except (KeyError, TypeError, ValueError) as exc:
        log.info("ignoring a saved scan that does not fit (%s)", exc)
        return None
    log.debug("using the scan kept with the store (%d sources)", len(sources))
    first = str(data.get("first") or "")
    return Inventory(sources, {g.path: g for g in groups}, key=key, cached=True, first=first)


def _records(data: dict[str, Any], refs: list[SourceRef], options: str) -> dict[str, FileRecord]:
    """Records of the kept sources that are unchanged (same size, time and ETag).

    From the store's records (kept by an append) when they fit, else from the scan itself.
    """
    store = data.get("store")
    found = _fitting(store, refs, options) if isinstance(store, dict) else {}
    return found or _fitting(data, refs, options)


def _fitting(section: dict[str, Any], refs: list[SourceRef], options: str) -> dict[str, FileRecord]:
    """Records of ``section`` unchanged since, when it was made with the same options and first."""
    now = {r.url: _stamp(r)[1:] for r in refs}
    if section.get("options") != options or not refs or section.get("first") != refs[0].url:
        return {}
    urls, stamps = section["sources"], section["stamps"]
    first = urls.index(refs[0].url) if refs[0].url in urls else -1
    if first < 0 or stamps[first] != now[refs[0].url]:  # others were checked against it
        return {}
    groups = [_ungroup(g) for g in section["groups"]]
    return {url: rec for url, stamp, rec in _entries(section, groups) if now.get(url) == stamp}


def kept_scan(
    fs: Any, root: str, refs: list[SourceRef], scan_options: dict[str, Any]
) -> tuple[Inventory | None, dict[str, FileRecord]]:
    """The scan kept at a store: whole when nothing changed, else the unchanged sources' records.

    Parameters
    ----------
    fs, root
        Filesystem and root path of the destination store.
    refs
        This run's sources.
    scan_options
        This run's scan options (a scan made with other options is not used).

    Returns
    -------
    tuple
        The whole inventory (None unless sources and options are the same)
        and, when it is None, the records of the sources unchanged since
        (empty when the first source changed: every other was checked against it).
    """
    data = _read(fs, root)
    if data is None:
        return None, {}
    whole = _whole(data, scan_key(refs, scan_options), refs)
    if whole is not None:
        return whole, {}
    try:
        return None, _records(data, refs, options_key(scan_options))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        log.info("ignoring a saved scan that does not fit (%s)", exc)
        return None, {}


def load_scan(fs: Any, root: str, key: str, refs: list[SourceRef]) -> Inventory | None:
    """The scan a previous run of the same sources and options left, or None.

    Parameters
    ----------
    fs, root
        Filesystem and root path of the destination store.
    key
        :func:`scan_key` of this run.
    refs
        This run's sources (the scan keeps only their names).
    """
    data = _read(fs, root)
    return _whole(data, key, refs) if data is not None else None
