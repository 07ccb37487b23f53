"""The source hash cache: unchanged source files are not read again by the next push."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pytest

import jasmin_access as ja
from jasmin_access import datastore as dst
from jasmin_access.datastore.hashcache import HashCache, cache_dir, local_stamp
from jasmin_access.datastore.manifest import INLINE_OBJECT
from jasmin_access.datastore.publish import SKIP_PREFIXES
from jasmin_access.stores import resolve
from tests.s3proxy import S3Proxy


def _age(root: Path) -> None:
    """Date every file back to one fixed time, as files written well before this push
    (not 'racy'); files rewritten since differ by inode."""
    when = 1_767_225_600  # 2026-01-01
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (when, when))


def _apply_month(work: Path, three: Path, four: Path) -> list[str]:
    """Turn ``work`` (a copy of ``three``) into ``four`` the way an append in place does:
    only files that differ are rewritten.  Returns their keys."""
    changed = []
    for p in sorted(four.rglob("*")):
        if not p.is_file():
            continue
        key = p.relative_to(four).as_posix()
        old = three / key
        if not old.is_file() or old.read_bytes() != p.read_bytes():
            target = work / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            shutil.copyfile(p, target)
            changed.append(key)
    return changed


def _kept(root: Path) -> set[str]:
    """Files every push reads: Zarr metadata and the small objects held inline."""
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and (p.name == "zarr.json" or p.stat().st_size <= INLINE_OBJECT)
    }


def test_second_push_reads_only_what_changed(
    jbucket: str, proxied_profile: str, runs: dict[str, Path], run_copy: Path, jasmin: S3Proxy
) -> None:
    url = f"{jbucket}/ds/cached"
    _age(run_copy)
    first = dst.create(url, str(run_copy), profile=proxied_profile)
    assert first is not None and first.hashed_objects == first.objects
    changed = _apply_month(run_copy, runs["three"], runs["four"])
    _age(run_copy)
    jasmin.reset()
    second = dst.push(url, str(run_copy), "april", profile=proxied_profile)
    # no other push left a session marker: new objects are PUT without a HEAD first
    assert jasmin.count(method="HEAD") == 0
    assert jasmin.count(method="PUT") == second.uploaded_objects + 2  # + marker, manifest
    read = {k for k in set(changed) | _kept(run_copy) if not k.startswith(SKIP_PREFIXES)}
    assert second.hashed_objects == len(read)  # the run state (the kept scan) is not pushed
    assert second.objects - second.hashed_objects >= 3  # unchanged chunks, not read
    # the version is exactly the one a push without the cache gives
    os.environ["JASMIN_ACCESS_HASH_CACHE"] = "off"
    plain = dst.create(f"{jbucket}/ds/plain", str(run_copy), profile=proxied_profile)
    assert plain is not None and plain.hashed_objects == plain.objects
    a, _ = dst.open_datastore(url, profile=proxied_profile)
    b, _ = dst.open_datastore(f"{jbucket}/ds/plain", profile=proxied_profile)
    assert a.manifest(second.version).same_content(b.manifest(plain.version))
    assert jasmin.conditional_refused == []


def test_a_rewritten_file_is_read_again_and_a_racy_one_not_remembered(
    jbucket: str, proxied_profile: str, run_copy: Path
) -> None:
    url = f"{jbucket}/ds/rewritten"
    _age(run_copy)
    dst.create(url, str(run_copy), profile=proxied_profile)
    chunk = next(p for p in sorted(run_copy.rglob("*")) if p.is_file() and "/c/" in p.as_posix())
    data = bytearray(chunk.read_bytes())
    data[-1] ^= 0xFF  # same size, new bytes, written just now
    chunk.write_bytes(bytes(data))
    res = dst.push(url, str(run_copy), profile=proxied_profile)
    assert not res.unchanged and res.uploaded_objects == 1
    ds, _ = dst.open_datastore(url, profile=proxied_profile)
    key = chunk.relative_to(run_copy).as_posix()
    cache = HashCache(ds.url, str(run_copy))
    assert local_stamp(str(chunk)).racy  # type: ignore[union-attr]
    assert cache.lookup(key, local_stamp(str(chunk), now_ns=time.time_ns() + 10**10)) is None
    assert dst.verify(f"{url}@latest", profile=proxied_profile).ok


def test_remote_source_uses_the_listing_etags(
    jbucket: str, proxied_profile: str, runs: dict[str, Path]
) -> None:
    src = f"{jbucket}/staging/run.zarr"
    ja.cp(str(runs["three"]), src, recursive=True, profile=proxied_profile)
    url = f"{jbucket}/ds/from-s3"
    first = dst.create(url, src, profile=proxied_profile)
    assert first is not None and first.hashed_objects == first.objects
    again = dst.push(url, src, profile=proxied_profile)
    kept = _kept(runs["three"])
    assert again.unchanged and again.hashed_objects == len(kept) < again.objects
    chunk = next(
        p
        for p in sorted(runs["three"].rglob("*"))
        if "/c/" in p.as_posix() and p.relative_to(runs["three"]).as_posix() not in kept
    )

    key = chunk.relative_to(runs["three"]).as_posix()
    loc = resolve(f"{src}/{key}", profile=proxied_profile)
    loc.fs.pipe(loc.path, b"new bytes")
    res = dst.push(url, src, profile=proxied_profile)
    assert res.hashed_objects == len(kept) + 1 and res.uploaded_objects == 1


def test_a_damaged_cache_is_ignored(
    jbucket: str, proxied_profile: str, run_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"{jbucket}/ds/damaged"
    _age(run_copy)
    dst.create(url, str(run_copy), profile=proxied_profile)
    base = cache_dir()
    assert base is not None
    for path in base.glob("*.sqlite"):
        path.write_bytes(b"not a database" * 100)
    with caplog.at_level(logging.INFO, logger="jasmin_access.datastore"):
        res = dst.push(url, str(run_copy), profile=proxied_profile)
    assert res.unchanged and res.hashed_objects == res.objects
    assert any("hash cache" in r.getMessage() for r in caplog.records)


def test_append_into_a_datastore_hashes_only_the_new_month(
    jbucket: str, proxied_profile: str, nemo4: list[Path], staging: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    url = f"{jbucket}/ds/conv"
    ja.convert([str(p) for p in nemo4[:3]], f"{url}@", profile=proxied_profile)
    stage = next(staging.iterdir())
    _age(stage)  # the convert ran more than a timestamp tick ago
    with caplog.at_level(logging.INFO, logger="jasmin_access.datastore.publish"):
        ja.append([str(nemo4[3])], url, profile=proxied_profile)
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("hashed")]
    hashed, total = int(line.split()[1]), int(line.split()[3])
    rows = dst.log(url, profile=proxied_profile)
    d = dst.diff(f"{url}@{rows[1]['id']}", f"{url}@{rows[0]['id']}", profile=proxied_profile)
    assert hashed == len(set(d["added"] + d["changed"]) | _kept(stage)), line
    assert total - hashed >= 3  # chunks of the first three months were not read


def test_unchanged_push_needs_no_scheduler_and_a_changed_one_fails_at_once_without_one(
    jbucket: str, proxied_profile: str, runs: dict[str, Path], run_copy: Path
) -> None:
    from jasmin_access.errors import InvalidInput
    from tests.conftest import _free_port

    url = f"{jbucket}/ds/closed"
    nobody = f"tcp://127.0.0.1:{_free_port()}"  # a closed port: nothing listens there
    _age(run_copy)
    first = dst.create(url, str(run_copy), profile=proxied_profile)
    assert first is not None
    same = dst.push(url, str(run_copy), "again", profile=proxied_profile, scheduler=nobody)
    assert same.uploaded_objects == 0 and same.hashed_objects == len(_kept(run_copy))
    _apply_month(run_copy, runs["three"], runs["four"])
    _age(run_copy)
    with pytest.raises(InvalidInput, match=f"no Dask scheduler answers at {nobody}"):
        dst.push(url, str(run_copy), "april", profile=proxied_profile, scheduler=nobody)
