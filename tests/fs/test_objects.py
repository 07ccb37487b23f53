"""stat, cat (byte ranges) and head on both backends, and https read-only access."""

from __future__ import annotations

import io

import pytest

from jasmin_access import fs
from jasmin_access.errors import InvalidInput, NotFound, ReadOnly
from jasmin_access.fs.objects import parse_range

DATA = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def obj(bucket: str, put) -> str:
    put(f"{bucket}/run1/data.nc", DATA)
    return f"{bucket}/run1/data.nc"


def test_stat(obj: str, profile_for) -> None:
    info = fs.stat(obj, profile=profile_for(obj))
    assert info.size == 1024
    assert info.etag == "b2ea9f7fcea831a4a63b213f41a8855b"  # md5(DATA), same on both backends
    assert info.path == obj
    assert info.content_type  # guessed or stored
    assert set(info.to_dict()) >= {"path", "size", "etag", "content_type", "metadata"}


def test_stat_user_metadata_s3(s3_bucket: str, s3_profile: str) -> None:
    from jasmin_access.stores import resolve

    loc = resolve(s3_bucket, profile=s3_profile)
    loc.fs.call_s3(
        "put_object", Bucket=loc.bucket, Key="m.bin", Body=b"xy", Metadata={"model": "nemo"}
    )
    info = fs.stat(f"{s3_bucket}/m.bin", profile=s3_profile)
    assert info.metadata == {"model": "nemo"} and info.size == 2


def test_stat_prefix_and_missing(obj: str, profile_for) -> None:
    prefix = obj.rsplit("/", 1)[0]
    with pytest.raises(NotFound, match="is a prefix"):
        fs.stat(prefix, profile=profile_for(obj))
    with pytest.raises(NotFound, match="no such object"):
        fs.stat(obj + ".missing", profile=profile_for(obj))


def test_cat_whole_and_ranges(obj: str, profile_for) -> None:
    p = profile_for(obj)
    assert fs.cat(obj, profile=p) == DATA
    assert fs.cat(obj, byte_range="0-9", profile=p) == DATA[:10]
    assert fs.cat(obj, byte_range="1000-", profile=p) == DATA[1000:]
    assert fs.cat(obj, byte_range="-4", profile=p) == DATA[-4:]
    assert fs.cat(obj, byte_range=(10, 2000), profile=p) == DATA[10:]
    out = io.BytesIO()
    assert fs.cat_to(obj, out, byte_range="5-7", profile=p) == 3
    assert out.getvalue() == DATA[5:8]
    with pytest.raises(InvalidInput, match="starts at"):
        fs.cat(obj, byte_range="5000-6000", profile=p)


def test_head(obj: str, profile_for) -> None:
    p = profile_for(obj)
    assert fs.head(obj, nbytes=16, profile=p) == DATA[:16]
    assert fs.head(obj, nbytes=5000, profile=p) == DATA
    assert fs.head(obj, nbytes=0, profile=p) == b""


def test_parse_range() -> None:
    assert parse_range("3-7") == (3, 7)
    for bad in ("7-3", "x", "-", ""):
        with pytest.raises(InvalidInput):
            parse_range(bad)


def test_range_read_is_one_get(s3_proxy, proxied_profile: str, s3_profile: str) -> None:
    from jasmin_access.stores import resolve

    bucket = "test-range-proxy"
    loc = resolve(f"s3://{bucket}", profile=s3_profile)
    loc.fs.mkdir(bucket)
    loc.fs.pipe_file(f"{bucket}/big.bin", b"z" * (4 << 20))
    s3_proxy.reset()
    assert fs.cat(f"s3://{bucket}/big.bin", byte_range="0-99", profile=proxied_profile) == (
        b"z" * 100
    )
    assert s3_proxy.count(kind="get") == 1  # one ranged GET, no whole-object read


def test_https_read_only(s3_bucket: str, s3_profile: str, s3_endpoint: str, tmp_path) -> None:
    from jasmin_access.stores import resolve

    loc = resolve(s3_bucket, profile=s3_profile)
    loc.fs.call_s3("put_object", Bucket=loc.bucket, Key="pub.nc", Body=DATA, ACL="public-read")
    url = f"{s3_endpoint}/{loc.bucket}/pub.nc"
    assert fs.cat(url, byte_range="0-3") == DATA[:4]
    assert fs.stat(url).size == len(DATA)
    with pytest.raises(ReadOnly):
        fs.rm(url)
    with pytest.raises(ReadOnly):
        fs.cp(str(tmp_path), url, recursive=True)
    fs.cp(url, str(tmp_path / "down.nc"))
    assert (tmp_path / "down.nc").read_bytes() == DATA
