"""Time chunks and dates decoded without numpy, numcodecs or cftime agree with those libraries.

Chunks are written by zarr itself (both formats, several codecs, dtypes and byte
orders) and read back from disk; dates are compared with ``cftime.num2date``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cftime
import numpy as np
import pytest
import zarr
from numcodecs import GZip, Zlib, Zstd
from zarr.codecs import BloscCodec, BytesCodec, GzipCodec, ZstdCodec

from jasmin_access.reading import lighttime

VALUES = np.array([0.0, 15.5, 45.0, 74.5, 105.0, 135.5, 166.0], dtype="f8") + 23376.0


def _v3(tmp_path: Path, dtype: str, codecs: list[Any]) -> tuple[dict[str, Any], bytes]:
    root = tmp_path / f"v3-{len(list(tmp_path.iterdir()))}.zarr"
    arr = zarr.create_array(
        str(root), shape=(len(VALUES),), chunks=(4,), dtype=dtype, serializer=codecs[0],
        compressors=codecs[1:], fill_value=0,
    )  # fmt: skip
    arr[:] = VALUES.astype(dtype)
    meta = json.loads((root / "zarr.json").read_text())
    return meta, (root / "c" / "1").read_bytes()


def _v2(tmp_path: Path, dtype: str, compressor: Any) -> tuple[dict[str, Any], bytes]:
    root = tmp_path / "v2.zarr"
    arr = zarr.create_array(
        str(root), shape=(len(VALUES),), chunks=(4,), dtype=dtype, zarr_format=2,
        compressors=compressor, fill_value=0,
    )  # fmt: skip
    arr[:] = VALUES.astype(dtype)
    meta = json.loads((root / ".zarray").read_text())
    return meta, (root / "1").read_bytes()


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "uint16"])
@pytest.mark.parametrize("endian", ["little", "big"])
@pytest.mark.parametrize("compressor", [None, ZstdCodec(level=3), GzipCodec(level=5)])
def test_v3_chunks_decode_as_zarr_reads_them(
    tmp_path: Path, dtype: str, endian: str, compressor: Any
) -> None:
    codecs = [BytesCodec(endian=endian), *([compressor] if compressor else [])]
    meta, raw = _v3(tmp_path, dtype, codecs)
    expected = VALUES[4:].astype(dtype).tolist()
    got = lighttime.chunk_values(meta, raw, 4)
    assert got is not None
    assert got[: len(expected)] == expected


@pytest.mark.parametrize("dtype", ["<f8", ">f8", "<i4", ">u8", "<f4"])
@pytest.mark.parametrize("compressor", [None, Zstd(level=1), GZip(level=1), Zlib(level=1)])
def test_v2_chunks_decode_as_zarr_reads_them(tmp_path: Path, dtype: str, compressor: Any) -> None:
    meta, raw = _v2(tmp_path, dtype, compressor)
    got = lighttime.chunk_values(meta, raw, 4)
    assert got is not None
    assert got[:3] == VALUES[4:].astype(dtype).tolist()


def test_other_codecs_are_left_to_numcodecs(tmp_path: Path) -> None:
    meta, raw = _v3(tmp_path, "float64", [BytesCodec(), BloscCodec()])
    assert lighttime.chunk_values(meta, raw, 4) is None
    meta, raw = _v3(tmp_path, "float64", [BytesCodec(), ZstdCodec()])
    assert lighttime.chunk_values(meta, raw[:-3], 4) is None  # cut short: numcodecs says so
    assert lighttime.chunk_values({**meta, "data_type": "complex128"}, raw, 4) is None


UNITS = [
    "days since 1900-01-01",
    "days since 1950-01-01 00:00:00",
    "hours since 1976-01-01T06:00:00Z",
    "seconds since 1970-01-01 00:00:00.0",
    "minutes since 2000-1-1 0:0:0",
]
OFFSETS = [0, 1, 0.5, 0.25, 45.125, 36524.75, 1e6, -3.5, 7]


@pytest.mark.parametrize("units", UNITS)
@pytest.mark.parametrize("calendar", ["standard", "gregorian", "proleptic_gregorian"])
def test_dates_are_cftimes(units: str, calendar: str) -> None:
    for first, last in zip(OFFSETS, reversed(OFFSETS), strict=True):
        shown = lighttime.dates([first, np.float64(last)], units, calendar)
        expected = [str(d) for d in cftime.num2date([first, last], units, calendar)]
        if shown is None:  # only where microseconds outgrow a float's exact integers
            scale = {"days": 86400e6, "hours": 3600e6, "minutes": 60e6, "seconds": 1e6}
            assert max(abs(first), abs(last)) * scale[units.split()[0]] > 2**53, (first, last)
        else:
            assert shown == expected, (first, last)
    assert lighttime.dates([0, 16.5], units, calendar) is not None


@pytest.mark.parametrize(
    ("values", "units", "calendar"),
    [
        ([0, 1], "days since 1976-01-01", "noleap"),
        ([0, 1], "days since 1976-01-01", "360_day"),
        ([0, 1], "days since 1500-01-01", "standard"),  # the Julian part of the calendar
        ([0, 0.1], "days since 1976-01-01", "standard"),  # not whole microseconds
        ([0, float("nan")], "days since 1976-01-01", "standard"),
        ([0, 1], "months since 1976-01-01", "standard"),
        ([0, 1], "days since 1976-01-01 00:00:00 +05:00", "standard"),
        ([0, 1], "Days since 1976-01-01", "standard"),
    ],
)
def test_other_dates_are_left_to_cftime(values: list[float], units: str, calendar: str) -> None:
    assert lighttime.dates(values, units, calendar) is None
