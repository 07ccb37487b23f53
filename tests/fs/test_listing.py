"""ls, walk, find and tree on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jasmin_access import fs
from jasmin_access.errors import BucketNotFound, InvalidInput, NotFound
from jasmin_access.stores import resolve


def names(entries: list[fs.Entry]) -> list[str]:
    return [e.name + ("/" if e.type == "directory" else "") for e in entries]


def test_ls_one_level_and_prefix_boundary(tree_bucket: str, profile_for) -> None:
    p = profile_for(tree_bucket)
    assert names(fs.ls(tree_bucket, profile=p)) == ["run1/", "run10/", "top.txt"]
    run1 = fs.ls(f"{tree_bucket}/run1", profile=p)
    assert names(run1) == ["a.nc", "b.txt", "sub/"]
    assert all("run10" not in e.path for e in run1)
    assert names(fs.ls(f"{tree_bucket}/run1/", profile=p)) == ["a.nc", "b.txt", "sub/"]


def test_ls_long_fields(tree_bucket: str, profile_for) -> None:
    entries = fs.ls(f"{tree_bucket}/run1", profile=profile_for(tree_bucket))
    a = entries[0]
    assert a.path == f"{tree_bucket}/run1/a.nc"
    assert a.size == 10 and a.type == "file"
    assert isinstance(a.last_modified, datetime)
    record = a.to_dict()
    assert {"path", "type", "size", "last_modified", "etag"} <= set(record)
    if tree_bucket.startswith("s3://"):
        assert record["etag"] == "e09c80c42fda55f9d992e59ca6b3307d"  # md5 of b"a" * 10
    html = entries._repr_html_()
    assert "<table>" in html and "a.nc" in html


def test_ls_recursive(tree_bucket: str, profile_for) -> None:
    entries = fs.ls(f"{tree_bucket}/run1", recursive=True, profile=profile_for(tree_bucket))
    paths = [e.path for e in entries]
    assert f"{tree_bucket}/run1/sub/c.nc" in paths
    assert f"{tree_bucket}/run1/sub/" in paths
    assert not any("run10" in p for p in paths)


def test_ls_object_and_missing(tree_bucket: str, profile_for) -> None:
    p = profile_for(tree_bucket)
    [only] = fs.ls(f"{tree_bucket}/top.txt", profile=p)
    assert only.type == "file" and only.size == 3
    with pytest.raises(NotFound, match="no such object or prefix"):
        fs.ls(f"{tree_bucket}/run", profile=p)


def test_ls_missing_bucket(bucket: str, profile_for) -> None:
    scheme = bucket.split("://")[0]
    with pytest.raises(BucketNotFound, match="does-not-exist"):
        fs.ls(f"{scheme}://does-not-exist-xyz/run1", profile=profile_for(bucket))


def test_ls_buckets(tree_bucket: str, profile_for) -> None:
    scheme = tree_bucket.split("://")[0]
    listed = [e.path for e in fs.ls(f"{scheme}://", profile=profile_for(tree_bucket))]
    assert tree_bucket + "/" in listed


def test_globs(tree_bucket: str, profile_for) -> None:
    p = profile_for(tree_bucket)
    one_level = fs.ls(f"{tree_bucket}/run*", profile=p)
    assert names(one_level) == ["run1/", "run10/"]
    nc = [e.path for e in fs.ls(f"{tree_bucket}/run*/*.nc", profile=p)]
    assert nc == [f"{tree_bucket}/run1/a.nc", f"{tree_bucket}/run10/d.nc"]
    deep = [e.path for e in fs.ls(f"{tree_bucket}/**/*.nc", profile=p)]
    assert deep == [
        f"{tree_bucket}/run1/a.nc",
        f"{tree_bucket}/run1/sub/c.nc",
        f"{tree_bucket}/run10/d.nc",
    ]
    assert names(fs.ls(f"{tree_bucket}/run1/[ab].*", profile=p)) == ["a.nc", "b.txt"]
    assert names(fs.ls(f"{tree_bucket}/run1/?.nc", profile=p)) == ["a.nc"]


def test_special_characters_round_trip(bucket: str, put, profile_for) -> None:
    p = profile_for(bucket)
    keys = ["odd/a b.nc", "odd/plus+sign.nc", "odd/pct%20.nc", "odd/tempé ü.nc"]
    for i, key in enumerate(keys):
        put(f"{bucket}/{key}", bytes([i]) * (i + 1))
    listed = {e.name: e for e in fs.ls(f"{bucket}/odd", profile=p)}
    assert sorted(listed) == sorted(k.split("/")[1] for k in keys)
    for i, key in enumerate(keys):
        assert fs.cat(f"{bucket}/{key}", profile=p) == bytes([i]) * (i + 1)
        assert listed[key.split("/")[1]].path == f"{bucket}/{key}"


def test_markers_hidden_and_conflict_flagged_s3(s3_bucket: str, s3_profile: str, put) -> None:
    loc = resolve(s3_bucket, profile=s3_profile)
    for marker in ("run1/", "run1/sub/"):  # zero-byte directory markers
        loc.fs.call_s3("put_object", Bucket=loc.bucket, Key=marker, Body=b"")
    put(f"{s3_bucket}/run1/a.nc", b"a")
    put(f"{s3_bucket}/p", b"object")
    put(f"{s3_bucket}/p/x", b"inside")
    run1 = fs.ls(f"{s3_bucket}/run1", profile=s3_profile)
    assert names(run1) == ["a.nc", "sub/"]
    top = fs.ls(s3_bucket, profile=s3_profile)
    flagged = [(e.type, e.conflict) for e in top if e.name == "p"]
    assert sorted(flagged) == [("directory", True), ("file", True)]
    assert not [e for e in top if e.name == "run1" and e.conflict]
    assert [e.path for e in fs.walk(f"{s3_bucket}/run1", profile=s3_profile)] == [
        f"{s3_bucket}/run1/a.nc"
    ]


def test_store_cannot_hold_object_and_prefix(local_bucket: str, put, tmp_path) -> None:
    src = tmp_path / "p"
    src.write_bytes(b"object")
    put(f"{local_bucket}/q", b"object")
    with pytest.raises(InvalidInput, match="same name"):
        fs.cp(str(src), f"{local_bucket}/q/inside")


def test_walk_streams_everything(tree_bucket: str, profile_for) -> None:
    it = fs.walk(tree_bucket, profile=profile_for(tree_bucket))
    assert iter(it) is it
    got = sorted(e.path.rsplit("/", 1)[-1] for e in it)
    assert got == ["a.nc", "b.txt", "c.nc", "d.nc", "top.txt"]


def test_walk_many_prefixes_in_parallel(bucket: str, put, profile_for) -> None:
    for i in range(12):
        for j in range(3):
            put(f"{bucket}/p{i}/k{j}", b"z" * j)
    got = list(fs.iter_objects(bucket, profile=profile_for(bucket)))
    assert len(got) == 36
    assert sum(e.size or 0 for e in got) == 12 * 3


def test_find_filters(tree_bucket: str, profile_for) -> None:
    p = profile_for(tree_bucket)
    nc = sorted(e.name for e in fs.find(tree_bucket, name="*.nc", profile=p))
    assert nc == ["a.nc", "c.nc", "d.nc"]
    sized = sorted(e.name for e in fs.find(tree_bucket, min_size=5, max_size=7, profile=p))
    assert sized == ["c.nc", "d.nc"]
    past = datetime.now(UTC) - timedelta(days=1)
    assert len(list(fs.find(tree_bucket, newer=past, profile=p))) == 5
    assert list(fs.find(tree_bucket, newer="2999-01-01", profile=p)) == []
    with pytest.raises(InvalidInput, match="date"):
        list(fs.find(tree_bucket, newer="yesterday", profile=p))


def test_tree(tree_bucket: str, profile_for) -> None:
    root = fs.tree(tree_bucket, profile=profile_for(tree_bucket))
    lines = root.lines()
    assert lines[0] == "├── run1/"
    assert "│   └── sub/" in lines
    assert root.size == 10 + 3 + 5 + 7 + 3
    shallow = fs.tree(tree_bucket, max_depth=1, profile=profile_for(tree_bucket))
    assert [c.name for c in shallow.children] == ["run1", "run10", "top.txt"]
    assert shallow.children[0].children == [] and shallow.children[0].size == 18


def test_listing_falls_back_to_v1(s3_proxy, proxied_profile: str, s3_profile: str) -> None:
    bucket = "test-list-v1"
    loc = resolve(f"s3://{bucket}", profile=s3_profile)
    loc.fs.mkdir(bucket)
    for i in range(3):
        loc.fs.pipe_file(f"{bucket}/run1/k{i}", b"x" * i)
    loc.fs.pipe_file(f"{bucket}/run10/k", b"x")
    s3_proxy.fail(query="list-type", status=501, code="NotImplemented")
    got = fs.ls(f"s3://{bucket}/run1", profile=proxied_profile)
    assert names(got) == ["k0", "k1", "k2"]
    [total] = fs.du(f"s3://{bucket}/run1", summarize=True, profile=proxied_profile)
    assert (total.bytes, total.objects) == (3, 3)
    assert s3_proxy.count_faults() == 1  # v2 is tried once, then v1 is remembered
