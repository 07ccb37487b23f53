"""A real read-only FUSE mount of a version served from a JASMIN-like store."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from jasmin_access import datastore as dst
from jasmin_access.datastore.fusemount import BlockCache, mount, unmount
from jasmin_access.errors import InvalidInput
from tests.s3proxy import S3Proxy


@pytest.fixture
def mounted(
    jbucket: str, jasmin: S3Proxy, proxied_profile: str, nemo4: list[Path], tmp_path: Path
) -> dict:
    url = f"{jbucket}/ds/ncfiles"
    res = dst.create(url, str(nemo4[0].parent), "monthly files", profile=proxied_profile)
    assert res is not None
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cache = tmp_path / "cache"
    mount(
        f"{url}@{res.version}",
        str(mnt),
        cache_dir=str(cache),
        cache_size=64 << 20,
        profile=proxied_profile,
    )
    try:
        yield {"mnt": mnt, "src": nemo4[0].parent, "cache": cache, "url": url}
    finally:
        if os.path.ismount(mnt):
            unmount(str(mnt))


def test_listing_comes_from_the_manifest(mounted: dict, jasmin: S3Proxy) -> None:
    jasmin.reset()
    out = subprocess.run(["ls", "-lR", str(mounted["mnt"])], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    seen = {p.name: p.stat().st_size for p in mounted["mnt"].iterdir()}
    assert seen == {p.name: p.stat().st_size for p in mounted["src"].iterdir()}
    assert jasmin.count(kind="list") == 0 and jasmin.count() == 0  # no request at all


def test_netcdf_reads_in_place(mounted: dict, jasmin: S3Proxy) -> None:
    name = sorted(p.name for p in mounted["src"].iterdir())[1]
    through, original = mounted["mnt"] / name, mounted["src"] / name
    jasmin.reset()
    with netCDF4.Dataset(through) as a, netCDF4.Dataset(original) as b:
        np.testing.assert_array_equal(a["thetao"][:], b["thetao"][:])
    assert jasmin.count(kind="get") >= 1 and jasmin.count(kind="list") == 0
    assert xr.open_dataset(through).load().identical(xr.open_dataset(original).load())
    assert through.read_bytes() == original.read_bytes()
    assert any(mounted["cache"].iterdir())  # blocks went through the local cache
    with pytest.raises(OSError):
        (mounted["mnt"] / "new.nc").write_bytes(b"x")  # read-only


def test_unmount_and_refusals(mounted: dict) -> None:
    with pytest.raises(InvalidInput, match="already a mount point"):
        mount(mounted["url"], str(mounted["mnt"]))
    unmount(str(mounted["mnt"]))
    assert not os.path.ismount(mounted["mnt"])
    with pytest.raises(InvalidInput, match="not mounted"):
        unmount(str(mounted["mnt"]))


def test_block_cache_stays_within_its_bound(tmp_path: Path) -> None:
    from jasmin_access.datastore import fusemount as m

    cache = BlockCache(str(tmp_path), 3 * m.BLOCK)
    block = b"x" * m.BLOCK
    for i in range(6):
        cache.put(f"d.{i}", block)
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["d.3", "d.4", "d.5"] and cache.used == 3 * m.BLOCK
    assert cache.get("d.0") is None and cache.get("d.5") == block


def test_blocks_fetched_ahead_stay_off_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file streamed through is not copied to the disk cache; a block asked for is."""
    import hashlib

    from jasmin_access.datastore import blocks, layout
    from jasmin_access.datastore._io import RootIO
    from jasmin_access.stores import resolve

    monkeypatch.setattr(blocks, "BLOCK", 4096)
    data = os.urandom(10 * 4096 + 100)
    digest = hashlib.sha256(data).hexdigest()
    io = RootIO(resolve(str(tmp_path / "root"), write=True))
    io.put(layout.object_key(digest), data)
    cache_dir = tmp_path / "cache"
    reader = blocks.BlockReader(io, BlockCache(str(cache_dir), 1 << 20))
    got = b"".join(reader.read(digest, len(data), pos, 1000) for pos in range(0, len(data), 1000))
    assert got == data and reader.gets == 11  # every block fetched once
    assert sorted(p.name for p in cache_dir.iterdir()) == [f"{digest}.0"]
    other = blocks.BlockReader(io, BlockCache(str(cache_dir), 1 << 20))
    assert other.read(digest, len(data), 9 * 4096 + 5, 10) == data[9 * 4096 + 5 : 9 * 4096 + 15]
    assert (cache_dir / f"{digest}.9").read_bytes() == data[9 * 4096 : 10 * 4096]
    reader.close()
    other.close()


def test_wide_listing_with_attributes_and_no_request(
    jbucket: str, jasmin: S3Proxy, proxied_profile: str, tmp_path: Path
) -> None:
    """Thousands of entries over several kernel buffers, nested directories, a key
    named like a directory: names, sizes and kinds come whole from the manifest."""
    from jasmin_access.datastore import layout
    from jasmin_access.datastore.manifest import Manifest, encode
    from jasmin_access.datastore.repo import open_datastore

    url = f"{jbucket}/ds/wide"
    dst.create(url, profile=proxied_profile)
    keys = sorted(
        [f"big/{'x' * 120}-{i:05d}.nc" for i in range(4000)]
        + [f"deep/a/b/c/f{i}.nc" for i in range(3)]
        + ["deep/a", "top.txt"]  # "deep/a" is also a directory: the directory wins
    )
    sizes = np.array([(7 * i) % 5000 for i in range(len(keys))], dtype="<u8")
    m = Manifest(id=layout.new_version_id(), parent=None, created="", author="test",
                 message="", keys=keys, digests=bytes(32) * len(keys), sizes=sizes)  # fmt: skip
    ds = open_datastore(url, profile=proxied_profile)[0]
    ds.io.put(layout.manifest_key(m.id), encode(m))
    mnt = tmp_path / "wide"
    mnt.mkdir()
    mount(f"{url}@{m.id}", str(mnt), cache_dir=str(tmp_path / "c"), profile=proxied_profile)
    try:
        jasmin.reset()
        seen = {}
        for root, _dirs, files in os.walk(mnt):
            for name in files:
                path = Path(root, name)
                seen[path.relative_to(mnt).as_posix()] = path.stat().st_size
        expected = {k: int(s) for k, s in zip(keys, sizes, strict=True) if k != "deep/a"}
        assert seen == expected
        assert (mnt / "deep" / "a").is_dir() and sorted(os.listdir(mnt)) == [
            "big",
            "deep",
            "top.txt",
        ]
        out = subprocess.run(["ls", "-lR", str(mnt)], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.count(".nc\n") == 4003
        assert jasmin.count() == 0  # listings and sizes: no request at all
    finally:
        unmount(str(mnt))


def test_children_read_from_sorted_keys() -> None:
    from jasmin_access.datastore.fusemount import DIR, children
    from jasmin_access.datastore.keylist import KeyList

    keys = KeyList.from_strings(["a", "a-x", "a/b", "a/c/d", "b.nc", "e/f/g"])
    assert children(keys, "") == [(b"a", DIR), (b"a-x", 1), (b"b.nc", 4), (b"e", DIR)]
    assert children(keys, "a") == [(b"b", 2), (b"c", DIR)]
    assert children(keys, "a/c") == [(b"d", 3)]
    assert children(keys, "e") == [(b"f", DIR)] and children(keys, "e/f") == [(b"g", 5)]
    assert children(keys, "nothing") == []
