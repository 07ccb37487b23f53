"""The fault suite: every command survives a flaky store and gives the clean result.

Each operation runs once against the S3 server directly and once through the
fault-injecting proxy failing about 5 % of requests (503 SlowDown, 500, reset
connections, truncated bodies).  Results must be identical and faults must
actually have been injected.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import xarray as xr

import jasmin_access as ja
from jasmin_access.cli import cli
from jasmin_access.cli._common import run
from jasmin_access.stores import resolve
from tests.s3proxy import FaultPlan, S3Proxy

T = TypeVar("T")
KINDS = ("503", "500", "reset", "truncate")
ATTEMPTS = 25  # bounded: cheap operations are repeated until a fault hit them
TALLY: dict[str, int] = {"faults": 0}


@pytest.fixture
def bucket_pair(s3_profile: str) -> tuple[str, str]:
    """Two fresh buckets on the S3 server: one for the clean run, one for the faulty run."""
    names = []
    for _ in range(2):
        name = f"test-{uuid.uuid4().hex[:12]}"
        ja.mb(f"s3://{name}", profile=s3_profile)
        names.append(f"s3://{name}")
    return names[0], names[1]


def _flaky(proxy: S3Proxy, seed: int, **kw: Any) -> None:
    proxy.plan = FaultPlan(rate=0.05, kinds=KINDS, seed=seed, **kw)
    proxy.reset()


def _survive(proxy: S3Proxy, op: Callable[[], T], attempts: int = 1) -> list[T]:
    """Run ``op`` through the faulty proxy until at least one fault was injected."""
    results = []
    for _ in range(attempts):
        results.append(op())
        if proxy.faults_injected:
            break
    assert proxy.faults_injected > 0, "no fault was injected: the test proved nothing"
    TALLY["faults"] += proxy.faults_injected
    return results


def _open(url: str, profile: str) -> xr.Dataset:
    return ja.open_dataset(url, profile=profile, chunks=None).load()


def _same_store(a: xr.Dataset, b: xr.Dataset) -> None:
    """Arrays, coordinates and attributes equal, except run provenance."""
    xr.testing.assert_identical(_no_run(a), _no_run(b))


def _no_run(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in ("history", "jasmin_access")}
    return ds


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _objects(url: str, profile: str) -> dict[str, bytes]:
    loc = resolve(url, profile=profile)
    base = loc.path.rstrip("/")
    return {p[len(base) + 1 :]: loc.fs.cat_file(p) for p in loc.fs.find(base)}


CONVERT = {"chunks": {"time_counter": 8}, "workers": 2}


@pytest.fixture(scope="module")
def clean_stores(
    small_daily: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, xr.Dataset]:
    """Clean conversions (no proxy) of the first two files and of all three."""
    root = tmp_path_factory.mktemp("clean")
    files = [str(f) for f in small_daily]
    out = {}
    for name, chosen in (("two", files[:2]), ("three", files)):
        ja.convert(chosen, str(root / f"{name}.zarr"), **CONVERT)
        out[name] = ja.open_dataset(str(root / f"{name}.zarr"), chunks=None).load()
    return out


def test_convert_append_du_load_survive_faults(
    bucket_pair: tuple[str, str],
    s3_profile: str,
    proxied_profile: str,
    s3_proxy: S3Proxy,
    small_daily: list[Path],
    clean_stores: dict[str, xr.Dataset],
) -> None:
    _, flaky = bucket_pair
    url = f"{flaky}/run.zarr"
    first, last = [str(f) for f in small_daily[:2]], str(small_daily[2])
    _flaky(s3_proxy, seed=11)
    _survive(s3_proxy, lambda: ja.convert(first, url, profile=proxied_profile, **CONVERT))
    _same_store(_open(url, s3_profile), clean_stores["two"])

    _flaky(s3_proxy, seed=12)
    _survive(s3_proxy, lambda: ja.append(last, url, profile=proxied_profile, workers=2))
    want = _open(url, s3_profile)
    _same_store(want, clean_stores["three"])
    assert want.sizes["time_counter"] == 31 + 29 + 31

    want_du = [u.to_dict() for u in ja.du(flaky, profile=s3_profile)]
    _flaky(s3_proxy, seed=41)
    for got_du in _survive(s3_proxy, lambda: ja.du(flaky, profile=proxied_profile), ATTEMPTS):
        assert [u.to_dict() for u in got_du] == want_du

    _flaky(s3_proxy, seed=42)
    for got in _survive(s3_proxy, lambda: _open(url, proxied_profile), ATTEMPTS):
        xr.testing.assert_identical(got, want)
        np.testing.assert_array_equal(got["thetao"].values, want["thetao"].values)


def test_cp_up_and_down_survive_faults(
    bucket_pair: tuple[str, str],
    s3_profile: str,
    proxied_profile: str,
    s3_proxy: S3Proxy,
    small_daily: list[Path],
    small_nemo: list[Path],
    tmp_path: Path,
) -> None:
    _, flaky = bucket_pair
    src = small_daily[0].parent
    want = _files(src) | {f"more/{p.name}": p.read_bytes() for p in small_nemo}
    tree = tmp_path / "tree"
    tree.mkdir()
    for rel, data in want.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(data)
    _flaky(s3_proxy, seed=21)
    _survive(
        s3_proxy,
        lambda: ja.cp(str(tree), f"{flaky}/up/", recursive=True, profile=proxied_profile),
        ATTEMPTS,
    )
    assert _objects(f"{flaky}/up", s3_profile) == want

    _flaky(s3_proxy, seed=22)
    down = tmp_path / "down"
    _survive(
        s3_proxy,
        lambda: ja.cp(f"{flaky}/up/", str(down), recursive=True, profile=proxied_profile),
        ATTEMPTS,
    )
    assert _files(down) == want


def test_sync_survives_faults(
    bucket_pair: tuple[str, str],
    s3_profile: str,
    proxied_profile: str,
    s3_proxy: S3Proxy,
    small_nemo: list[Path],
    tmp_path: Path,
) -> None:
    _, flaky = bucket_pair
    src = tmp_path / "src"
    src.mkdir()
    for i, p in enumerate(small_nemo):
        (src / p.name).write_bytes(p.read_bytes())
        for j in range(6):
            (src / f"log{i}-{j}.txt").write_text(f"step {i} {j}\n" * (j + 1))
    _flaky(s3_proxy, seed=31)

    def go() -> Any:
        (src / "log0-0.txt").write_text(uuid.uuid4().hex)  # something to sync each round
        return ja.sync(str(src), f"{flaky}/mirror/", delete=True, profile=proxied_profile)

    _survive(s3_proxy, go, ATTEMPTS)
    assert _objects(f"{flaky}/mirror", s3_profile) == _files(src)


# --------------------------------------------------------------------------- quota


def _quota_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert run(cli, argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_full_quota_stops_convert_and_resumes(
    bucket_pair: tuple[str, str],
    s3_profile: str,
    proxied_profile: str,
    s3_proxy: S3Proxy,
    small_daily: list[Path],
    clean_stores: dict[str, xr.Dataset],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, full = bucket_pair
    files = [str(f) for f in small_daily]
    s3_proxy.fail(method="PUT", status=403, code="QuotaExceeded")
    argv = [
        "convert",
        *files,
        f"{full}/run.zarr",
        "-p",
        proxied_profile,
        "--chunks",
        "time_counter=8",
    ]
    line = _quota_line(capsys, argv)
    assert "quota" in line.lower() and f"{full}/run.zarr" in line, line
    assert "free" in line.lower() or "delete" in line.lower(), line  # says how to fix it
    with pytest.raises(ja.JasminAccessError):
        ja.open_dataset(f"{full}/run.zarr", profile=s3_profile)  # not openable as complete
    s3_proxy.clear_rules()
    assert run(cli, argv) == 0, capsys.readouterr().err
    _same_store(_open(f"{full}/run.zarr", s3_profile), clean_stores["three"])


def test_full_quota_stops_cp_and_resumes(
    bucket_pair: tuple[str, str],
    s3_profile: str,
    proxied_profile: str,
    s3_proxy: S3Proxy,
    small_nemo: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, full = bucket_pair
    src = small_nemo[0].parent
    s3_proxy.fail(method="PUT", status=403, code="QuotaExceeded", times=None)
    argv = ["cp", "-r", str(src), f"{full}/copy/", "-p", proxied_profile]
    code = run(cli, argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code in (1, 2)
    assert any("quota" in e.lower() for e in err), err
    assert not any("Traceback" in e for e in err)
    s3_proxy.clear_rules()
    assert run(cli, argv) == 0, capsys.readouterr().err
    assert _objects(f"{full}/copy", s3_profile) == _files(src)


# --------------------------------------------------------------------------- retries setting


@pytest.mark.parametrize("retries", [1, 4])
def test_profile_retries_take_effect(
    retries: int, s3_bucket: str, s3_proxy: S3Proxy, isolated_env: Path, tmp_path: Path
) -> None:
    """Three 503s in a row: a profile with 4 attempts survives, one with 1 does not."""
    from jasmin_access.config import add_profile
    from tests.conftest import TEST_KEY, TEST_SECRET

    name = f"r{retries}"
    add_profile(
        name,
        {"endpoint_url": s3_proxy.url, "key": TEST_KEY, "secret": TEST_SECRET, "retries": retries},
    )
    data = tmp_path / "a.bin"
    data.write_bytes(b"x" * 1000)
    s3_proxy.fail(method="PUT", status=503, code="SlowDown", times=3)
    if retries > 3:
        ja.cp(str(data), f"{s3_bucket}/a.bin", profile=name)
        assert ja.cat(f"{s3_bucket}/a.bin", profile=name) == data.read_bytes()
    else:
        with pytest.raises(ja.JasminAccessError):
            ja.cp(str(data), f"{s3_bucket}/a.bin", profile=name)
    assert s3_proxy.rules[0].hits == 3 if retries > 3 else s3_proxy.rules[0].hits >= 1
    puts = s3_proxy.count(method="PUT")
    assert puts == (4 if retries > 3 else s3_proxy.rules[0].hits)


def test_fault_tally(request: pytest.FixtureRequest) -> None:
    """Report how many faults the suite injected (shown with ``-rA``)."""
    print(json.dumps({"faults_injected": TALLY["faults"]}))
