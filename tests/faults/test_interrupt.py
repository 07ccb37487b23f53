"""The interruption suite: SIGINT and SIGKILL at random points of real processes.

Each command runs as a real ``jasmin-access`` process, is signalled after a
seeded random delay counted from its first write, and is then checked: nothing
looks complete that is not, a moved file is never missing from both places,
Ctrl-C exits 130 with one line, and re-running the same command finishes the
job with the result of a clean run.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import jasmin_access as ja
from tests.s3proxy import FaultPlan, S3Proxy

EXE = Path(sys.executable).with_name("jasmin-access")
ROUNDS = ((signal.SIGINT, 0), (signal.SIGKILL, 1), (signal.SIGINT, 2))
SEED = 20261121


def _delay(request: pytest.FixtureRequest, high: float) -> float:
    """The test's own seeded delay before the signal: the same whatever ran before it."""
    return random.Random(f"{SEED}-{request.node.name}").uniform(0.0, high)


SURVIVED: dict[str, int] = {"signalled": 0, "finished first": 0}


def _start(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(EXE), "-q", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )


def _interrupt(argv: list[str], started: Callable[[], bool], sig: int, extra: float) -> int | None:
    """Run ``argv``, wait for its first write, then ``extra`` seconds, then send ``sig``.

    Returns the exit code when the signal hit a running process, None when the
    command had already finished.
    """
    proc = _start(argv)
    # Wait for the first write however long start-up takes on a loaded machine: a fixed
    # wait that ran out would signal a process still importing, before any write, and
    # the round would test nothing (and find no store at all).
    deadline = time.monotonic() + 600  # only against a hung process
    while not started() and proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no write within 600 s: {argv}")
        time.sleep(0.01)
    time.sleep(extra)
    if proc.poll() is not None:
        _out, err = proc.communicate()
        assert proc.returncode == 0, err
        SURVIVED["finished first"] += 1
        return None
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    SURVIVED["signalled"] += 1
    if sig == signal.SIGINT:
        assert "Traceback" not in err, err
        if proc.returncode != 0:  # it may have finished between the check and the signal
            assert proc.returncode == 130, err
            assert err.strip().splitlines()[-1].startswith("jasmin-access: interrupted; re-run")
    return proc.returncode


def _finish(argv: list[str]) -> None:
    proc = subprocess.run([str(EXE), "-q", *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def _files(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def _no_run(ds: xr.Dataset) -> xr.Dataset:
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in ("history", "jasmin_access")}
    return ds


def _closed_unless_complete(url: str, want: xr.Dataset) -> None:
    """An interrupted store either refuses to open or holds the whole result."""
    try:
        ds = ja.open_dataset(url, chunks=None)
    except ja.JasminAccessError as exc:
        assert "unfinished" in str(exc) or "no Zarr store" in str(exc), exc
        return
    xr.testing.assert_identical(_no_run(ds.load()), want)  # the signal came after the end


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three daily files; converted one step per chunk so the work takes a while."""
    from jasmin_access.samples import NemoSpec, write_nemo_set

    spec = NemoSpec(months=3, frequency="1d", nx=30, ny=24, nz=4)
    return write_nemo_set(tmp_path_factory.mktemp("int-daily"), spec)


@pytest.fixture(scope="module")
def clean(daily: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Clean stores of the first two files (append base) and of all three."""
    root = tmp_path_factory.mktemp("int-clean")
    out = {"two": root / "two.zarr", "three": root / "three.zarr"}
    ja.convert([str(f) for f in daily[:2]], str(out["two"]), chunks={"time_counter": 1})
    ja.convert([str(f) for f in daily], str(out["three"]), chunks={"time_counter": 1})
    return out


def _load(url: str) -> xr.Dataset:
    return _no_run(ja.open_dataset(url, chunks=None).load())


@pytest.mark.parametrize(("sig", "seed"), ROUNDS)
def test_convert_interrupted(
    sig: int,
    seed: int,
    daily: list[Path],
    clean: dict[str, Path],
    isolated_env: Path,
    request: pytest.FixtureRequest,
) -> None:
    dest = f"local://runs/r{seed}.zarr"
    where = isolated_env / "store" / "runs" / f"r{seed}.zarr"
    argv = ["convert", *map(str, daily), dest, "--chunks", "time_counter=1", "--overwrite"]
    code = _interrupt(argv, where.exists, sig, _delay(request, 0.6))
    want = _load(str(clean["three"]))
    if code not in (None, 0):
        _closed_unless_complete(dest, want)
    _finish(argv)
    xr.testing.assert_identical(_load(dest), want)


def _changed(path: Path, before: dict[Path, int]) -> bool:
    """A file new or modified since ``before`` (one being replaced as we look counts too)."""
    try:
        return path.is_file() and path.stat().st_mtime_ns != before.get(path)
    except FileNotFoundError:  # removed between listing and stat: the command is writing
        return True


@pytest.mark.parametrize(("sig", "seed"), ROUNDS)
def test_append_interrupted(
    sig: int,
    seed: int,
    daily: list[Path],
    clean: dict[str, Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    store = tmp_path / "run.zarr"
    shutil.copytree(clean["two"], store)
    marker = store / ".jasmin-access" / "in-progress.json"  # the kept scan is there already
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}

    def started() -> bool:
        return marker.exists() or any(_changed(p, before) for p in store.rglob("*"))

    argv = ["append", str(daily[2]), str(store)]
    code = _interrupt(argv, started, sig, _delay(request, 1.0))
    want = _load(str(clean["three"]))
    if code not in (None, 0):
        ds = _load(str(store))  # the old steps stay readable ...
        if ds.sizes["time_counter"] == 31 + 29 + 31:  # ... and a longer store is the whole result
            xr.testing.assert_identical(ds, want)
            code = None
        else:
            xr.testing.assert_identical(ds, _load(str(clean["two"])))
    if code not in (None, 0):
        _finish(argv)
    xr.testing.assert_identical(_load(str(store)), want)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of 120 small files in two levels."""
    root = tmp_path_factory.mktemp("int-tree")
    rng = np.random.default_rng(5)
    for i in range(120):
        path = root / f"d{i % 4}" / f"f{i:03d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(rng.bytes(20_000 + 37 * i))
    return root


@pytest.mark.parametrize(("sig", "seed"), ROUNDS)
def test_mv_interrupted_never_loses_a_file(
    sig: int,
    seed: int,
    tree: Path,
    tmp_path: Path,
    isolated_env: Path,
    request: pytest.FixtureRequest,
) -> None:
    src = tmp_path / "src"
    shutil.copytree(tree, src)
    want = _files(tree)
    ja.mb("local://moved", exist_ok=True)
    dest_dir = isolated_env / "store" / "moved" / "run"
    argv = ["mv", "-r", str(src), "local://moved/run/"]
    code = _interrupt(argv, dest_dir.exists, sig, _delay(request, 0.08))
    if code not in (None, 0):
        left, moved = _files(src), _files(dest_dir)
        for rel, data in want.items():
            assert left.get(rel) == data or moved.get(rel) == data, f"{rel} lost"
        for rel, data in moved.items():
            assert data == want[rel], f"{rel} visible before it was complete"
    if src.exists():
        _finish(argv)
    assert _files(dest_dir) == want
    assert _files(src) == {}


@pytest.mark.parametrize(("sig", "seed"), ROUNDS[:2])
def test_cp_to_s3_interrupted(
    sig: int,
    seed: int,
    tree: Path,
    s3_bucket: str,
    s3_profile: str,
    proxied_profile: str,
    s3_proxy: S3Proxy,
    request: pytest.FixtureRequest,
) -> None:
    """cp -r up to S3 through a slow link: no partial object, the re-run completes it."""
    s3_proxy.plan = FaultPlan(rate=1.0, kinds=("latency",), latency_ms=20, only_methods=("PUT",))
    dest = f"{s3_bucket}/copy/"
    argv = ["cp", "-r", str(tree), dest, "-p", proxied_profile]
    code = _interrupt(argv, lambda: s3_proxy.count(method="PUT") > 0, sig, _delay(request, 1.0))
    time.sleep(0.3)  # requests the proxy still holds reach the server
    loc = ja.resolve(dest, profile=s3_profile)
    loc.fs.invalidate_cache()
    want = _files(tree)
    if code not in (None, 0):
        for path in loc.fs.find(loc.path.rstrip("/")):
            rel = path[len(loc.path.rstrip("/")) + 1 :]
            assert loc.fs.cat_file(path) == want[rel], f"{rel} partial"
    s3_proxy.plan = FaultPlan()
    _finish(argv)
    loc.fs.invalidate_cache()
    base = loc.path.rstrip("/")
    got = {p[len(base) + 1 :]: loc.fs.cat_file(p) for p in loc.fs.find(base)}
    assert got == want


def test_interruptions_survived() -> None:
    """How many signals hit a running command (shown with ``-rA``)."""
    print(f"interruptions: {SURVIVED}")
    assert SURVIVED["signalled"] > 0
