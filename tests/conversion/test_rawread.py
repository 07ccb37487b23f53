"""Direct reads of deflated NetCDF4 chunks equal what netCDF4 returns, or step aside."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from jasmin_access.backends.s3 import S3Backend
from jasmin_access.config import get_profile
from jasmin_access.conversion.rawread import close_direct, read_direct
from jasmin_access.conversion.sources import SourceRef
from jasmin_access.stores import resolve

SHAPE = (5, 7, 11)


def _ref(path: Path) -> SourceRef:
    return SourceRef(str(path), resolve(str(path)).backend, str(path), path.stat().st_size, None)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Variables with deflate+shuffle, deflate only, no filter, contiguous; a group."""
    path = tmp_path_factory.mktemp("raw") / "raw.nc"
    rng = np.random.default_rng(1)
    with netCDF4.Dataset(path, "w") as ds:
        for name, size in zip(("t", "y", "x"), SHAPE, strict=True):
            ds.createDimension(name, size)
        values = rng.normal(size=SHAPE).astype("f4")
        chunks = (2, 3, 5)  # edge chunks on every axis
        specs = {
            "both": {"zlib": True, "shuffle": True, "complevel": 1, "chunksizes": chunks},
            "deflate": {"zlib": True, "shuffle": False, "complevel": 4, "chunksizes": chunks},
            "plain": {"chunksizes": chunks},
            "flat": {"contiguous": True},
        }
        for name, kw in specs.items():
            ds.createVariable(name, "f4", ("t", "y", "x"), **kw)[:] = values
        ds.createVariable("ints", "i2", ("t", "y", "x"), zlib=True, chunksizes=chunks)[:] = (
            np.arange(np.prod(SHAPE)).reshape(SHAPE) % 3000
        )
        grp = ds.createGroup("sub")
        grp.createVariable("g", "f8", ("t", "y", "x"), zlib=True, chunksizes=chunks)[:] = values
    return path


def _expected(path: Path, group: str, name: str, sel: tuple[slice, ...]) -> np.ndarray:
    with netCDF4.Dataset(path) as ds:
        node = ds[group] if group else ds
        node.set_auto_maskandscale(False)
        return np.asarray(node[name][sel])


@pytest.mark.parametrize(
    ("group", "name"), [("", "both"), ("", "deflate"), ("", "plain"), ("", "ints"), ("sub", "g")]
)
@pytest.mark.parametrize(
    "sel",
    [
        (slice(0, 5), slice(0, 7), slice(0, 11)),
        (slice(1, 4), slice(2, 7), slice(4, 9)),
        (slice(4, 5), slice(6, 7), slice(10, 11)),
    ],
    ids=["all", "middle", "corner"],
)
def test_direct_equals_netcdf4(sample: Path, group: str, name: str, sel: tuple) -> None:
    got = read_direct(_ref(sample), group, name, sel)
    assert got is not None
    want = _expected(sample, group, name, sel)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    close_direct()


def test_ineligible_reads_step_aside(sample: Path) -> None:
    sel = (slice(0, 5), slice(0, 7), slice(0, 11))
    ref = _ref(sample)
    assert read_direct(ref, "", "flat", sel) is None  # contiguous: no chunks to fetch
    assert read_direct(ref, "", "both", (slice(0, 5, 2), *sel[1:])) is None
    remote = SourceRef("s3://b/raw.nc", S3Backend(get_profile("local")), "b/raw.nc", 1, None)
    assert read_direct(remote, "", "both", sel) is None
    close_direct()


def test_inflate_falls_back_when_a_chunk_inflates_larger(sample: Path) -> None:
    """libdeflate decodes a chunk of the chunk's size; zlib-ng takes anything larger."""
    import zlib

    import h5py

    from jasmin_access.conversion.rawread import _Var

    with h5py.File(sample, "r") as handle:
        var = _Var(handle["both"])
        raw = handle["both"].id.read_direct_chunk((0, 0, 0))[1]
        assert bytes(var.inflate(raw)) == zlib.decompress(raw)
        assert len(var.inflate(raw)) == var.nbytes == 2 * 3 * 5 * 4
        larger = bytes(range(256)) * (var.nbytes // 256 + 2)
        assert bytes(var.inflate(zlib.compress(larger))) == larger
