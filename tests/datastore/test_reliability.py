"""Reliability on a JASMIN-like store: SIGKILL mid-push and mid-gc in real processes,
concurrent pushes, missing and corrupted objects, and 5 % injected faults."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import jasmin_access as ja
from jasmin_access import datastore as dst
from jasmin_access.datastore import layout
from jasmin_access.errors import AccessDenied, IntegrityError
from tests.s3proxy import FaultPlan, S3Proxy

EXE = Path(sys.executable).with_name("jasmin-access")
RNG = random.Random(20261129)


def _cli(profile: str, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(EXE), "-q", "-p", profile, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )


def _kill_after_first_put(proc: subprocess.Popen[str], proxy: S3Proxy, extra: float) -> bool:
    """SIGKILL ``proc`` ``extra`` s after its first PUT; False when it finished first."""
    deadline = time.monotonic() + 60
    while proxy.count(method="PUT") == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(extra)
    if proc.poll() is not None:
        assert proc.returncode == 0, proc.communicate()[1]
        return False
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return True


def _all_versions_whole(url: str, profile: str) -> list[str]:
    """Every visible version verifies (no partial version is ever visible)."""
    ids = [r["id"] for r in dst.log(url, profile=profile)]
    for vid in ids:
        res = dst.verify(f"{url}@{vid}", profile=profile)
        assert res.ok, res.problems
    return ids


@pytest.mark.slow
def test_sigkill_mid_push_then_rerun(
    jbucket: str, jasmin: S3Proxy, proxied_profile: str, runs: dict[str, Path]
) -> None:
    url = f"{jbucket}/ds/killed"
    dst.create(url, profile=proxied_profile)
    killed = 0
    jasmin.plan = FaultPlan(rate=1.0, kinds=("latency",), latency_ms=15, only_methods=("PUT",))
    for extra in (0.0, RNG.uniform(0.05, 0.3), RNG.uniform(0.2, 0.6)):
        jasmin.reset()
        proc = _cli(proxied_profile, "datastore", "push", url, str(runs["three"]))
        killed += _kill_after_first_put(proc, jasmin, extra)
        assert len(_all_versions_whole(url, proxied_profile)) <= 1
    jasmin.plan = FaultPlan()
    assert killed >= 1
    res = dst.push(url, str(runs["three"]), profile=proxied_profile)
    ids = _all_versions_whole(url, proxied_profile)
    assert ids and res.version in ids
    if res.uploaded_objects or not res.unchanged:
        assert res.reused_objects + res.uploaded_objects > 0
    before = dst.status(url, profile=proxied_profile)
    assert (before["state"] == "complete") == (before["unfinished_pushes"] == 0)
    dst.gc(url, grace="0s", profile=proxied_profile)  # clears the killed pushes' markers
    assert dst.status(url, profile=proxied_profile)["state"] == "complete"
    assert _all_versions_whole(url, proxied_profile) == ids


@pytest.mark.slow
def test_rerun_after_a_crash_reuses_uploaded_objects(
    jbucket: str, jasmin: S3Proxy, proxied_profile: str, runs: dict[str, Path]
) -> None:
    url = f"{jbucket}/ds/crash"
    dst.create(url, profile=proxied_profile)
    # the crash: the manifest PUT never lands, every object PUT did
    rule = jasmin.fail(method="PUT", path=f"/{jbucket[5:]}/ds/crash/versions/", status=403)
    with pytest.raises(AccessDenied):
        dst.push(url, str(runs["three"]), profile=proxied_profile)
    assert rule.hits >= 1 and dst.log(url, profile=proxied_profile) == []
    assert dst.status(url, profile=proxied_profile)["state"] == "in progress"
    jasmin.clear_rules()
    res = dst.push(url, str(runs["three"]), profile=proxied_profile)
    assert res.uploaded_objects == 0 and res.reused_objects > 0
    assert _all_versions_whole(url, proxied_profile) == [res.version]


@pytest.mark.slow
def test_sigkill_mid_gc_never_deletes_referenced(
    jbucket: str, jasmin: S3Proxy, proxied_profile: str, runs: dict[str, Path]
) -> None:
    url = f"{jbucket}/ds/gc"
    first = dst.create(url, str(runs["three"]), profile=proxied_profile)
    second = dst.push(url, str(runs["four"]), profile=proxied_profile)
    assert first and second.version
    dst.rm(f"{url}@{first.version}", profile=proxied_profile)
    jasmin.plan = FaultPlan(rate=1.0, kinds=("latency",), latency_ms=30, only_methods=("DELETE",))
    for extra in (RNG.uniform(0.0, 0.1), RNG.uniform(0.05, 0.3)):
        jasmin.reset()
        proc = _cli(proxied_profile, "datastore", "gc", url, "--grace", "0s")
        _kill_after_first_put(proc, jasmin, extra)
        assert _all_versions_whole(url, proxied_profile) == [second.version]
    jasmin.plan = FaultPlan()
    dst.gc(url, grace="0s", profile=proxied_profile)
    assert dst.gc(url, grace="0s", dry_run=True, profile=proxied_profile).unreferenced == 0
    assert _all_versions_whole(url, proxied_profile) == [second.version]


@pytest.mark.slow
def test_two_pushes_at_once_keep_both_versions(
    jbucket: str, jasmin: S3Proxy, proxied_profile: str, runs: dict[str, Path], tmp_path: Path
) -> None:
    url = f"{jbucket}/ds/fork"
    first = dst.create(url, str(runs["three"]), profile=proxied_profile)
    assert first is not None
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("another writer")
    # every PUT takes 2 s: each push reads "latest", then needs three rounds of PUTs
    # (session marker, objects, manifest) before its version exists, so two pushes
    # started together both see the first version as latest, whatever the machine's load
    jasmin.plan = FaultPlan(rate=1.0, kinds=("latency",), latency_ms=2000, only_methods=("PUT",))
    procs = [
        _cli(proxied_profile, "datastore", "push", url, str(runs["four"]), "-m", "a"),
        _cli(proxied_profile, "datastore", "push", url, str(other), "-m", "b"),
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    jasmin.plan = FaultPlan()
    assert [p.returncode for p in procs] == [0, 0], outs
    rows = dst.log(url, profile=proxied_profile)
    assert len(rows) == 3
    children = [r for r in rows if r["parent"] == first.version]
    assert {r["message"] for r in children} == {"a", "b"} and all(r["fork"] for r in children)
    _all_versions_whole(url, proxied_profile)


def test_missing_and_corrupted_objects_are_named(
    jbucket: str, proxied_profile: str, runs: dict[str, Path]
) -> None:
    url = f"{jbucket}/ds/broken"
    res = dst.create(url, str(runs["three"]), profile=proxied_profile)
    assert res is not None
    ds, _ = dst.open_datastore(url, profile=proxied_profile)
    m = ds.manifest(res.version)
    i = m.keys.index(next(k for k in m.keys if k.startswith("thetao/c/")))
    key = layout.object_key(m.digest_at(i))
    ds.io.put(key, b"not the right bytes")
    with pytest.raises(IntegrityError, match=f"{res.version}.*{m.keys[i]}.*corrupted"):
        ja.open_dataset(f"{url}@{res.version}", profile=proxied_profile).thetao.load()
    report = dst.verify(f"{url}@{res.version}", profile=proxied_profile)
    assert not report.ok and key in report.problems[0] and "corrupted" in report.problems[0]
    ds.io.delete([key])
    with pytest.raises(IntegrityError, match=f"{res.version}.*{m.keys[i]}.*missing"):
        ja.open_dataset(f"{url}@{res.version}", profile=proxied_profile).thetao.load()
    report = dst.verify(f"{url}@{res.version}", profile=proxied_profile)
    assert report.problems == [f"{url}@{res.version}: {m.keys[i]} (object {key}) is missing"]


@pytest.mark.slow
def test_five_percent_faults_give_identical_versions(
    jbucket: str, jasmin: S3Proxy, proxied_profile: str, runs: dict[str, Path]
) -> None:
    clean = dst.create(f"{jbucket}/ds/clean", str(runs["four"]), profile=proxied_profile)
    jasmin.plan = FaultPlan(rate=0.05, seed=5, kinds=("503", "500", "reset", "reset-after"))
    faulty = dst.create(f"{jbucket}/ds/faulty", str(runs["four"]), profile=proxied_profile)
    assert jasmin.faults_injected > 0
    jasmin.plan = FaultPlan()
    assert clean and faulty
    a, _ = dst.open_datastore(f"{jbucket}/ds/clean", profile=proxied_profile)
    b, _ = dst.open_datastore(f"{jbucket}/ds/faulty", profile=proxied_profile)
    assert a.manifest(clean.version).same_content(b.manifest(faulty.version))
    assert dst.verify(f"{jbucket}/ds/faulty@{faulty.version}", profile=proxied_profile).ok


@pytest.mark.slow
def test_sigkill_mid_convert_into_a_datastore(
    jbucket: str,
    jasmin: S3Proxy,
    proxied_profile: str,
    nemo4: list[Path],
    staging: Path,
) -> None:
    url = f"{jbucket}/ds/conv"
    argv = ["convert", *[str(p) for p in nemo4[:3]], f"{url}@"]
    jasmin.plan = FaultPlan(rate=1.0, kinds=("latency",), latency_ms=20, only_methods=("PUT",))
    for extra in (RNG.uniform(0.0, 0.2), RNG.uniform(0.1, 0.5)):
        jasmin.reset()
        _kill_after_first_put(_cli(proxied_profile, *argv), jasmin, extra)
        assert len(_all_versions_whole(url, proxied_profile)) <= 1
    jasmin.plan = FaultPlan()
    done = subprocess.run(
        [str(EXE), "-q", "-p", proxied_profile, *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    ids = _all_versions_whole(url, proxied_profile)
    assert 1 <= len(ids) <= 3
    ds = ja.open_dataset(f"{url}@{ids[0]}", profile=proxied_profile)
    assert ds.sizes["time_counter"] == 3


def test_status_judges_unfinished_pushes_by_the_store_clock(
    jbucket: str,
    jasmin: S3Proxy,
    proxied_profile: str,
    runs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import datetime, timedelta

    from jasmin_access.datastore import ops

    url = f"{jbucket}/ds/clock"
    dst.create(url, profile=proxied_profile)
    jasmin.fail(method="PUT", path=f"/{jbucket[5:]}/ds/clock/versions/", status=403)
    with pytest.raises(AccessDenied):
        dst.push(url, str(runs["three"]), profile=proxied_profile)
    jasmin.clear_rules()

    class DayAhead(datetime):  # this machine's clock, a day ahead of the store's
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return datetime.now(tz) + timedelta(days=1)  # type: ignore[arg-type]

    monkeypatch.setattr(ops, "datetime", DayAhead)
    jasmin.reset()
    st = dst.status(url, profile=proxied_profile)
    assert st["state"] == "in progress" and st["unfinished_pushes"] == 1
    assert jasmin.count(method="PUT") == 1  # the probe object giving the store's time
    monkeypatch.setattr(ops, "IN_PROGRESS_FOR", timedelta(seconds=1))
    time.sleep(2.2)  # LastModified has whole seconds
    assert dst.status(url, profile=proxied_profile)["state"] == "interrupted"
