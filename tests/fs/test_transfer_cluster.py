"""``cp -r`` and ``sync`` of many files on worker processes and a real Dask cluster.

The cluster is a ``LocalCluster(processes=True)`` whose workers read the S3
credentials from their own environment; results are compared byte for byte
with the threaded run.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from jasmin_access import fs
from jasmin_access.fs import _spread
from jasmin_access.fs._progress import Bar
from jasmin_access.stores import resolve
from tests.cli.helpers import cli_run
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.test_execution import (
    _killed,
    cluster,  # noqa: F401 (the module's cluster fixture)
)

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

MIB = 1 << 20


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Twelve files: ten small (grouped into tasks) and two of 3 MiB (a task each)."""
    root = tmp_path / "tree"
    for i in range(10):
        path = root / f"d{i % 3}" / f"small{i}.nc"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1000 + i * 333))
    for i in range(2):
        (root / f"big{i}.nc").write_bytes(os.urandom(3 * MIB + i))
    return root


def _remote(url: str, profile: str) -> dict[str, str]:
    loc = resolve(url, profile=profile)
    loc.fs.invalidate_cache()
    return {
        p[len(loc.path) :]: hashlib.sha256(loc.fs.cat_file(p)).hexdigest()
        for p in loc.fs.find(loc.path)
    }


def _local(root: Path) -> dict[str, str]:
    return {
        "/" + str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = cli_run(capsys, *args)
    assert code == 0, err
    return out


@pytest.mark.usefixtures("small_parts")  # the big files go up in parts
def test_cp_and_sync_on_the_cluster_equal_the_threaded_run(
    capsys: pytest.CaptureFixture[str], s3_bucket: str, s3_profile: str, tree: Path,
    tmp_path: Path, cluster: Any,  # noqa: F811
) -> None:  # fmt: skip
    address = cluster.scheduler_address
    for name, sched in (("threads", "threads"), ("cluster", address)):
        _ok(capsys, "cp", "-r", str(tree), f"{s3_bucket}/{name}", "-p", s3_profile,
            "--scheduler", sched)  # fmt: skip
        _ok(capsys, "cp", "-r", f"{s3_bucket}/{name}", str(tmp_path / f"down-{name}"),
            "-p", s3_profile, "--scheduler", sched)  # fmt: skip
    up = _remote(f"{s3_bucket}/threads", s3_profile)
    assert len(up) == 12 and up == _local(tree)
    assert _remote(f"{s3_bucket}/cluster", s3_profile) == up
    assert _local(tmp_path / "down-cluster") == _local(tmp_path / "down-threads") == up
    tasks = list(_spread.groups([(o, "x") for o in fs.walk(str(tree))], 2 * MIB))
    assert len(tasks) == 3  # the small files travelled together, the big ones alone

    (tree / "d0" / "small0.nc").write_bytes(b"changed")
    out = _ok(capsys, "sync", str(tree), f"{s3_bucket}/cluster", "-p", s3_profile,
              "--scheduler", address, "-v")  # fmt: skip
    assert "copied" in out and out.count("copied ") == 1, out
    assert _remote(f"{s3_bucket}/cluster", s3_profile) == _local(tree)


_opened: list[str] = []  # files this process opened while a probe watches (see _client_opens)
_watching: list[Path] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    path = args[0] if event == "open" and args else None
    if _watching and isinstance(path, str | Path) and Path(path).is_relative_to(_watching[0]):
        _opened.append(str(path))


def _client_opens(root: Path, run: Any) -> tuple[Any, list[str]]:
    """``run()``'s result and the files under ``root`` that this process opened meanwhile."""
    if not getattr(sys, "_transfer_probe", False):
        sys.addaudithook(_audit)  # audit hooks cannot be removed: added once, idle when unwatched
        sys._transfer_probe = True  # type: ignore[attr-defined]
    _opened.clear()
    _watching[:] = [root]
    try:
        result = run()
    finally:
        _watching.clear()
    return result, list(_opened)


def test_the_cluster_workers_compare_checksums_not_the_client(
    s3_bucket: str, s3_profile: str, tree: Path, cluster: Any,  # noqa: F811
) -> None:  # fmt: skip
    dest, address = f"{s3_bucket}/checked", cluster.scheduler_address
    fs.cp(str(tree), dest, recursive=True, profile=s3_profile, scheduler=address)
    kw: dict[str, Any] = {"recursive": True, "profile": s3_profile}
    again, opened = _client_opens(tree, lambda: fs.cp(str(tree), dest, scheduler=address, **kw))
    assert again.count("skipped") == 12 and opened == []  # checksummed on the workers
    threaded, opened = _client_opens(tree, lambda: fs.cp(str(tree), dest, **kw))
    assert threaded.count("skipped") == 12 and len(opened) >= 12  # the probe sees client reads

    (tree / "d1" / "small1.nc").write_bytes(os.urandom(1333))  # same size, new content
    sync_kw = {"profile": s3_profile, "checksum": True, "scheduler": address}
    report, opened = _client_opens(tree, lambda: fs.sync(str(tree), dest, **sync_kw))
    assert opened == []
    copied = [i.src for i in report.items if i.status == "copied"]
    assert len(copied) == 1 and copied[0].endswith("d1/small1.nc"), copied
    assert report.count("skipped") == 11
    assert _remote(dest, s3_profile) == _local(tree)


def test_the_dashboard_link_reaches_the_progress_bar(
    capsys: pytest.CaptureFixture[str], s3_bucket: str, s3_profile: str, tree: Path,
    cluster: Any,  # noqa: F811
) -> None:  # fmt: skip
    fs.cp(str(tree), f"{s3_bucket}/bar", recursive=True, profile=s3_profile, progress=True,
          scheduler=cluster.scheduler_address)  # fmt: skip
    err = capsys.readouterr().err
    assert "Dask dashboard: http://127.0.0.1:" in err


def test_cp_on_local_worker_processes(s3_bucket: str, s3_profile: str, tree: Path) -> None:
    report = fs.cp(str(tree), f"{s3_bucket}/procs", recursive=True, profile=s3_profile,
                   scheduler="processes")  # fmt: skip
    assert report.count("copied") == 12
    assert _remote(f"{s3_bucket}/procs", s3_profile) == _local(tree)
    again = fs.cp(str(tree), f"{s3_bucket}/procs", recursive=True, profile=s3_profile,
                  scheduler="processes")  # fmt: skip
    assert again.count("skipped") == 12


def test_copy_tasks_carry_no_secret(s3_bucket: str, s3_profile: str, tree: Path) -> None:
    src = resolve(str(tree))
    dst = resolve(f"{s3_bucket}/x", profile=s3_profile)
    dst.fs.invalidate_cache()
    objs = list(fs.walk(str(tree)))
    jobs = tuple((o, f"{dst.path}/{i}", o if i % 2 else None) for i, o in enumerate(objs))
    blob = pickle.dumps(_spread.CopyTask(src, dst, jobs))
    assert TEST_SECRET.encode() not in blob and TEST_KEY.encode() not in blob
    assert pickle.loads(blob).nbytes == sum(o.size for o in objs)


def test_a_killed_worker_does_not_lose_the_copy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, s3_bucket: str,
    s3_profile: str, tree: Path, cluster: Any,  # noqa: F811
) -> None:  # fmt: skip
    with distributed.Client(cluster.scheduler_address) as client:
        pids = list(client.run(os.getpid).values())
    monkeypatch.setattr(_spread, "GROUP_BYTES", 1)  # one task per file
    original = Bar.advance
    calls: list[int] = []

    def advance(self: Bar, n: int) -> None:
        original(self, n)
        calls.append(n)
        if len(calls) == 2:  # mid-run: SIGKILL one worker process
            os.kill(pids[0], signal.SIGKILL)

    monkeypatch.setattr(Bar, "advance", advance)
    args = ["cp", "-r", str(tree), f"{s3_bucket}/killed", "-p", s3_profile]
    code, _, err = cli_run(capsys, *args, "--scheduler", cluster.scheduler_address)
    monkeypatch.setattr(Bar, "advance", original)
    assert len(calls) >= 2 and _killed(pids[0])
    if code != 0:  # stopped: one line, then a rerun completes
        assert len(err.strip().splitlines()) == 1, err
        _ok(capsys, *args, "--scheduler", cluster.scheduler_address)
    assert _remote(f"{s3_bucket}/killed", s3_profile) == _local(tree)
    rerun = fs.cp(str(tree), f"{s3_bucket}/killed", recursive=True, profile=s3_profile)
    assert rerun.count("skipped") == 12
