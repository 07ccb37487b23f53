"""The default chunk rule, parsing, shards, codecs and bit-rounding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jasmin_access.conversion.chunking import choose_chunks, choose_shards, parse_chunks
from jasmin_access.conversion.encoding import bitround, compressors_for, keep_bits_tolerance
from jasmin_access.errors import InvalidInput

T4 = ("time_counter", "deptht", "y", "x")


def test_eorca1_fields_follow_the_documented_rule() -> None:
    thetao = choose_chunks(T4, (12, 75, 331, 360), 4, "time_counter")
    assert thetao == (1, 25, 331, 360)  # whole horizontal slab, one step, ~11.9 MB
    tos = choose_chunks(T4[:1] + T4[2:], (120, 331, 360), 4, "time_counter")
    assert tos == (35, 331, 360)  # several steps up to ~16 MiB
    assert np.prod(tos) * 4 <= 16 * 2**20


def test_large_slab_splits_y_and_overrides_win() -> None:
    big = choose_chunks(("time", "y", "x"), (10, 4000, 4000), 4, "time")
    assert big[0] == 1 and big[2] == 4000 and big[1] < 4000
    assert np.prod(big) * 4 <= 16 * 2**20
    chosen = choose_chunks(T4, (12, 75, 331, 360), 4, "time_counter", overrides={"deptht": -1})
    assert chosen[:2] == (1, 75) and chosen[2] < 331  # other dims still respect the target
    assert np.prod(chosen) * 4 <= 16 * 2**20
    # a fixed dimension counts at its fixed size: 25 levels of the whole slab fit the target
    fixed = choose_chunks(T4, (12, 75, 331, 360), 4, "time_counter", overrides={"deptht": 25})
    assert fixed == (1, 25, 331, 360)
    static = choose_chunks(("y", "x"), (331, 360), 4, None)
    assert static == (331, 360)
    assert (
        choose_chunks(T4, (12, 75, 331, 360), 4, "time_counter", target_mb=4)[1] == 8
    )  # 75 levels in 10 blocks


def test_parse_chunks() -> None:
    assert parse_chunks("time_counter=1, deptht=25") == {"time_counter": 1, "deptht": 25}
    assert parse_chunks({"x": 3}) == {"x": 3}
    for bad in ("x", "x=0", "=3", "x=abc"):
        with pytest.raises(InvalidInput):
            parse_chunks(bad)


def test_shards_group_chunks_along_the_record_axis() -> None:
    chunks = (1, 25, 331, 360)
    shards = choose_shards(chunks, (12, 75, 331, 360), 4, 0, 100)
    assert shards == (8, 25, 331, 360)
    assert choose_shards(chunks, (12, 75, 331, 360), 4, 0, None) is None
    assert choose_shards((12, 331, 360), (12, 331, 360), 4, 0, 1000) is None  # one chunk only


def test_bitround_bound_and_special_values() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(10, 5, 10_000).astype("f4")
    values[:3] = [np.float32(1e20), np.nan, -np.inf]
    for bits in (3, 7, 12):
        rounded = bitround(values, bits, keep=[np.float32(1e20)])
        finite = np.isfinite(values) & (values != np.float32(1e20))
        err = np.abs(rounded[finite].astype("f8") - values[finite]) / np.abs(values[finite])
        assert err.max() <= keep_bits_tolerance(bits)
        assert rounded[0] == np.float32(1e20) and np.isnan(rounded[1]) and rounded[2] == -np.inf
        # the dropped mantissa bits are zero
        assert not (rounded[finite].view("u4") & np.uint32((1 << (23 - bits)) - 1)).any()
    ints = np.arange(5, dtype="i2")
    assert bitround(ints, 3) is ints


def test_compressors() -> None:
    v3 = compressors_for(np.dtype("f4"), "zstd", 3, None)
    assert v3[0].cname.value == "zstd" and v3[0].shuffle.value == "shuffle"
    v2 = compressors_for(np.dtype("f4"), "lz4", 2, None)
    assert v2[0].cname == "lz4"
    assert compressors_for(np.dtype("f4"), "none", 3, None) is None
    with pytest.raises(InvalidInput, match="unknown compressor"):
        compressors_for(np.dtype("f4"), "brotli", 3, None)


@pytest.mark.parametrize("noise_bits", [0, 16])
def test_default_codec_stores_no_more_than_zstd3_small_blocks(
    tmp_path: Path, noise_bits: int
) -> None:
    """The default codec keeps its promise on model fields, smooth and with random low bits."""
    import netCDF4
    from numcodecs import Blosc

    from jasmin_access.samples import NemoSpec, write_nemo_set

    (path,) = write_nemo_set(tmp_path, NemoSpec(months=1, nx=180, ny=160, nz=25))
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(False)
        field = np.asarray(nc["thetao"][0], dtype="f4")
        fill = np.float32(nc["thetao"]._FillValue)
    noise = np.random.default_rng(3).integers(0, 1 << 16, field.shape, dtype="u4")
    if noise_bits:
        low = np.uint32((1 << noise_bits) - 1)
        noisy = ((field.view("u4") & ~low) | (noise & low)).view("f4")
        field = np.where(field == fill, field, noisy)
    (ours,) = compressors_for(field.dtype, "zstd", 2, None)
    reference = Blosc(cname="zstd", clevel=3, shuffle=Blosc.SHUFFLE)
    assert len(ours.encode(field)) <= len(reference.encode(field))
    assert ours.decode(ours.encode(field)) == field.tobytes()
