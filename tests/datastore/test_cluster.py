"""``datastore push`` on worker processes and on a real ``dask.distributed`` cluster.

The cluster is the one of ``tests/test_execution.py`` (two worker processes
with their own config and credentials), against the moto S3 server.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
from pathlib import Path
from typing import Any

import pytest

from jasmin_access import datastore as dst
from jasmin_access.datastore import pushwork
from jasmin_access.stores import resolve
from tests.cli.helpers import cli_run
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.test_execution import cluster  # noqa: F401  (the module's cluster fixture)

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


def _push(capsys: pytest.CaptureFixture[str], profile: str, *args: str) -> dict[str, Any]:
    code, out, err = cli_run(capsys, "--json", "-p", profile, "datastore", *args)
    assert code == 0, err
    return dict(json.loads(out.strip().splitlines()[-1]))


def _content(url: str, profile: str) -> tuple[list[str], bytes, list[int]]:
    ds, _ = dst.open_datastore(url, profile=profile)
    m = ds.manifest(ds.select("latest"))
    return m.keys, m.digests, [int(s) for s in m.sizes]


def test_push_on_processes_and_on_the_cluster_equals_the_threaded_push(
    capsys: pytest.CaptureFixture[str], s3_bucket: str, s3_profile: str,
    runs: dict[str, Path], cluster: Any,  # noqa: F811
) -> None:  # fmt: skip
    contents = {}
    for name, sched in (("threads", "threads"), ("processes", "processes"),
                        ("cluster", cluster.scheduler_address)):  # fmt: skip
        url = f"{s3_bucket}/ds/{name}"
        first = _push(capsys, s3_profile, "create", url, "--from", str(runs["three"]),
                      "--scheduler", sched)  # fmt: skip
        assert first["hashed_objects"] == first["objects"] and first["uploaded_objects"] > 20
        second = _push(capsys, s3_profile, "push", url, str(runs["four"]), "--scheduler", sched)
        assert 0 < second["uploaded_objects"] < second["objects"]
        contents[name] = _content(url, s3_profile)
        assert dst.verify(f"{url}@latest", profile=s3_profile).ok
    assert len(contents["threads"][0]) > 20
    assert contents["processes"] == contents["threads"]
    assert contents["cluster"] == contents["threads"]


def test_push_tasks_carry_no_secret(s3_bucket: str, s3_profile: str, runs: dict[str, Path]) -> None:
    ds, _ = dst.open_datastore(f"{s3_bucket}/ds/x", profile=s3_profile, write=True)
    src = resolve(f"{s3_bucket}/src", profile=s3_profile)
    src.fs.ls(s3_bucket.removeprefix("s3://"))  # credentials resolved in the client first
    for task in ((pushwork.hash_files, src, ["a/zarr.json"]),
                 (pushwork.upload_files, ds.io, src, [("a/c/0", "0" * 64, 10)])):  # fmt: skip
        blob = pickle.dumps(task)
        assert TEST_SECRET.encode() not in blob and TEST_KEY.encode() not in blob


def test_a_worker_killed_mid_push_then_rerun(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, s3_bucket: str,
    s3_profile: str, runs: dict[str, Path], cluster: Any,  # noqa: F811
) -> None:  # fmt: skip
    from jasmin_access import execution

    address = cluster.scheduler_address
    with distributed.Client(address) as client:
        pids = list(client.run(os.getpid).values())
    monkeypatch.setattr(pushwork, "BATCH_FILES", 2)  # many small tasks
    original = execution.map_distributed
    kills: list[int] = []

    def map_and_kill(func: Any, items: Any, on_done: Any, *args: Any, **kw: Any) -> None:
        def done(item: Any, result: Any) -> None:
            on_done(item, result)
            if func is pushwork.upload_files and not kills:  # mid-upload: SIGKILL a worker
                kills.append(pids[0])
                os.kill(pids[0], signal.SIGKILL)

        original(func, items, done, *args, **kw)

    monkeypatch.setattr(execution, "map_distributed", map_and_kill)
    url = f"{s3_bucket}/ds/killed"
    args = ["-q", "-p", s3_profile, "datastore", "create", url, "--from", str(runs["three"]),
            "--scheduler", address]  # fmt: skip
    code, _, err = cli_run(capsys, *args)
    monkeypatch.setattr(execution, "map_distributed", original)
    assert kills == [pids[0]]
    versions = [r["id"] for r in dst.log(url, profile=s3_profile)]
    if code != 0:  # stopped: one line, no version visible, then a rerun completes
        assert len(err.strip().splitlines()) == 1, err
        assert versions == []
        _push(capsys, s3_profile, "push", url, str(runs["three"]), "--scheduler", address)
    assert len(dst.log(url, profile=s3_profile)) == 1
    assert dst.verify(f"{url}@latest", profile=s3_profile).ok
    threaded = f"{s3_bucket}/ds/threaded"
    _push(capsys, s3_profile, "create", threaded, "--from", str(runs["three"]))
    assert _content(url, s3_profile) == _content(threaded, s3_profile)
