"""The behaviour every backend shares, run once per registered backend on a real server.

In the spirit of fsspec's ``tests/abstract`` and zarr's ``StoreTests``: listing
semantics (prefix boundaries, directory markers, unicode, empty directories),
head/size/mtime, ranged reads, uploads and downloads of 0 B, 1 B and
multipart sizes, copies, deletes, zarr stores, pickling without secrets.
"""

from __future__ import annotations

import os
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from jasmin_access.backends import Capabilities, backend_class
from jasmin_access.backends.base import is_marker
from jasmin_access.backends.local import place as place_file
from jasmin_access.backends.local import temp_beside
from jasmin_access.errors import NotFound, translating
from jasmin_access.fs import _single
from jasmin_access.stores import resolve
from tests.backends.conftest import Place
from tests.backends.servers import WEBDAV_PASSWORD
from tests.conftest import TEST_SECRET

MIB = 1 << 20


def _names(items: list[str]) -> list[str]:
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in items)


def test_registry_serves_the_scheme(place: Place) -> None:
    loc = place.loc()
    scheme = place.url.split("://", 1)[0] if "://" in place.url else ""
    assert isinstance(backend_class(scheme), type)
    assert isinstance(loc.backend, backend_class(scheme))
    assert isinstance(loc.caps, Capabilities)
    assert resolve(loc.url, profile=place.profile).backend is loc.backend  # shared instance


def test_listing_respects_prefix_boundaries(place: Place) -> None:
    for rel, data in {
        "run1/a.nc": b"aa",
        "run1/sub/b.nc": b"bbb",
        "run10/c.nc": b"c",
        "run1.txt": b"t",
    }.items():
        place.put(rel, data)
    run1 = place.loc("run1")
    objs, dirs = run1.backend.list_level(run1.path)
    assert _names([o.path for o in objs]) == ["a.nc"]
    assert _names(dirs) == ["sub"]
    walked = [o for page in run1.backend.walk_pages(run1.path) for o in page]
    assert sorted(run1.backend.to_url(o.path) for o in walked) == [
        f"{place.url}/run1/a.nc",
        f"{place.url}/run1/sub/b.nc",
    ]
    assert {o.size for o in walked} == {2, 3}
    top_objs, top_dirs = run1.backend.list_level(place.loc().path)
    assert _names([o.path for o in top_objs]) == ["run1.txt"]
    assert _names(top_dirs) == ["run1", "run10"]


def test_unicode_and_spaces_round_trip(place: Place) -> None:
    rel = "données été/ß file (1).nc"
    written = place.put(rel, b"unicode")
    objs, _ = written.backend.list_level(place.loc("données été").path)
    assert len(objs) == 1
    url = written.backend.to_url(objs[0].path)
    assert url == f"{place.url}/{rel}"
    again = resolve(url, profile=place.profile)
    assert again.backend.read_bytes(again.path) == b"unicode"


def test_empty_directories_and_markers(place: Place) -> None:
    root = place.loc()
    if root.caps.directories:
        empty = place.loc("empty/inner")
        root.fs.makedirs(empty.path, exist_ok=True)
        _, dirs = root.backend.list_level(place.loc("empty").path)
        assert _names(dirs) == ["inner"]
        assert root.backend.list_level(empty.path) == ([], [])
        assert root.backend.head(empty.path) is None  # a directory is not an object
    elif root.caps.checksum == "md5-etag":  # S3-protocol stores: zero-byte "dir/" markers
        root.fs.pipe_file(place.loc("marked").path + "/", b"")
        place.put("marked/x.nc", b"x")
        objs, _ = root.backend.list_level(place.loc("marked").path)
        assert _names([o.path for o in objs]) == ["x.nc"]
    assert root.backend.list_level(place.loc("nothing-here").path) == ([], [])


def test_head_size_and_mtime(place: Place) -> None:
    before = datetime.now(UTC) - timedelta(minutes=2)
    loc = place.put("h/obj.bin", b"12345")
    obj = loc.backend.head(loc.path)
    assert obj is not None and obj.size == 5
    if obj.mtime is not None:
        assert before <= obj.mtime <= datetime.now(UTC) + timedelta(minutes=2)
    else:
        assert place.name == "memory"  # fsspec's memory filesystem keeps no times for files
    assert loc.backend.head(place.loc("h/missing.bin").path) is None
    assert loc.backend.head(place.loc("h").path) is None


def test_ranged_reads(place: Place) -> None:
    data = bytes(range(256)) * 4
    loc = place.put("r.bin", data)
    assert loc.backend.read_range(loc.path, 0, 3) == data[:3]
    assert loc.backend.read_range(loc.path, 100, 356) == data[100:356]
    assert loc.backend.read_range(loc.path, len(data) - 7, len(data)) == data[-7:]
    assert loc.backend.read_bytes(loc.path) == data


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("*.nc", ["a1.nc", "b2.nc"]),
        ("[ab]?.nc", ["a1.nc", "b2.nc"]),
        ("[!a]*.nc", ["b2.nc"]),
        ("sub*", []),
        ("**", ["a1.nc", "a1.txt", "b2.nc", "c3.nc", "d.nc"]),  # crosses levels
    ],
)
def test_glob_of_one_level_as_fsspec_globs(place: Place, pattern: str, names: list[str]) -> None:
    for name in ("a1.nc", "b2.nc", "a1.txt", "sub/c3.nc", "subfile/d.nc"):
        place.put(f"g/{name}", b"x")
    folder = place.loc("g")
    found = folder.backend.glob(f"{folder.path}/{pattern}", files_only=True)
    assert sorted(p.rsplit("/", 1)[-1] for p in found) == names
    theirs = folder.backend.fs.glob(f"{folder.path}/{pattern}", detail=True)
    assert sorted(found) == sorted(p for p, i in theirs.items() if i.get("type") != "directory")


def test_read_many_in_order_with_failures_in_place(place: Place) -> None:
    locs = [place.put(f"m/{i}.bin", bytes([i]) * (i + 1)) for i in range(7)]
    missing = place.loc("m/missing.bin")
    wanted = [loc.path for loc in locs[:3]] + [missing.path] + [loc.path for loc in locs[3:]]
    got = list(locs[0].backend.read_many(iter(wanted), window=3))
    assert got[:3] + got[4:] == [bytes([i]) * (i + 1) for i in range(7)]
    with pytest.raises(NotFound), translating("reading", missing.url, missing.profile_name):
        raise got[3]


@pytest.mark.usefixtures("small_parts")
@pytest.mark.parametrize("size", [0, 1, 11 * MIB + 5])
def test_upload_and_download(place: Place, tmp_path: Path, size: int) -> None:
    src = tmp_path / "src.bin"
    data = os.urandom(size)
    src.write_bytes(data)
    dst = place.loc(f"up/{size}.bin")
    ticks: list[int] = []
    dst.backend.upload(str(src), dst.path, "src.bin", ticks.append)
    assert sum(ticks) == size
    obj = dst.backend.head(dst.path)
    assert obj is not None and obj.size == size
    if size > 5 * MIB and dst.caps.multipart and dst.caps.checksum == "md5-etag":
        assert obj.etag is not None and obj.etag.endswith("-3")  # went up in parts
    back = tmp_path / "out" / "back.bin"
    with temp_beside(str(back)) as tmp:
        dst.backend.download(obj, tmp, dst.url)
        place_file(tmp, str(back))
    assert back.read_bytes() == data


def test_copy_inside_one_backend(place: Place) -> None:
    src = place.put("c/src.nc", b"copy me" * 1000)
    dst = place.loc("c/deeper/dst.nc")
    obj = src.backend.head(src.path)
    assert obj is not None
    _single.transfer_one(src, dst, obj, dst.path)
    assert dst.backend.read_bytes(dst.path) == b"copy me" * 1000
    found = dst.backend.head(dst.path)
    assert found is not None and found.size == obj.size
    if src.caps.checksum:
        assert _single.same_content(src, obj, dst, found)


def test_delete_many(place: Place) -> None:
    locs = [place.put(f"d/{i}.nc", b"x") for i in range(5)]
    keep = place.put("d/keep.nc", b"k")
    failures, _ = keep.backend.delete_many([loc.path for loc in locs])
    assert failures == []
    objs = [o for page in keep.backend.walk_pages(place.loc("d").path) for o in page]
    assert _names([o.path for o in objs]) == ["keep.nc"]


def test_missing_objects_raise_not_found(place: Place) -> None:
    loc = place.loc("missing/object.nc")
    with pytest.raises(NotFound), translating("reading", loc.url, loc.profile_name):
        loc.backend.read_bytes(loc.path)


def test_zarr_store_round_trip(place: Place) -> None:
    import zarr

    loc = place.loc("z/store.zarr")
    arr = zarr.create_array(loc.zarr_store(), shape=(6, 4), chunks=(3, 2), dtype="f4")
    arr[:] = np.arange(24, dtype="f4").reshape(6, 4)
    again = zarr.open_array(resolve(loc.url, profile=place.profile).zarr_store(read_only=True))
    np.testing.assert_array_equal(again[:], np.arange(24, dtype="f4").reshape(6, 4))


def test_pickles_carry_no_secret(place: Place) -> None:
    loc = place.put("p/a.nc", b"x")
    for obj in (loc, loc.backend, loc.fs, loc.profile, loc.zarr_store()):
        blob = pickle.dumps(obj)
        assert TEST_SECRET.encode() not in blob and WEBDAV_PASSWORD.encode() not in blob
    again = pickle.loads(pickle.dumps(loc))
    assert again.backend.read_bytes(again.path) == b"x"  # the worker re-reads its credentials


def test_directory_markers_when_asked(place: Place) -> None:
    root = place.loc()
    empty = place.loc("m/empty")
    if root.caps.directories or root.caps.local_path:
        root.fs.makedirs(empty.path, exist_ok=True)
    else:  # object stores: a zero-byte "prefix/" object, as consoles make them
        root.fs.pipe_file(empty.path + "/", b"")
    place.put("m/full/x.nc", b"x")
    assert root.backend.prefix_exists(empty.path)
    assert not root.backend.prefix_exists(place.loc("m/none").path)
    plain = [o.path for page in root.backend.walk_pages(place.loc("m").path) for o in page]
    assert _names(plain) == ["x.nc"]
    kept = [o for page in root.backend.walk_pages(place.loc("m").path, markers=True) for o in page]
    marks = [o for o in kept if is_marker(o)]
    assert [root.backend.to_url(o.path.rstrip("/")) for o in marks] == [empty.url]
    failures, _ = root.backend.delete_many([o.path for o in marks])
    assert failures == [] and not root.backend.prefix_exists(empty.path)
