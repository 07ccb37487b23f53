"""A time coordinate's chunk values and dates without numpy, numcodecs or cftime.

``info`` of a store that carries no time-coverage attributes reads the first
and last chunk of its time coordinate and shows two dates.  Importing numpy,
numcodecs and cftime for that costs about 0.25 CPU-seconds, more than the rest
of the command.  The encodings and calendars nearly every store uses are
handled here with the standard library and ``zstandard``:

- chunks of little- or big-endian integers or floats, stored raw or through
  zstd, gzip or zlib (Zarr v3 ``bytes`` codec plus at most one of these; Zarr v2
  with at most one compressor and no filters);
- dates in the ``standard``, ``gregorian`` and ``proleptic_gregorian``
  calendars from 1583 on (where all three agree with :mod:`datetime`), with
  units such as ``days since 1900-01-01 00:00:00`` and offsets of whole
  microseconds, so that no rounding is involved.

Everything else returns None and the caller decodes with numcodecs and
cftime, which give the same values and dates wherever both apply.
"""

from __future__ import annotations

import gzip
import re
import struct
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

__all__ = ["chunk_values", "dates"]

_V3_FORMATS = {
    "int8": "b", "int16": "h", "int32": "i", "int64": "q", "uint8": "B", "uint16": "H",
    "uint32": "I", "uint64": "Q", "float32": "f", "float64": "d",
}  # fmt: skip
_V2_FORMATS = {
    "i1": "b", "i2": "h", "i4": "i", "i8": "q", "u1": "B", "u2": "H", "u4": "I", "u8": "Q",
    "f4": "f", "f8": "d",
}  # fmt: skip
_MICROSECONDS = {
    "days": 86_400_000_000, "day": 86_400_000_000, "hours": 3_600_000_000,
    "hour": 3_600_000_000, "minutes": 60_000_000, "minute": 60_000_000,
    "seconds": 1_000_000, "second": 1_000_000,
}  # fmt: skip
_CALENDARS = frozenset({"standard", "gregorian", "proleptic_gregorian"})
_UNITS = re.compile(
    r"^([a-z]+) since (\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.0+)?)?)?(?:Z| UTC)?$"
)
_FIRST_YEAR = 1583  # the first whole year of the Gregorian calendar: no Julian days before it
_EXACT = 2**53  # beyond this many microseconds a float offset no longer holds whole ones


def _zstd(data: bytes, size: int) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().decompress(data, max_output_size=size)


_INFLATE: dict[str, Callable[[bytes, int], bytes]] = {
    "zstd": _zstd,
    "gzip": lambda data, _size: gzip.decompress(data),
    "zlib": lambda data, _size: zlib.decompress(data),
}


def _layout(meta: dict[str, Any]) -> tuple[str, str | None] | None:
    """``(struct format, compressor id or None)`` of a chunk, or None when not handled."""
    if "codecs" in meta:  # v3: the bytes codec, then at most one compressor
        codecs = list(meta.get("codecs") or [])
        head = codecs.pop(0) if codecs and isinstance(codecs[0], dict) else {}
        fmt = _V3_FORMATS.get(str(meta.get("data_type")))
        if head.get("name") != "bytes" or fmt is None or len(codecs) > 1:
            return None
        endian = (head.get("configuration") or {}).get("endian", "little")
        order = {"little": "<", "big": ">"}.get(endian)
        name = codecs[0].get("name") if codecs and isinstance(codecs[0], dict) else None
        if order is None or (codecs and name not in _INFLATE):
            return None
        return order + fmt, name
    dtype = str(meta.get("dtype"))
    fmt = _V2_FORMATS.get(dtype[1:])
    compressor = meta.get("compressor")
    name = compressor.get("id") if isinstance(compressor, dict) else None
    if dtype[:1] not in "<>|" or fmt is None or meta.get("filters"):
        return None
    if compressor is not None and name not in _INFLATE:
        return None
    return ("<" if dtype[0] == "|" else dtype[0]) + fmt, name


def chunk_values(meta: dict[str, Any], raw: bytes, count: int) -> list[int | float] | None:
    """The ``count`` values of one chunk of a 1-D array; None when numcodecs must decode it.

    Parameters
    ----------
    meta
        The array's metadata document (Zarr v2 ``.zarray`` or v3 ``zarr.json``).
    raw
        The chunk as stored.
    count
        Values in a chunk (the chunk shape).
    """
    layout = _layout(meta)
    if layout is None:
        return None
    fmt, compressor = layout
    size = struct.calcsize(f"{fmt[0]}{count}{fmt[1]}")
    try:
        data = raw if compressor is None else _INFLATE[compressor](raw, size)
    except Exception:  # a damaged chunk: numcodecs names the damage
        return None
    if len(data) != size:
        return None
    return list(struct.unpack(f"{fmt[0]}{count}{fmt[1]}", data))


def _plain(value: Any) -> int | float:
    """A numpy scalar (from numcodecs) as a Python number: Fraction would keep its width."""
    return value.item() if hasattr(value, "item") else value


def dates(values: Sequence[int | float], units: str, calendar: str) -> list[str] | None:
    """The dates of ``values`` as cftime prints them; None when cftime must work them out.

    Parameters
    ----------
    values
        Offsets from the reference date of ``units``.
    units
        CF time units (``"days since 1976-01-01 00:00:00"``).
    calendar
        CF calendar name.
    """
    found = _UNITS.match(units.strip())
    if calendar not in _CALENDARS or found is None or found.group(1) not in _MICROSECONDS:
        return None
    year, month, day = (int(found.group(i)) for i in (2, 3, 4))
    hour, minute, second = (int(found.group(i) or 0) for i in (5, 6, 7))
    factor = _MICROSECONDS[found.group(1)]
    try:
        base = datetime(year, month, day, hour, minute, second)
        offsets = [Fraction(_plain(v)) * factor for v in values]
        if any(o.denominator != 1 or abs(o) >= _EXACT for o in offsets):
            return None
        out = [base + timedelta(microseconds=int(o)) for o in offsets]
    except (ValueError, OverflowError):  # no such date, NaN or infinite values
        return None
    if calendar != "proleptic_gregorian" and min([base, *out]).year < _FIRST_YEAR:
        return None
    if min([base, *out]).year < 1000:  # cftime and datetime pad years alike only from 1000
        return None
    return [str(d) for d in out]
