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
from .scan import GroupInventory, Inventory, VarInfo
from .sources import SourceRef

__all__ = ["SCAN", "load_scan", "save_scan", "scan_key"]

log = logging.getLogger(__name__)

_VERSION = 2


def scan_key(refs: list[SourceRef], scan_options: dict[str, Any]) -> str:
    """What a scan depends on: the sources as given (size, time, ETag) and the scan's options."""
    payload = {
        "version": _VERSION,
        "sources": [[r.url, r.size, r.mtime, r.etag] for r in refs],
        "options": {k: v for k, v in sorted(scan_options.items()) if v not in (None, [], {})},
    }
    return hashlib.sha256(json.dumps(payload, default=str).encode()).hexdigest()[:24]


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
    )


# --------------------------------------------------------------------------- store


def save_scan(fs: Any, root: str, key: str, inventory: Inventory) -> None:
    """Write the scan into the run state of the store at ``root`` on ``fs`` (one PUT)."""
    payload = {
        "version": _VERSION,
        "key": key,
        "sources": [r.url for r in inventory.sources],
        "groups": [_group(g) for g in inventory.groups.values()],
    }
    fs.pipe_file(root.rstrip("/") + "/" + SCAN, json.dumps(payload).encode())


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
    try:
        data = json.loads(fs.cat_file(root.rstrip("/") + "/" + SCAN))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError as exc:
        log.info("ignoring an unreadable saved scan (%s)", exc)
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    by_url = {r.url: r for r in refs}
    try:
        sources = [by_url[u] for u in data["sources"]]
        groups = [_ungroup(g) for g in data["groups"]]
    except (KeyError, TypeError, ValueError) as exc:
        log.info("ignoring a saved scan that does not fit (%s)", exc)
        return None
    log.info("resuming with the saved scan of %d sources", len(sources))
    return Inventory(sources, {g.path: g for g in groups}, key=key, cached=True)
