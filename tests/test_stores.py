"""The resolver, the embedded local store and credentials hygiene of filesystems."""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import threading
import traceback
import uuid
from pathlib import Path

import numpy as np
import pytest

from jasmin_access.config import add_profile, get_profile
from jasmin_access.errors import AccessDenied, InvalidInput, ReadOnly, translating
from jasmin_access.stores import (
    TMP_PREFIX,
    LocalObjectFileSystem,
    resolve,
    s3_config_kwargs,
    s3_filesystem,
)
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.s3proxy import S3Proxy

# --------------------------------------------------------------------------- resolving


def test_resolve_forms(s3_profile: str, tmp_path: Path) -> None:
    s3 = resolve("s3://bkt/run1/a.nc", profile=s3_profile)
    assert (s3.kind, s3.path, s3.bucket, s3.key) == ("s3", "bkt/run1/a.nc", "bkt", "run1/a.nc")
    assert s3.profile_name == s3_profile and not s3.read_only
    assert resolve("s3://bkt/run1/", profile=s3_profile).url == "s3://bkt/run1/"

    store = resolve("local://bkt/run1")
    root = Path(os.environ["JASMIN_ACCESS_HOME"]).resolve()
    assert store.kind == "store" and store.path == str(root / "bkt" / "run1")
    assert (store.bucket, store.key, store.url) == ("bkt", "run1", "local://bkt/run1")
    assert isinstance(store.fs, LocalObjectFileSystem)

    default = resolve("s3://bkt/x")  # no profile configured: the embedded store
    assert default.kind == "store" and default.url == "local://bkt/x"

    local = resolve(tmp_path / "sub" / ".." / "f.nc")
    assert local.kind == "local" and local.path == str(tmp_path / "f.nc")
    assert resolve(f"file://{tmp_path}").path == str(tmp_path)


def test_resolve_rejects_bad_urls() -> None:
    with pytest.raises(InvalidInput, match="empty URL"):
        resolve("")
    with pytest.raises(InvalidInput, match="unsupported URL scheme 'gs://'"):
        resolve("gs://bucket/key")


def test_to_url_and_child_round_trip(s3_profile: str) -> None:
    for url, profile in (("s3://bkt/run1", s3_profile), ("local://bkt/run1", None)):
        loc = resolve(url, profile=profile)
        child = loc.child("sub/a.nc")
        assert child.url == f"{url}/sub/a.nc"
        assert child.key == "run1/sub/a.nc" and child.bucket == "bkt"
        assert loc.to_url(child.path) == child.url
        assert resolve(child.url, profile=profile).path == child.path
        with pytest.raises(InvalidInput):
            loc.child("../escape")


def test_store_child_stays_absolute() -> None:
    loc = resolve("local://bkt/run1")
    child = loc.child("a.nc")
    assert os.path.isabs(child.path)
    child.fs.pipe(child.path, b"x")
    assert Path(child.path).read_bytes() == b"x"
    assert Path(os.environ["JASMIN_ACCESS_HOME"]).resolve() in Path(child.path).parents


def test_https_urls_are_anonymous_and_read_only() -> None:
    loc = resolve("https://nemo-o.s3-ext.jc.rl.ac.uk/pub/run%201/a%2Bb.nc")
    assert loc.kind == "https" and loc.read_only
    assert loc.profile is not None and loc.profile.anon
    assert (loc.bucket, loc.key) == ("pub", "run 1/a+b.nc")
    assert loc.to_url(loc.path) == "https://nemo-o.s3-ext.jc.rl.ac.uk/pub/run%201/a%2Bb.nc"
    with pytest.raises(ReadOnly, match="read-only public URL"):
        resolve("https://host.example/pub/a.nc", write=True)
    with pytest.raises(ReadOnly):
        loc.require_writable()


def test_https_url_with_matching_profile_uses_it(s3_endpoint: str, s3_profile: str) -> None:
    loc = resolve(f"{s3_endpoint}/bkt/a.nc", profile=s3_profile)
    assert loc.kind == "s3" and loc.url == "s3://bkt/a.nc" and not loc.read_only


@pytest.mark.parametrize(
    "url",
    [
        "local://bkt/../x",
        "local://../x",
        "local://./x",
        "local://bkt/a/./b",
        "local://bkt/a/../../x",
        "local://bkt/a\\..\\..\\x",
        "local://bkt\\..\\..\\x/y",
        "local://bkt//etc/passwd",
        "local://bkt/a\x00b",
        "https://host.example/bkt/%2e%2e/%2e%2e/x",
        "https://host.example/bkt/a%2F..%2F..%2Fx",
        "https://host.example/%2E%2E/x",
    ],
)
def test_keys_cannot_escape_the_store(url: str) -> None:
    with pytest.raises(InvalidInput):
        resolve(url)


@pytest.mark.parametrize("name", ["%2e%2e", "..a", "a..", "...", "%2F", "ü b+c"])
def test_odd_but_safe_names_stay_inside(name: str) -> None:
    loc = resolve(f"local://bkt/{name}/k")
    root = Path(os.environ["JASMIN_ACCESS_HOME"]).resolve()
    assert Path(loc.path).resolve().is_relative_to(root / "bkt")
    loc.fs.pipe(loc.path, b"ok")
    assert loc.fs.cat(loc.path) == b"ok"


# --------------------------------------------------------------------------- both backends


def test_read_write_list_remove(bucket: str, profile_for: object) -> None:
    loc = resolve(bucket, profile=profile_for(bucket))  # type: ignore[operator]
    a, b = loc.child("run1/a.nc"), loc.child("run1/sub/b.nc")
    a.fs.pipe(a.path, b"aaa")
    b.fs.pipe(b.path, b"bb")
    assert a.fs.cat(a.path) == b"aaa"
    listed = sorted(loc.to_url(p) for p in loc.fs.ls(loc.child("run1").path, refresh=True))
    assert listed == [f"{bucket}/run1/a.nc", f"{bucket}/run1/sub"]
    b.fs.rm(b.path)
    a.fs.invalidate_cache()
    assert not a.fs.exists(loc.child("run1/sub").path)  # empty prefixes vanish, as on S3


def test_zarr_store_round_trip(bucket: str, profile_for: object) -> None:
    import zarr

    loc = resolve(f"{bucket}/z.zarr", profile=profile_for(bucket))  # type: ignore[operator]
    arr = zarr.create_array(loc.zarr_store(), shape=(4, 6), chunks=(2, 3), dtype="f4")
    arr[:] = np.arange(24, dtype="f4").reshape(4, 6)
    back = zarr.open_array(loc.zarr_store(read_only=True), mode="r")
    np.testing.assert_array_equal(back[:], np.arange(24, dtype="f4").reshape(4, 6))


def _payload(i: int, size: int = 1 << 18) -> bytes:
    return bytes([i]) * size


def _check_complete(data: bytes, writers: int) -> None:
    assert len(data) == len(_payload(0))
    assert data[0] < writers and data == _payload(data[0])


def test_concurrent_thread_writers_leave_one_version(bucket: str, profile_for: object) -> None:
    loc = resolve(f"{bucket}/same.bin", profile=profile_for(bucket))  # type: ignore[operator]
    writers, rounds = 4, 3
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for _ in range(rounds):
                with loc.fs.open(loc.path, "wb") as f:
                    data = _payload(i)
                    for start in range(0, len(data), 1 << 15):  # many small writes
                        f.write(data[start : start + (1 << 15)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    seen = []
    while any(t.is_alive() for t in threads):
        if loc.fs.exists(loc.path):
            seen.append(loc.fs.cat(loc.path))
    for t in threads:
        t.join()
    assert not errors
    for data in [*seen, loc.fs.cat(loc.path)]:
        _check_complete(data, writers)
    if loc.kind == "store":
        assert not [n for n in os.listdir(Path(loc.path).parent) if n.startswith(TMP_PREFIX)]


def _process_writer(root: str, path: str, i: int, rounds: int) -> None:
    fs = LocalObjectFileSystem(root)
    for _ in range(rounds):
        with fs.open(path, "wb") as f:
            data = _payload(i)
            for start in range(0, len(data), 1 << 15):
                f.write(data[start : start + (1 << 15)])


def test_concurrent_process_writers_leave_one_version(local_bucket: str) -> None:
    loc = resolve(f"{local_bucket}/same.bin")
    root = str(Path(os.environ["JASMIN_ACCESS_HOME"]).resolve())
    ctx = multiprocessing.get_context("fork")  # fast; the children only write files
    procs = [ctx.Process(target=_process_writer, args=(root, loc.path, i, 5)) for i in range(4)]
    for p in procs:
        p.start()
    seen = []
    while any(p.is_alive() for p in procs):
        if os.path.exists(loc.path):
            seen.append(Path(loc.path).read_bytes())
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    for data in [*seen, Path(loc.path).read_bytes()]:
        _check_complete(data, 4)
    assert os.listdir(Path(loc.path).parent) == ["same.bin"]


def test_failed_write_keeps_the_old_version(local_bucket: str) -> None:
    loc = resolve(f"{local_bucket}/k.bin")
    loc.fs.pipe(loc.path, b"old")
    with pytest.raises(RuntimeError), loc.fs.open(loc.path, "wb") as f:
        f.write(b"half of the new")
        raise RuntimeError("interrupted")
    assert loc.fs.cat(loc.path) == b"old"
    assert os.listdir(Path(loc.path).parent) == ["k.bin"]


def test_exclusive_create_refuses_existing_objects(local_bucket: str) -> None:
    loc = resolve(f"{local_bucket}/k.bin")
    with loc.fs.open(loc.path, "xb") as f:
        f.write(b"first")
    with pytest.raises(FileExistsError), loc.fs.open(loc.path, "xb") as f:
        f.write(b"second")
    late = loc.fs.open(loc.path + "2", "xb")
    loc.fs.pipe(loc.path + "2", b"someone else")
    late.write(b"late")
    with pytest.raises(FileExistsError):
        late.close()
    assert loc.fs.cat(loc.path) == b"first"
    assert loc.fs.cat(loc.path + "2") == b"someone else"
    assert sorted(os.listdir(Path(loc.path).parent)) == ["k.bin", "k.bin2"]


def test_temp_files_are_hidden_and_prefixes_are_not_writable(local_bucket: str) -> None:
    loc = resolve(f"{local_bucket}/run1/a.nc")
    loc.fs.pipe(loc.path, b"a")
    pending = loc.fs.open(resolve(f"{local_bucket}/run1/b.nc").path, "wb")
    pending.write(b"partial")
    listing = [os.path.basename(p) for p in loc.fs.ls(os.path.dirname(loc.path))]
    assert listing == ["a.nc"]  # the unfinished write is invisible
    pending.close()
    with pytest.raises(IsADirectoryError):
        loc.fs.open(os.path.dirname(loc.path), "wb")


# --------------------------------------------------------------------------- S3 settings


def test_s3_settings_for_third_party_stores() -> None:
    add_profile("j", {"tenancy": "nemo-o", "anon": True, "retries": 7})
    config = s3_config_kwargs(get_profile("j"))
    assert config["s3"] == {"addressing_style": "path"}
    # the transfer engine sends Content-MD5 with every body: no SHA-256 pass to sign it
    engine = get_profile("j")
    signed = s3_filesystem(engine).config_kwargs["s3"]
    unsigned = s3_filesystem(engine, md5_bodies=True).config_kwargs["s3"]
    assert "payload_signing_enabled" not in signed
    assert unsigned == {"addressing_style": "path", "payload_signing_enabled": False}
    assert config["request_checksum_calculation"] == "when_required"
    assert config["response_checksum_validation"] == "when_required"
    assert config["retries"]["max_attempts"] == 7
    add_profile("aws", {"endpoint_url": "https://s3.eu-west-2.amazonaws.com", "anon": True})
    assert "s3" not in s3_config_kwargs(get_profile("aws"))


def test_outer_retry_loop_is_bounded(s3_profile: str) -> None:
    add_profile(
        "many", {"endpoint_url": "http://h", "key": TEST_KEY, "secret": TEST_SECRET, "retries": 10}
    )
    fs = s3_filesystem(get_profile("many"))
    assert 1 <= fs.retries <= 3  # botocore already retries each request 10 times


# --------------------------------------------------------------------------- credentials hygiene


def test_pickled_filesystems_carry_no_secret(s3_bucket: str, s3_profile: str) -> None:
    loc = resolve(f"{s3_bucket}/a.nc", profile=s3_profile)
    loc.fs.pipe(loc.path, b"data")
    for obj in (loc.fs, loc, loc.profile):
        blob = pickle.dumps(obj)
        assert TEST_SECRET.encode() not in blob
    fs = pickle.loads(pickle.dumps(loc.fs))
    fs.invalidate_cache()
    assert fs.cat(loc.path) == b"data"  # credentials re-read from the config file
    back = pickle.loads(pickle.dumps(loc))
    assert back.fs.cat(back.path) == b"data"


def test_env_credentials_stay_out_of_pickles(
    s3_bucket: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_profile("envcreds", {"endpoint_url": s3_endpoint})
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET)
    loc = resolve(s3_bucket, profile="envcreds")
    assert loc.fs.ls(loc.path, refresh=True) == []
    assert TEST_SECRET.encode() not in pickle.dumps(loc)
    assert pickle.loads(pickle.dumps(loc.fs)).ls(loc.path, refresh=True) == []


def test_secrets_never_in_logs_or_errors(
    s3_bucket: str, proxied_profile: str, s3_proxy: S3Proxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    loc = resolve(f"{s3_bucket}/a.nc", profile=proxied_profile)
    loc.fs.pipe(loc.path, b"data")
    assert loc.fs.cat(loc.path) == b"data"
    s3_proxy.fail(status=403, code="SignatureDoesNotMatch")
    with (
        pytest.raises(AccessDenied) as info,
        translating("reading", loc.url, loc.profile_name),
    ):
        loc.fs.cat(loc.path)
    text = "".join(traceback.format_exception(info.value))
    assert f"access denied reading {loc.url}" in text
    assert len(caplog.records) > 10  # botocore did log at debug level
    for blob in (caplog.text, text, repr(loc), repr(loc.fs), repr(loc.profile)):
        assert TEST_SECRET not in blob


def test_anonymous_access_never_sends_credentials(
    s3_profile: str, s3_proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"pub-{uuid.uuid4().hex[:10]}"
    owner = resolve(f"s3://{name}", profile=s3_profile).fs
    owner.mkdir(name, acl="public-read")
    owner.pipe(f"{name}/run1/a.nc", b"public data", ACL="public-read")
    # credentials in the environment and in the profile must not leak into anonymous calls
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET)
    add_profile(
        "anonp",
        {"endpoint_url": s3_proxy.url, "anon": True, "key": TEST_KEY, "secret": TEST_SECRET},
    )
    public = resolve(f"{s3_proxy.url}/{name}/run1/a.nc")
    assert public.kind == "https"
    assert public.fs.cat(public.path) == b"public data"
    anon = resolve(f"s3://{name}/run1/a.nc", profile="anonp")
    assert anon.fs.cat(anon.path) == b"public data"
    flagged = resolve(f"s3://{name}/run1/a.nc", profile=s3_profile, anon=True)
    assert flagged.profile is not None and flagged.profile.anon
    assert s3_proxy.count(kind="get") >= 2
    assert s3_proxy.authorized_requests == []


def test_removing_last_object_keeps_the_bucket(local_bucket: str) -> None:
    """As on S3, an emptied bucket still exists; only emptied prefixes vanish."""
    loc = resolve(local_bucket + "/run1/sub/a.nc")
    loc.fs.pipe(loc.path, b"x")
    loc.fs.rm_file(loc.path)
    bucket_dir = resolve(local_bucket)
    assert os.path.isdir(bucket_dir.path)
    assert not os.path.exists(resolve(local_bucket + "/run1").path)


def test_zarr_store_reads_a_chunk_with_one_get_and_pickles_async(s3_proxy, proxied_profile) -> None:
    """zarr's store issues one GET per chunk (no HEAD first) and unpickles still async."""
    import zarr

    name = f"test-{uuid.uuid4().hex[:10]}"
    loc = resolve(f"s3://{name}/a.zarr", profile=proxied_profile)
    loc.fs.mkdir(name)
    store = loc.zarr_store()
    arr = zarr.create_array(store, shape=(4, 1000), chunks=(1, 1000), dtype="f8", fill_value=0.0)
    arr[:] = np.arange(4000.0).reshape(4, 1000)
    again = pickle.loads(pickle.dumps(store.fs))
    assert again.asynchronous and TEST_SECRET.encode() not in pickle.dumps(store.fs)
    s3_proxy.reset()
    reread = zarr.open_array(loc.zarr_store(read_only=True), mode="r")
    assert float(reread[2, 5]) == 2005.0
    assert s3_proxy.count(method="HEAD") == 0
    chunk_gets = [r for r in s3_proxy.requests if r[0] == "GET" and "/c/" in r[1]]
    assert chunk_gets == [("GET", f"/{name}/a.zarr/c/2/0", "")]
