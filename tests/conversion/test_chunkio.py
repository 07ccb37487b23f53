"""Chunks encoded outside zarr are byte for byte what zarr writes; all-fill chunks are not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from jasmin_access.conversion.chunkio import ChunkEncoder
from jasmin_access.conversion.encoding import compressors_for

SHAPE, CHUNKS = (5, 7, 9), (2, 3, 4)


def _array(path: Path, fmt: int, dtype: str) -> Any:
    return zarr.create_array(
        zarr.storage.LocalStore(path),
        shape=SHAPE,
        chunks=CHUNKS,
        dtype=dtype,
        fill_value=np.nan if dtype.startswith("f") else -1,
        zarr_format=fmt,  # type: ignore[arg-type]
        compressors=compressors_for(np.dtype(dtype), "zstd", fmt, None),
    )


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("dtype", ["f4", "i2"])
def test_encoded_chunks_equal_zarr_objects(tmp_path: Path, fmt: int, dtype: str) -> None:
    arr = _array(tmp_path / "a.zarr", fmt, dtype)
    values = np.random.default_rng(3).normal(size=SHAPE).astype(dtype)
    arr[...] = values
    encoder = ChunkEncoder(arr)
    store = tmp_path / "a.zarr"
    blocks = [(0, 0, 0), (2, 1, 2), (4, 6, 8)]  # interior, edge on every axis
    for block in blocks:
        sel = tuple(
            slice(b // c * c, min(b // c * c + c, n))
            for b, c, n in zip(block, CHUNKS, SHAPE, strict=True)
        )
        chunk = encoder.encode(sel, values[sel])
        assert chunk.data is not None
        assert chunk.data == (store / chunk.key).read_bytes()


def test_all_fill_chunk_is_not_stored(tmp_path: Path) -> None:
    arr = _array(tmp_path / "f.zarr", 3, "f4")
    encoder = ChunkEncoder(arr)
    sel = (slice(4, 5), slice(6, 7), slice(8, 9))  # an edge chunk, padded with the fill value
    assert encoder.encode(sel, np.full((1, 1, 1), np.nan, "f4")).data is None
    stored = encoder.encode(sel, np.zeros((1, 1, 1), "f4"))
    assert stored.data is not None and stored.key.endswith("2/2/2")


@pytest.mark.parametrize("dtype", ["f4", "i2"])
def test_chunk_equal_to_fill_only_where_probed_is_stored(tmp_path: Path, dtype: str) -> None:
    arr = _array(tmp_path / "p.zarr", 3, dtype)
    fill = np.nan if dtype == "f4" else -1
    encoder = ChunkEncoder(arr)
    sel = (slice(0, 2), slice(0, 3), slice(0, 4))  # a whole interior chunk
    assert encoder.encode(sel, np.full(CHUNKS, fill, dtype)).data is None
    values = np.full(CHUNKS, fill, dtype)
    values[0, 1, 1] = 7  # neither the first, middle nor last value
    chunk = encoder.encode(sel, values)
    assert chunk.data is not None
    (tmp_path / "p.zarr" / chunk.key).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "p.zarr" / chunk.key).write_bytes(chunk.data)
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "p.zarr")[sel], values)
