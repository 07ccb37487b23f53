"""Keys held as one buffer: every key found, listings equal to a naive reference, and
manifests of format 1 (written before the key offsets were stored) still read."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from jasmin_access import datastore as dst
from jasmin_access.datastore import layout
from jasmin_access.datastore.fusemount import DIR, VersionFS, children, mount, unmount
from jasmin_access.datastore.keylist import KeyList
from jasmin_access.datastore.manifest import Manifest, decode, encode
from jasmin_access.datastore.repo import open_datastore
from jasmin_access.errors import IntegrityError
from tests.s3proxy import S3Proxy

FORMAT1 = Path(__file__).parent / "data" / "manifest-format1.jdm"
PARTS = ["a", "a-x", "a.b", "b", "c0", "zz", "é", "ü-1", "x y", "0", "_", "~"]


def _generated(n: int, seed: int) -> list[str]:
    """``n`` distinct keys, 1 to 5 parts deep, names sorting on both sides of ``/``."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        depth = rng.choice([1, 2, 3, 3, 4, 5])
        out.add("/".join(rng.choice(PARTS) + rng.choice(["", str(rng.randrange(30))])
                         for _ in range(depth)))  # fmt: skip
    return sorted(out)


def _naive(keys: list[str]) -> dict[str, dict[str, int]]:
    """Every directory's entries built the obvious way: name -> first entry number, or
    DIR when some key lies below (a key that is also a directory shows as the directory)."""
    tree: dict[str, dict[str, int]] = {}
    for i, key in enumerate(keys):
        parts = key.split("/")
        for depth in range(len(parts)):
            parent, name = "/".join(parts[:depth]), parts[depth]
            entries = tree.setdefault(parent, {})
            if depth < len(parts) - 1:
                entries[name] = DIR
            else:
                entries.setdefault(name, i)
    return tree


def _manifest(keys: list[str]) -> Manifest:
    return Manifest(
        id=layout.new_version_id(), parent=None, created="", author="t", message="",
        keys=keys, digests=b"".join(hashlib.sha256(k.encode()).digest() for k in keys),
        sizes=[3 * i + 1 for i in range(len(keys))],
    )  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2])
def test_every_key_found_and_listings_equal_the_reference(seed: int) -> None:
    keys = _generated(3000, seed)
    m = decode(encode(_manifest(keys)))
    assert isinstance(m.keys, KeyList) and list(m.keys) == keys and m.keys == keys
    assert m.keys[-1] == keys[-1] and m.keys[10:13] == keys[10:13]
    for i, key in enumerate(keys):
        assert m.position(key) == i
        assert m.lookup(key) == (hashlib.sha256(key.encode()).hexdigest(), 3 * i + 1)
    for absent in ("", "a/", "a//b", "zzz", keys[0] + "\x00", keys[-1] + "0"):
        if absent not in keys:
            assert m.position(absent) is None
    reference = _naive(keys)
    for directory, expected in reference.items():
        got = children(m.keys, directory)
        assert {n.decode(): i for n, i in got} == expected, directory
        assert len(got) == len(expected)  # each name once
    plain_file = next(k for k in keys if k not in reference)
    assert children(m.keys, "no-such-dir") == [] and children(m.keys, plain_file) == []


def test_unsorted_manifest_is_served_in_order() -> None:
    keys = _generated(500, 3)
    shuffled = keys[:]
    random.Random(4).shuffle(shuffled)
    m = decode(encode(_manifest(shuffled)))
    assert not m.keys_sorted() and list(m.keys) == shuffled
    assert all(m.position(k) == i for i, k in enumerate(shuffled))
    fs = VersionFS(reader=None, manifest=m)  # type: ignore[arg-type]
    top = {n.decode(): s for n, s in fs.listing("/")}
    for name, size in top.items():
        if size != DIR:
            assert size == 3 * shuffled.index(name) + 1
    assert set(top) == set(_naive(keys)[""])


def test_format1_manifest_still_reads() -> None:
    """A manifest written by the format-1 code (one zlib stream, no key offsets)."""
    data = FORMAT1.read_bytes()
    assert data.startswith(b"JDSMAN1\n")
    m = decode(data, "format1")
    named = ["thetao/zarr.json", "zarr.json", "nav_lat/c/0/0", "a-b", "a/b", "é/ü.nc"]
    keys = sorted([f"thetao/c/{i // 10}/{i % 10}/0" for i in range(40)] + named)
    assert list(m.keys) == keys and m.count == len(keys) and m.message == "format 1"
    for i, key in enumerate(keys):
        assert m.lookup(key) == (hashlib.sha256(key.encode()).hexdigest(), 7 * i)
    assert m.inline == {m.digest_at(2): b"two", m.digest_at(5): b"five" * 3}
    assert m.metadata == {"zarr.json": '{"zarr_format": 3}'}
    assert {n.decode() for n, _ in children(m.keys, "")} == {"a-b", "a", "nav_lat", "thetao",
                                                             "zarr.json", "é"}  # fmt: skip
    again = decode(encode(m))  # written again as format 2: the same version
    assert again.same_content(m) and again.inline == m.inline
    with pytest.raises(IntegrityError, match="format1"):
        decode(data[:-5], "format1")


def test_damaged_format2_body_is_named() -> None:
    data = encode(_manifest(_generated(200, 5)))
    with pytest.raises(IntegrityError, match="v9: damaged manifest body"):
        decode(data[:-3], "v9")
    with pytest.raises(IntegrityError, match="v9: damaged manifest body"):
        decode(data + b"x", "v9")


def test_converted_store_through_the_mount(
    jbucket: str, jasmin: S3Proxy, proxied_profile: str, runs: dict[str, Path], tmp_path: Path
) -> None:
    """A converted run pushed, mounted and walked: every directory and file of the
    source tree, with its size, and chunk bytes read back."""
    src = runs["four"]
    url = f"{jbucket}/ds/converted"
    res = dst.create(url, str(src), "converted run", profile=proxied_profile)
    assert res is not None
    m = open_datastore(url, profile=proxied_profile)[0].manifest(res.version)
    on_disk = {p.relative_to(src).as_posix(): p for p in src.rglob("*") if p.is_file()
               and ".jasmin-access" not in p.parts}  # fmt: skip
    assert set(m.keys) == set(on_disk) and all(m.position(k) is not None for k in on_disk)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mount(f"{url}@{res.version}", str(mnt), cache_dir=str(tmp_path / "c"), profile=proxied_profile)
    try:
        jasmin.reset()
        seen_dirs, seen_files = set(), {}
        for root, dirs, files in os.walk(mnt):
            seen_dirs.update(Path(root, d).relative_to(mnt).as_posix() for d in dirs)
            for f in files:
                path = Path(root, f)
                seen_files[path.relative_to(mnt).as_posix()] = path.stat().st_size
        assert jasmin.count() == 0  # the walk: no request
        assert seen_files == {k: p.stat().st_size for k, p in on_disk.items()}
        assert seen_dirs == {p.relative_to(src).as_posix() for p in src.rglob("*")
                             if p.is_dir() and ".jasmin-access" not in p.parts}  # fmt: skip
        chunk = next(k for k in sorted(on_disk) if "/c/" in k)
        assert (mnt / chunk).read_bytes() == on_disk[chunk].read_bytes()
    finally:
        unmount(str(mnt))


def test_a_newer_format_asks_for_an_upgrade_not_a_removal() -> None:
    data = encode(_manifest(_generated(20, 1)))
    newer = b"JDSMAN3\n" + data[8:]
    with pytest.raises(IntegrityError, match="format 3, newer than") as caught:
        decode(newer, "v9")
    assert "upgrade jasmin-access" in str(caught.value.hint) and "rm" not in str(caught.value.hint)
