"""cp, mv and sync across local paths, the embedded store and S3."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from jasmin_access import fs
from jasmin_access.backends import _s3_transfer as engine
from jasmin_access.backends import _s3_upload, checksums
from jasmin_access.errors import IntegrityError, InvalidInput, NotFound, PartialFailure
from jasmin_access.fs import _backend as fs_backend
from jasmin_access.fs._single import transfer_one
from jasmin_access.stores import resolve

FILES = {
    "a.nc": b"a" * 100,
    "sub/b.nc": b"b" * 2000,
    "sub/deeper/c b+%é.nc": b"c" * 5,
}


@pytest.fixture
def src_dir(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    for rel, data in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_cp_recursive_up_and_down(bucket: str, src_dir: Path, tmp_path: Path, profile_for) -> None:
    p = profile_for(bucket)
    up = fs.cp(str(src_dir), f"{bucket}/run1", recursive=True, profile=p)
    assert up.count("copied") == 3 and up.bytes_copied == 2105
    assert sorted(e.path for e in fs.walk(f"{bucket}/run1", profile=p)) == sorted(
        f"{bucket}/run1/{k}" for k in FILES
    )
    down = tmp_path / "down"
    fs.cp(f"{bucket}/run1", str(down), recursive=True, profile=p)
    assert read_tree(down) == FILES
    assert not [n for n in os.listdir(down) if n.startswith(".jasmin-tmp")]


def test_cp_resumes_and_no_clobber(bucket: str, src_dir: Path, profile_for) -> None:
    p = profile_for(bucket)
    fs.cp(str(src_dir), f"{bucket}/run1", recursive=True, profile=p)
    again = fs.cp(str(src_dir), f"{bucket}/run1", recursive=True, profile=p)
    assert again.count("skipped") == 3 and again.count("copied") == 0
    (src_dir / "a.nc").write_bytes(b"A" * 100)  # same size, new content
    changed = fs.cp(str(src_dir), f"{bucket}/run1", recursive=True, profile=p)
    assert changed.count("copied") == 1
    assert fs.cat(f"{bucket}/run1/a.nc", profile=p) == b"A" * 100
    (src_dir / "a.nc").write_bytes(b"new")
    kept = fs.cp(str(src_dir / "a.nc"), f"{bucket}/run1/a.nc", no_clobber=True, profile=p)
    assert kept.count("exists") == 1
    assert fs.cat(f"{bucket}/run1/a.nc", profile=p) == b"A" * 100


def test_cp_single_file_into_directory(bucket: str, src_dir: Path, profile_for) -> None:
    p = profile_for(bucket)
    fs.cp(str(src_dir / "a.nc"), f"{bucket}/inbox/", profile=p)
    assert fs.cat(f"{bucket}/inbox/a.nc", profile=p) == FILES["a.nc"]
    fs.cp(str(src_dir / "a.nc"), f"{bucket}/inbox", profile=p)  # existing prefix
    assert [e.name for e in fs.ls(f"{bucket}/inbox", profile=p)] == ["a.nc"]
    fs.cp(str(src_dir / "a.nc"), f"{bucket}/renamed.nc", profile=p)
    assert fs.stat(f"{bucket}/renamed.nc", profile=p).size == 100


def test_cp_errors(bucket: str, src_dir: Path, profile_for) -> None:
    p = profile_for(bucket)
    with pytest.raises(InvalidInput, match="use -r"):
        fs.cp(str(src_dir), f"{bucket}/x", profile=p)
    with pytest.raises(NotFound):
        fs.cp(f"{bucket}/missing.nc", str(src_dir / "m.nc"), profile=p)


def test_cp_s3_to_s3_and_store(s3_bucket: str, s3_profile: str, local_bucket: str, src_dir) -> None:
    fs.cp(str(src_dir), f"{s3_bucket}/run1", recursive=True, profile=s3_profile)
    report = fs.cp(f"{s3_bucket}/run1", f"{s3_bucket}/copy", recursive=True, profile=s3_profile)
    assert report.count("copied") == 3
    assert fs.cat(f"{s3_bucket}/copy/sub/b.nc", profile=s3_profile) == FILES["sub/b.nc"]
    fs.cp(f"{s3_bucket}/copy", f"{local_bucket}/from-s3", recursive=True, profile=s3_profile)
    assert fs.cat(f"{local_bucket}/from-s3/sub/deeper/c b+%é.nc") == FILES["sub/deeper/c b+%é.nc"]
    back = fs.cp(f"{local_bucket}/from-s3", f"{s3_bucket}/back", recursive=True, profile=s3_profile)
    assert back.count("copied") == 3


def test_glob_source(bucket: str, src_dir: Path, tmp_path: Path, profile_for) -> None:
    p = profile_for(bucket)
    fs.cp(str(src_dir), f"{bucket}/run1", recursive=True, profile=p)
    out = tmp_path / "globbed"
    fs.cp(f"{bucket}/run1/**/*.nc", str(out), profile=p)
    assert read_tree(out) == FILES


def test_conflicting_tree_into_store(s3_bucket: str, s3_profile: str, local_bucket: str) -> None:
    loc = resolve(s3_bucket, profile=s3_profile)
    loc.fs.pipe_file(f"{loc.bucket}/t/p", b"object")
    loc.fs.pipe_file(f"{loc.bucket}/t/p/x", b"inside")
    with pytest.raises(PartialFailure) as info:
        fs.cp(f"{s3_bucket}/t", f"{local_bucket}/t", recursive=True, profile=s3_profile)
    assert "same name" in str(info.value)
    assert len(info.value.failures) == 1


def test_multipart_etag_verification(s3_bucket: str, s3_profile: str, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(11 << 20))
    loc = resolve(f"{s3_bucket}/big.bin", profile=s3_profile)
    loc.fs.put_file(str(path), loc.path, chunksize=5 << 20)
    etag = fs.stat(f"{s3_bucket}/big.bin", profile=s3_profile).etag
    assert etag is not None and etag.endswith("-3")
    assert checksums.local_etag(path, 5 << 20) == etag
    assert checksums.etag_matches(path, etag) is True
    down = tmp_path / "down.bin"
    fs.cp(f"{s3_bucket}/big.bin", str(down), profile=s3_profile)
    assert down.read_bytes() == path.read_bytes()


def test_checksum_mismatch_detected(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"hello")
    checksums.verify_file(path, 5, "5d41402abc4b2a76b9719d911017c592", "f.bin")
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        checksums.verify_file(path, 5, "00000000000000000000000000000000", "f.bin")
    with pytest.raises(IntegrityError, match="size mismatch"):
        checksums.verify_file(path, 6, None, "f.bin")


def test_part_size_adapts() -> None:
    mib = 1 << 20
    assert checksums.part_size(100 * mib) == 8 * mib
    assert checksums.is_multipart(64 * mib, checksums.part_size(64 * mib))
    assert not checksums.is_multipart(64 * mib - 1, checksums.part_size(64 * mib - 1))
    assert checksums.part_size(30_000 * mib) >= 200 * mib
    assert checksums.part_size(5_000_000 * mib) * 10_000 >= 5_000_000 * mib


def test_mv_copies_verifies_then_deletes(bucket: str, src_dir: Path, profile_for) -> None:
    p = profile_for(bucket)
    fs.cp(str(src_dir), f"{bucket}/run1", recursive=True, profile=p)
    fs.cp(str(src_dir), f"{bucket}/run10", recursive=True, profile=p)
    report = fs.mv(f"{bucket}/run1", f"{bucket}/moved", recursive=True, profile=p)
    assert report.count("copied") == 3
    with pytest.raises(NotFound):
        fs.ls(f"{bucket}/run1", profile=p)
    assert len(list(fs.walk(f"{bucket}/moved", profile=p))) == 3
    assert len(list(fs.walk(f"{bucket}/run10", profile=p))) == 3  # untouched neighbour
    fs.mv(str(src_dir / "sub"), f"{bucket}/sub", recursive=True, profile=p)
    assert not (src_dir / "sub").exists() and (src_dir / "a.nc").exists()
    local = src_dir / "a.nc"
    fs.mv(str(local), f"{bucket}/single.nc", profile=p)
    assert not local.exists() and fs.stat(f"{bucket}/single.nc", profile=p).size == 100


def test_sync(bucket: str, src_dir: Path, profile_for) -> None:
    p = profile_for(bucket)
    first = fs.sync(str(src_dir), f"{bucket}/mirror", profile=p)
    assert first.count("copied") == 3
    assert fs.sync(str(src_dir), f"{bucket}/mirror", profile=p).count("copied") == 0
    (src_dir / "a.nc").write_bytes(b"z" * 100)  # same size: only --checksum sees it
    assert fs.sync(str(src_dir), f"{bucket}/mirror", profile=p).count("copied") == 0
    assert fs.sync(str(src_dir), f"{bucket}/mirror", checksum=True, profile=p).count("copied") == 1
    (src_dir / "sub" / "b.nc").unlink()
    kept = fs.sync(str(src_dir), f"{bucket}/mirror", profile=p)
    assert (
        fs.stat(f"{bucket}/mirror/sub/b.nc", profile=p).size == 2000 and kept.count("deleted") == 0
    )
    preview = fs.sync(str(src_dir), f"{bucket}/mirror", delete=True, dry_run=True, profile=p)
    assert [i.dst for i in preview.items if i.status == "would-delete"] == [
        f"{bucket}/mirror/sub/b.nc"
    ]
    assert fs.stat(f"{bucket}/mirror/sub/b.nc", profile=p).size == 2000
    done = fs.sync(str(src_dir), f"{bucket}/mirror", delete=True, profile=p)
    assert done.count("deleted") == 1
    with pytest.raises(NotFound):
        fs.stat(f"{bucket}/mirror/sub/b.nc", profile=p)


def test_sync_delete_refuses_bucket_root(bucket: str, src_dir: Path, profile_for) -> None:
    with pytest.raises(InvalidInput, match="--force"):
        fs.sync(str(src_dir), bucket, delete=True, profile=profile_for(bucket))


# --------------------------------------------------------------------------- streaming engine

MIB = 1 << 20


@pytest.mark.parametrize("multipart", [False, True])
def test_stream_digest_matches_local_etag(tmp_path: Path, multipart: bool) -> None:
    data = os.urandom(11 * MIB + 123)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    etag = checksums.local_etag(path, 5 * MIB) if multipart else checksums.local_etag(path)
    assert etag.endswith("-3") == multipart
    digest = engine.StreamDigest(len(data), etag)
    for start in range(0, len(data), 3 * MIB + 7):  # pieces that straddle part boundaries
        digest.update(data[start : start + 3 * MIB + 7])
    assert digest.done == len(data) and digest.etag() == etag
    body, md5 = _s3_upload.read_body(str(path), 5 * MIB, 5 * MIB)
    assert body.read() == data[5 * MIB : 10 * MIB]
    assert md5 == checksums._digests(str(path), 5 * MIB)[1][1].hex()


@pytest.mark.usefixtures("small_parts")
def test_multipart_upload_and_ranged_download(
    s3_bucket: str, s3_profile: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    files = {"big.nc": os.urandom(11 * MIB + 5), "mid.nc": os.urandom(3 * MIB + 1), "s.nc": b"s"}
    for name, data in files.items():
        (src / name).write_bytes(data)
    up = fs.cp(str(src), f"{s3_bucket}/run", recursive=True, profile=s3_profile)
    assert up.count("copied") == 3
    big = fs.stat(f"{s3_bucket}/run/big.nc", profile=s3_profile)
    assert big.etag == checksums.local_etag(src / "big.nc", 5 * MIB) and big.etag.endswith("-3")
    again = fs.cp(str(src), f"{s3_bucket}/run", recursive=True, profile=s3_profile)
    assert again.count("skipped") == 3
    down = tmp_path / "down"
    fs.cp(f"{s3_bucket}/run", str(down), recursive=True, profile=s3_profile)
    assert read_tree(down) == files
    assert (
        fs.cp(f"{s3_bucket}/run", str(down), recursive=True, profile=s3_profile).count("skipped")
        == 3
    )


@pytest.mark.parametrize("ranged", [False, True])
@pytest.mark.parametrize("wrong", ["etag", "size"])
def test_download_that_does_not_verify_leaves_nothing(
    s3_bucket: str,
    s3_profile: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ranged: bool,
    wrong: str,
) -> None:
    if ranged:
        monkeypatch.setattr(engine, "RANGE_MIN", MIB)
        monkeypatch.setattr(engine, "RANGE", MIB // 2)
    data = os.urandom(MIB + 17)
    loc = resolve(f"{s3_bucket}/obj.nc", profile=s3_profile)
    loc.fs.pipe_file(loc.path, data)
    obj = fs_backend.head(loc, loc.path)
    assert obj is not None and obj.size == len(data)
    obj = obj._replace(etag="0" * 32) if wrong == "etag" else obj._replace(size=len(data) - 1)
    out = tmp_path / "out"
    target = str(out / "obj.nc")
    with pytest.raises(IntegrityError, match="checksum mismatch" if wrong == "etag" else "size"):
        transfer_one(loc, resolve(str(out)), obj, target)
    assert os.listdir(out) == []  # no partial file, no temporary file


@pytest.mark.usefixtures("small_parts")
@pytest.mark.parametrize("size", [3, 3 * MIB + 1, 11 * MIB + 5])  # one PUT/GET, ranged, multipart
def test_progress_counts_every_byte_once(
    s3_bucket: str, s3_profile: str, tmp_path: Path, size: int
) -> None:
    path = tmp_path / "f.nc"
    path.write_bytes(os.urandom(size))
    local, remote = resolve(str(path)), resolve(f"{s3_bucket}/f.nc", profile=s3_profile)
    ticks: list[int] = []
    transfer_one(local, remote, fs_backend.head(local, str(path)), remote.path, ticks.append)
    assert sum(ticks) == size and all(n > 0 for n in ticks)
    ticks.clear()
    obj = fs_backend.head(remote, remote.path)
    back = tmp_path / "back.nc"
    transfer_one(remote, resolve(str(tmp_path)), obj, str(back), ticks.append)
    assert sum(ticks) == size and back.read_bytes() == path.read_bytes()


def test_upload_budget_bounds_bytes_in_memory() -> None:
    budget = engine.Budget(10)
    held: list[int] = []
    seen: list[tuple[int, int]] = []  # (bytes held, holders) whenever someone enters

    async def user(n: int) -> None:
        async with budget.hold(n):
            held.append(n)
            seen.append((sum(held), len(held)))
            await asyncio.sleep(0.01)
            held.remove(n)

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(user(n) for n in (4, 4, 4, 12, 3, 6))), 10)

    asyncio.run(main())
    assert len(seen) == 6 and not held
    assert all(total <= 10 or holders == 1 for total, holders in seen)  # 12 only alone
    assert max(holders for _, holders in seen) >= 2  # but smaller bodies do share it
