"""Chunk-by-chunk reads return exactly what zarr returns, for any basic selection."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import zarr

from jasmin_access.reading.chunkread import (
    ZarrChunkArray,
    _mask_values,
    chunk_reader,
    read_by_chunks,
)

SHAPE, CHUNKS = (7, 9, 11), (3, 4, 5)


def _array(path: Path, fmt: int, dtype: str = "f4") -> Any:
    arr = zarr.create_array(
        zarr.storage.LocalStore(path),
        shape=SHAPE,
        chunks=CHUNKS,
        dtype=dtype,
        fill_value=-9,
        zarr_format=fmt,  # type: ignore[arg-type]
    )
    values = np.arange(np.prod(SHAPE)).reshape(SHAPE).astype(dtype)
    values[3:6, 4:8, 5:10] = -9  # one whole chunk equal to the fill value: never stored
    arr[...] = values
    return arr


@pytest.mark.parametrize(
    "key",
    [
        (slice(None), slice(None), slice(None)),
        (slice(2, 6), slice(1, 9), slice(4, 11)),  # across chunks, to the edges
        (4, slice(None, None, 3), slice(10, 2, -2)),  # an integer, steps, reversed
        (-1, -2, slice(-4, None)),
        (slice(5, 5), slice(None), 0),  # empty
    ],
)
def test_selections_equal_zarr(tmp_path: Path, key: tuple[Any, ...]) -> None:
    arr = _array(tmp_path / "a.zarr", 3)
    reader = chunk_reader(arr)
    assert reader is not None
    got = ZarrChunkArray(arr, reader)._getitem(key)
    np.testing.assert_array_equal(got, arr[...][key])  # zarr has no negative steps
    assert got.dtype == arr.dtype


def test_missing_chunk_reads_as_fill_and_mask_turns_it_to_nan(tmp_path: Path) -> None:
    arr = _array(tmp_path / "m.zarr", 3)
    assert not (tmp_path / "m.zarr" / "c" / "1" / "1" / "1").exists()
    reader = chunk_reader(arr, mask=(-9.0,))
    assert reader is not None
    got = reader.read((slice(0, 7), slice(0, 9), slice(0, 11)))
    want = arr[...].astype("f4")
    want[want == -9] = np.nan
    np.testing.assert_array_equal(got, want)


def test_arrays_zarr_must_read_get_no_reader(tmp_path: Path) -> None:
    store = zarr.storage.LocalStore(tmp_path / "s.zarr")
    sharded = zarr.create_array(store, name="s", shape=(8, 8), chunks=(2, 2), shards=(4, 4),
                                dtype="f4")  # fmt: skip
    strings = zarr.create_array(store, name="t", shape=(3,), dtype=str)
    assert chunk_reader(sharded) is None and chunk_reader(strings) is None
    v2 = _array(tmp_path / "v2.zarr", 2)  # v2 codecs decode only asynchronously in zarr
    assert chunk_reader(v2) is None


def test_backend_array_pickles(tmp_path: Path) -> None:
    arr = _array(tmp_path / "p.zarr", 3)
    reader = chunk_reader(arr, mask=(-9.0,))
    assert reader is not None
    copy = pickle.loads(pickle.dumps(ZarrChunkArray(arr, reader)))
    key = (slice(0, 7), slice(0, 9), slice(0, 11))
    np.testing.assert_array_equal(copy._getitem(key), reader.read(key))
    assert copy.reader.mask == (-9.0,)


def test_only_unpacked_floats_are_masked_while_decoding() -> None:
    def var(dtype: str, **attrs: Any) -> xr.Variable:
        return xr.Variable(("x",), np.zeros(3, dtype), attrs)

    fill = float(np.float32(1e20))
    assert _mask_values(var("f4", _FillValue=np.float32(1e20), missing_value=-1)) == (fill, -1.0)
    assert _mask_values(var("f8")) == ()
    assert _mask_values(var("i2", _FillValue=-1)) is None
    assert _mask_values(var("f4", _FillValue=1e20, scale_factor=0.5)) is None


def test_read_by_chunks_moves_fill_values_to_encoding(tmp_path: Path) -> None:
    path = tmp_path / "d.zarr"
    values = np.array([[1.0, 1e20], [3.0, 4.0]], "f4")
    ds = xr.Dataset({"t": (("y", "x"), values, {"_FillValue": np.float32(1e20), "units": "K"})})
    ds.to_zarr(path, consolidated=True, encoding={"t": {"_FillValue": None}})
    raw = xr.open_zarr(path, decode_cf=False, chunks=None)
    out = xr.decode_cf(read_by_chunks(raw, zarr.open_group(path, mode="r")))
    assert "_FillValue" not in out.t.attrs and out.t.encoding["_FillValue"] == np.float32(1e20)
    expected = xr.open_zarr(path, chunks=None).t.values
    np.testing.assert_array_equal(out.t.values, expected)
    assert np.isnan(out.t.values[0, 1]) and out.t.attrs["units"] == "K"


def _deep(path: Path, noise: float) -> Any:
    """An array of chunks of 8 levels over a 120 x 150 grid (zstd, zarr's default)."""
    rng = np.random.default_rng(5)
    shape = (2, 8, 120, 150)
    values = np.linspace(0, 30, np.prod(shape), dtype="f4").reshape(shape)
    values += rng.normal(0, noise, shape).astype("f4")
    arr = zarr.create_array(
        zarr.storage.LocalStore(path), shape=shape, chunks=(1, 8, 120, 150), dtype="f4"
    )
    arr[...] = values
    return arr


@pytest.mark.parametrize("noise", [0.0, 1e-3, 1e6])  # compressible to incompressible
@pytest.mark.parametrize(
    "key",
    [
        (slice(None), 0, 60, 75),  # a point series at the surface: the chunks' start
        (1, 0, slice(None), slice(None)),  # one level of one step
        (slice(None), slice(0, 2), slice(3, 9), 149),
        (slice(None), 7, 119, 149),  # the chunks' last values: read whole
    ],
)
def test_chunk_starts_read_the_same_values_as_zarr(
    tmp_path: Path, noise: float, key: tuple[Any, ...]
) -> None:
    arr = _deep(tmp_path / "d.zarr", noise)
    reader = chunk_reader(arr)
    assert reader is not None and reader._prefix
    np.testing.assert_array_equal(ZarrChunkArray(arr, reader)._getitem(key), arr[...][key])


def test_a_chunk_start_short_of_the_values_is_completed(tmp_path: Path) -> None:
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    from jasmin_access.reading.chunkread import _decoder_pool
    from jasmin_access.reading.prefix import prefix_plan, read_prefix, values_from_prefix

    arr = _deep(tmp_path / "d.zarr", 1e6)
    inside = (slice(0, 1), slice(2, 3), slice(10, 11), slice(0, 150))
    plan = prefix_plan(arr.chunks, 4, inside)
    assert plan is not None
    plan.fetch = 100  # far too little: the rest of the object is read
    store = zarr.storage.LocalStore(tmp_path / "d.zarr", read_only=True)
    start = sync(read_prefix(store, "c/1/0/0/0", default_buffer_prototype(), plan, _decoder_pool()))
    assert len(start) >= plan.needed
    got = values_from_prefix(start, np.dtype("f4"), plan)
    np.testing.assert_array_equal(got, arr[1:2, 2:3, 10:11, :])
    assert sync(read_prefix(store, "c/9/0/0/0", default_buffer_prototype(), plan, None)) is None


def test_a_chunk_of_several_zstd_frames_is_read_across_them(tmp_path: Path) -> None:
    import zstandard
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    from jasmin_access.reading.chunkread import _decoder_pool
    from jasmin_access.reading.prefix import prefix_plan, read_prefix, values_from_prefix

    values = np.arange(4 * 200 * 300, dtype="f4").reshape(4, 200, 300)
    raw = values.tobytes()
    cut = 3000  # two frames, the first ending before the values asked for
    (tmp_path / "c").write_bytes(
        zstandard.ZstdCompressor().compress(raw[:cut])
        + zstandard.ZstdCompressor().compress(raw[cut:])
    )
    inside = (slice(0, 1), slice(10, 11), slice(0, 300))
    plan = prefix_plan(values.shape, 4, inside)
    assert plan is not None
    store = zarr.storage.LocalStore(tmp_path, read_only=True)
    start = sync(read_prefix(store, "c", default_buffer_prototype(), plan, _decoder_pool()))
    np.testing.assert_array_equal(values_from_prefix(start, np.dtype("f4"), plan), values[inside])


def test_datastore_versions_are_read_whole(tmp_path: Path) -> None:
    """A datastore checks each whole object's SHA-256: no chunk is read by its start there."""
    from jasmin_access.datastore.zstore import ManifestStore
    from jasmin_access.reading.cache import CachingStore, ChunkCache
    from jasmin_access.reading.chunkread import _verifies_whole_objects
    from jasmin_access.reading.zstore import MetadataStore

    local = zarr.storage.LocalStore(tmp_path, read_only=True)
    version = ManifestStore(local, manifest=None, url="s3://b/ds")  # type: ignore[arg-type]
    cache = ChunkCache(str(tmp_path / "cache"), "1MB")
    assert _verifies_whole_objects(MetadataStore(version.reading_through(lambda s: s)))
    assert _verifies_whole_objects(MetadataStore(CachingStore(version, cache, "n")))
    assert not _verifies_whole_objects(MetadataStore(CachingStore(local, cache, "n")))
    assert not _verifies_whole_objects(local)
