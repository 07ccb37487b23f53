"""A convert of many small S3 files killed after planning resumes without rescanning.

The first run is a real ``jasmin-access convert`` process, SIGKILLed as soon as
its scan is in the destination's run state.  Planning the rerun costs no GET on
the sources (counted by the proxy in front of the S3 server); the rerun then
finishes the store, which holds the same data as a clean conversion.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import xarray as xr

import jasmin_access as ja
from jasmin_access.conversion.api import _options, prepare
from jasmin_access.conversion.runstate import load_scan, scan_key
from jasmin_access.conversion.sources import expand_sources
from jasmin_access.stores import resolve
from tests.s3proxy import S3Proxy

from .test_interrupt import _files, _load, _start

COUNT = 150


def _tiny_set(folder: Path, count: int) -> list[str]:
    from benchmarks.cases._files import tiny_set

    return tiny_set(str(folder), count)


def _tiny_on_s3(folder: Path, count: int, bucket: str, profile: str) -> tuple[list[str], str]:
    """Tiny files here and under ``s3://BUCKET/in/``; their local paths and the S3 glob."""
    files = _tiny_set(folder, count)
    fs = resolve(f"s3://{bucket}", profile=profile).fs
    fs.mkdir(bucket)
    fs.put(files, f"{bucket}/in/")
    return files, f"s3://{bucket}/in/*.nc"


def test_killed_after_planning_resumes_without_opening_the_sources(
    tmp_path: Path, isolated_env: Path, s3_proxy: S3Proxy, proxied_profile: str
) -> None:
    files = _tiny_set(tmp_path / "tiny", COUNT)
    fs = resolve("s3://many-small", profile=proxied_profile).fs
    fs.mkdir("many-small")
    fs.put(files[::-1], "many-small/in/")  # uploaded out of order; the scan sorts by time
    sources = "s3://many-small/in/*.nc"
    dest = "local://runs/many.zarr"
    where = isolated_env / "store" / "runs" / "many.zarr"
    argv = ["convert", sources, dest, "--profile", proxied_profile, "--chunks", "time_counter=1"]

    proc = _start(argv)
    deadline = time.monotonic() + 120
    state = where / ".jasmin-access" / "scan.json"
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (where / "zarr.json").exists()  # killed before the end

    s3_proxy.reset()
    loc = resolve(dest, write=True)
    options = _options(chunks="time_counter=1", attrs=None)
    plan = prepare(sources, options, {"profile": proxied_profile}, loc)
    assert plan.inventory.cached
    assert s3_proxy.count(kind="get") == 0 and s3_proxy.count(kind="head") == 0
    assert [r.name for r in plan.inventory.sources] == [Path(f).name for f in files]

    report = ja.convert(sources, dest, profile=proxied_profile, chunks="time_counter=1")
    assert report.resumed
    ja.convert(files, str(tmp_path / "clean.zarr"), chunks="time_counter=1")
    got, want = _files(where), _files(tmp_path / "clean.zarr")
    assert got.pop("zarr.json") and want.pop("zarr.json")  # history and sources differ
    assert got.pop(".jasmin-access/scan.json") and want.pop(".jasmin-access/scan.json")  # kept
    assert got == want  # every chunk and array's metadata, byte for byte
    xr.testing.assert_identical(_load(dest), _load(str(tmp_path / "clean.zarr")))
    assert sorted(p.name for p in (where / ".jasmin-access").iterdir()) == ["scan.json"]


def test_changed_sources_are_scanned_again(
    tmp_path: Path, isolated_env: Path, s3_proxy: S3Proxy, proxied_profile: str
) -> None:
    _tiny_on_s3(tmp_path / "tiny", 12, "few-small", proxied_profile)
    fs = resolve("s3://few-small", profile=proxied_profile).fs
    refs = expand_sources("s3://few-small/in/*.nc", profile=proxied_profile)
    loc = resolve(str(tmp_path / "out.zarr"), write=True)
    with pytest.raises(ja.JasminAccessError, match="test hook"):
        ja.convert("s3://few-small/in/*.nc", loc.url, profile=proxied_profile, fail_after_units=1)
    assert load_scan(loc.fs, loc.path, scan_key(refs, _scan_opts()), refs) is not None
    fs.rm("few-small/in/tiny_000011.nc")
    fs.invalidate_cache()
    fresh = expand_sources("s3://few-small/in/*.nc", profile=proxied_profile)
    assert len(fresh) == len(refs) - 1
    assert load_scan(loc.fs, loc.path, scan_key(fresh, _scan_opts()), fresh) is None
    s3_proxy.reset()
    report = ja.convert("s3://few-small/in/*.nc", loc.url, profile=proxied_profile, overwrite=True)
    assert s3_proxy.count(kind="get") >= len(fresh)  # scanned again
    assert not report.resumed and report.sources == len(fresh)


def _scan_opts() -> dict[str, object]:
    return {"concat_dim": None, "variables": None, "drop_variables": None, "time_variable": None}


def _read_keys(proxy: S3Proxy, prefix: str) -> set[str]:
    """Objects under ``prefix`` whose bytes were read (GET) since the last reset."""
    pairs = zip(proxy.requests, proxy.kinds, strict=True)
    return {path for (_m, path, _q), kind in pairs if kind == "get" and path.startswith(prefix)}


def test_a_resumed_append_does_not_reopen_sources_it_has_written(
    tmp_path: Path, isolated_env: Path, s3_proxy: S3Proxy, proxied_profile: str
) -> None:
    files, _ = _tiny_on_s3(tmp_path / "tiny", 14, "append-small", proxied_profile)
    urls = [f"s3://append-small/in/{Path(f).name}" for f in files]
    dest = str(tmp_path / "out.zarr")
    ja.convert(urls[:2], dest, profile=proxied_profile, chunks="time_counter=1")
    with pytest.raises(ja.JasminAccessError, match="test hook"):
        ja.append(urls[2:], dest, profile=proxied_profile, fail_after_units=16, workers=1)
    assert (Path(dest) / ".jasmin-access" / "scan.json").exists()

    s3_proxy.reset()
    report = ja.append(urls[2:], dest, profile=proxied_profile)
    assert report.resumed and report.chunks_skipped >= 16  # of 24: two record arrays
    opened = _read_keys(s3_proxy, "/append-small/in/")
    assert 0 < len(opened) <= report.chunks_written < len(urls[2:])  # a rescan reads all 12
    ja.convert(files, str(tmp_path / "clean.zarr"), chunks="time_counter=1")
    xr.testing.assert_identical(_load(dest), _load(str(tmp_path / "clean.zarr")))
    assert [p.name for p in (Path(dest) / ".jasmin-access").iterdir()] == ["scan.json"]


def test_convert_then_verify_scans_the_sources_once(
    tmp_path: Path, isolated_env: Path, s3_proxy: S3Proxy, proxied_profile: str
) -> None:
    files, sources = _tiny_on_s3(tmp_path / "tiny", 20, "verify-small", proxied_profile)
    gets = []
    for i, together in enumerate((True, False)):
        dest = str(tmp_path / f"out{i}.zarr")
        s3_proxy.reset()
        report = ja.convert(sources, dest, profile=proxied_profile, verify=together)
        if not together:
            assert ja.verify(sources, dest, profile=proxied_profile).ok
        else:
            assert report.verified
        gets.append(s3_proxy.count(kind="get"))
    assert gets[1] < gets[0] + len(files)  # a later verify reuses the scan the store kept
