"""The S3 read path through obstore: reads, listings, the zarr store, errors, pickles.

Everything runs against the moto server (directly, or through the counting
and fault-injecting proxy); listings are compared field by field with the
botocore path they replace.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

import jasmin_access as ja
import jasmin_access.datastore
import jasmin_access.fs
from jasmin_access.backends.s3read import S3Reader, reader
from jasmin_access.config import Profile, add_profile
from jasmin_access.errors import AccessDenied, EndpointUnreachable, NotFound, WrongEndpoint
from jasmin_access.stores import resolve
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.s3proxy import FaultPlan, S3Proxy

CLIENT_MODULES = ("s3fs", "aiobotocore", "aiohttp", "botocore")


def _put(bucket_url: str, profile: str, keys: dict[str, bytes]) -> None:
    fs = resolve(bucket_url, profile=profile).fs
    for key, data in keys.items():
        fs.pipe_file(f"{bucket_url.removeprefix('s3://')}/{key}", data)


def test_reader_pickles_by_profile_without_key_material(s3_bucket: str, s3_profile: str) -> None:
    _put(s3_bucket, s3_profile, {"run/a.bin": b"abc"})
    loc = resolve(f"{s3_bucket}/run", profile=s3_profile)
    reader, store = loc.backend.reader, loc.zarr_store(read_only=True)
    assert isinstance(reader, S3Reader)
    for blob in (pickle.dumps(reader), pickle.dumps(store)):
        assert TEST_SECRET.encode() not in blob and TEST_KEY.encode() not in blob
    again = pickle.loads(pickle.dumps(reader))
    assert again.get(f"{loc.path}/a.bin") == b"abc"  # credentials re-read on unpickling
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    copy = pickle.loads(pickle.dumps(store))
    assert copy == store
    assert sync(copy.get("a.bin", default_buffer_prototype())).to_bytes() == b"abc"


def test_reads_and_head_match_the_stored_object(s3_bucket: str, s3_profile: str) -> None:
    data = bytes(range(256)) * 40
    _put(s3_bucket, s3_profile, {"o/blob": data})
    backend = resolve(s3_bucket, profile=s3_profile).backend
    path = f"{s3_bucket.removeprefix('s3://')}/o/blob"
    assert backend.read_bytes(path) == data
    assert backend.read_range(path, 100, 1100) == data[100:1100]
    assert backend.read_tail(path, 10) == (len(data), data[-10:])
    head = backend.head(path)
    ref = backend.fs.info(path)
    assert head is not None and head.size == len(data) and head.etag == ref["ETag"].strip('"')
    assert head.mtime == ref["LastModified"]
    assert backend.head(path + "-missing") is None
    with pytest.raises(FileNotFoundError):
        backend.read_bytes(path + "-missing")


ODD_KEYS = {
    "t/plain.nc": b"x" * 10,
    "t/sp ace.nc": b"y" * 3,
    "t/pct%41.nc": b"z",
    "t/plus+é.nc": b"w" * 7,
    "t/sub/deep/c.nc": b"c" * 5,
    "t/sub/d.nc": b"d" * 2,
}


def _botocore_walk(backend: object, fs_dir: str) -> list[tuple[object, ...]]:
    bucket, _, key = fs_dir.partition("/")
    pages = backend._pages(bucket, key + "/", delimiter=False)  # type: ignore[attr-defined]
    return sorted(tuple(o) for objs, _ in pages for o in objs)


@pytest.mark.parametrize("extra", [{}, {"t/sub/": b""}, {"t/empty.nc": b""}, {"t/a//b.nc": b"q"}])
def test_listings_equal_the_botocore_pages(
    s3_bucket: str, s3_profile: str, extra: dict[str, bytes]
) -> None:
    """Objects with size, time and ETag; markers, empty objects and odd keys alike."""
    _put(s3_bucket, s3_profile, {**ODD_KEYS, **extra})
    backend = resolve(s3_bucket, profile=s3_profile).backend
    assert backend.reader is not None
    root = f"{s3_bucket.removeprefix('s3://')}/t"
    ref = _botocore_walk(backend, root)
    walked = sorted(tuple(o) for page in backend.walk_pages(root, markers=True) for o in page)
    assert walked == ref
    objs, dirs = backend.list_level(root)
    direct = sorted(o for o in ref if "/" not in str(o[0])[len(root) + 1 :])
    assert sorted(tuple(o) for o in objs) == direct
    assert {d.rsplit("/", 1)[-1] for d in dirs} >= {"sub"}
    assert backend.prefix_exists(root + "/sub") and not backend.prefix_exists(root + "/none")


def test_directory_marker_of_the_listed_prefix(s3_bucket: str, s3_profile: str) -> None:
    _put(s3_bucket, s3_profile, {"m/": b"", "m/a.nc": b"a"})
    backend = resolve(s3_bucket, profile=s3_profile).backend
    root = f"{s3_bucket.removeprefix('s3://')}/m"
    objs, dirs = backend.list_level(root)
    assert [o.path for o in objs] == [f"{root}/a.nc"] and dirs == []
    with_markers = [o.path for page in backend.walk_pages(root, markers=True) for o in page]
    assert sorted(with_markers) == [f"{root}/", f"{root}/a.nc"]


_NO_CLIENT = """
import json, sys
import jasmin_access as ja
ds = ja.open_dataset(sys.argv[1], profile=sys.argv[2])
total = float(ds["thetao"].sum())
print(json.dumps({{"total": total, "loaded": [m for m in {mods!r} if m in sys.modules]}}))
"""


def _open_in_fresh_process(url: str, profile: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _NO_CLIENT.format(mods=CLIENT_MODULES), url, profile],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_opening_and_loading_import_no_botocore_client(
    s3_bucket: str, s3_profile: str, nemo_files: list[Path]
) -> None:
    """A converted store and a datastore version open and load without s3fs or botocore."""
    store, ds_url = f"{s3_bucket}/run.zarr", f"{s3_bucket}/runs/r1"
    ja.convert([str(p) for p in nemo_files[:2]], store, profile=s3_profile)
    ja.datastore.create(ds_url, store, profile=s3_profile)
    expected = float(ja.open_dataset(store, profile=s3_profile)["thetao"].sum())
    for url in (store, f"{ds_url}@latest"):
        seen = _open_in_fresh_process(url, s3_profile)
        assert seen["loaded"] == [], url
        assert seen["total"] == pytest.approx(expected)


def test_open_costs_one_request_and_survives_faults(
    s3_proxy: S3Proxy, proxied_profile: str, nemo_files: list[Path]
) -> None:
    bucket = "s3://read-faults"
    ja.fs.mb(bucket, profile=proxied_profile)
    store = f"{bucket}/run.zarr"
    ja.convert([str(p) for p in nemo_files[:2]], store, profile=proxied_profile)
    expected = ja.open_dataset(store, profile=proxied_profile)["thetao"].values
    s3_proxy.reset()
    ds = ja.open_dataset(store, profile=proxied_profile)
    assert s3_proxy.count() == 1 and s3_proxy.count(kind="get") == 1
    s3_proxy.plan = FaultPlan(rate=0.25, seed=3)  # a few requests a run: every kind is met
    for _ in range(4):
        again = ja.open_dataset(store, profile=proxied_profile)["thetao"].values
        np.testing.assert_array_equal(again, expected)
    assert s3_proxy.faults_injected > 0
    np.testing.assert_array_equal(ds["thetao"].values, expected)


def _profile(name: str, endpoint: str, **extra: object) -> str:
    add_profile(name, {"endpoint_url": endpoint, "retries": 2, "connect_timeout": 2.0, **extra})
    return name


def test_errors_are_one_line(
    s3_bucket: str, s3_profile: str, s3_endpoint: str, closed_endpoint: str
) -> None:
    with pytest.raises(NotFound, match="no Zarr store at"):
        ja.open_dataset(f"{s3_bucket}/absent.zarr", profile=s3_profile)
    closed = _profile("closed", closed_endpoint, key="k", secret="s")
    with pytest.raises(EndpointUnreachable, match=f"cannot reach {closed_endpoint}"):
        ja.open_dataset(f"s3://{s3_bucket.removeprefix('s3://')}/k", profile=closed)


@pytest.mark.parametrize(
    ("code", "said"),
    [("AccessDenied", "may have expired or lack rights"), ("InvalidAccessKeyId", "was rejected")],
)
def test_access_denied_is_named(
    s3_proxy: S3Proxy, proxied_profile: str, code: str, said: str
) -> None:
    s3_proxy.fail(method="GET", status=403, code=code)
    with pytest.raises(AccessDenied, match=said) as info:
        ja.open_dataset("s3://somewhere/run.zarr", profile=proxied_profile)
    assert "\n" not in str(info.value) and "<Error>" not in str(info.value)


@pytest.mark.parametrize("html_endpoint", [200, 404], indirect=True)
def test_listing_a_web_server_is_a_wrong_endpoint(html_endpoint: str) -> None:
    name = _profile("web", html_endpoint, key="k", secret="s")
    with pytest.raises(WrongEndpoint, match="did not answer like an S3 store"):
        ja.ls("s3://bucket/", profile=name)


_WITHOUT_OBSTORE = """
import json, sys
sys.modules["obstore"] = None  # as if it were not installed
import jasmin_access as ja
from jasmin_access.stores import resolve
ds = ja.open_dataset(sys.argv[1], profile=sys.argv[2])
print(json.dumps({"total": float(ds["thetao"].sum()),
                  "reader": resolve(sys.argv[1], profile=sys.argv[2]).backend.reader}))
"""


def test_without_obstore_the_botocore_path_reads(
    s3_bucket: str, s3_profile: str, nemo_files: list[Path]
) -> None:
    store = f"{s3_bucket}/run.zarr"
    ja.convert([str(nemo_files[0])], store, profile=s3_profile)
    expected = float(ja.open_dataset(store, profile=s3_profile)["thetao"].sum())
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_OBSTORE, store, s3_profile],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["reader"] is None and seen["total"] == pytest.approx(expected)


def _signed_url(profile: Profile, creds: dict[str, str], path: str) -> str:
    import obstore

    bucket, key = path.split("/", 1)
    reader = S3Reader(profile, creds)
    return str(obstore.sign(reader.store(bucket), "GET", key, timedelta(minutes=5)))


def test_aws_endpoints_keep_the_bucket_in_the_path_and_their_region() -> None:
    profile = Profile(name="aws-london", endpoint_url="https://s3.eu-west-2.amazonaws.com")
    url = _signed_url(profile, {"key": "AKIDEXAMPLE", "secret": "s"}, "mybucket/data/x.nc")
    assert url.startswith("https://s3.eu-west-2.amazonaws.com/mybucket/data/x.nc?")
    assert "%2Feu-west-2%2Fs3%2F" in url  # signed for the endpoint's region


def test_a_session_token_left_in_the_environment_is_not_added_to_a_profile_s_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    profile = Profile(name="keys", endpoint_url="http://127.0.0.1:9")
    creds = (("key", "AKIDEXAMPLE"), ("secret", "s"))
    assert reader(profile, creds) is not None
    monkeypatch.setenv("AWS_SESSION_TOKEN", "left-over")
    assert reader(profile, creds) is None  # botocore reads it: it ignores the stray token
    assert reader(profile, (*creds, ("token", "t"))) is not None
    assert reader(Profile(name="aws"), creds) is None  # AWS itself: region redirects
