"""Pools mixing the moto S3 server, the embedded store and a local directory; nesting; failures."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import jasmin_access as ja
from jasmin_access import pools
from jasmin_access.config import add_profile
from jasmin_access.fs import cat, cp, du, ls, rm, tree
from tests.cli.helpers import cli_run
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.pools.conftest import define, put


@pytest.fixture
def mixed(s3_bucket: str, s3_profile: str, local_bucket: str, tmp_path: Path) -> str:
    disk = tmp_path / "gws"
    disk.mkdir()
    return define(
        "mix",
        [{"id": "tenancy", "url": f"{s3_bucket}/data", "profile": s3_profile, "order": 0,
          "quota": "10 MB"},
         {"id": "store", "url": f"{local_bucket}/pool", "order": 1},
         {"id": "gws", "url": str(disk), "order": 2, "labels": {"tier": "cold"}}],
        rules=[{"match": "*_1d_*", "to": "tier=cold"}],
    )  # fmt: skip


def test_every_command_and_opener_through_one_url(
    mixed: str, nemo_files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ja.convert([str(p) for p in nemo_files[:2]], f"{mixed}/run1.zarr")
    ja.append([str(nemo_files[2])], f"{mixed}/run1.zarr")
    ds = ja.open_dataset(f"{mixed}/run1.zarr")
    want = xr.open_mfdataset([str(p) for p in nemo_files], combine="by_coords")
    np.testing.assert_array_equal(ds["thetao"].values, want["thetao"].values)
    assert pools.where(f"{mixed}/run1.zarr")["backend"] == "tenancy"
    cp(str(nemo_files[0]), f"{mixed}/ORCA_1d_x/file.nc")
    cp(str(nemo_files[1]), f"{mixed}/store_only/file.nc")
    pools.move(f"{mixed}/store_only", "store", grace=0)
    assert {e.name for e in ls(f"{mixed}/")} == {"run1.zarr", "ORCA_1d_x", "store_only"}
    assert pools.where(f"{mixed}/ORCA_1d_x")["backend"] == "gws"
    total = du(f"{mixed}/", summarize=True)
    assert total[0].bytes > 100_000 and total[0].objects > 10
    assert "run1.zarr" in str(tree(f"{mixed}/"))
    assert cat(f"{mixed}/store_only/file.nc") == nemo_files[1].read_bytes()
    code, out, err = cli_run(capsys, "info", f"{mixed}/run1.zarr")
    assert code == 0 and "time_counter: 3" in out, err
    cp(f"{mixed}/", str(tmp_path / "back"), recursive=True)  # a whole pool out
    assert (tmp_path / "back" / "store_only" / "file.nc").read_bytes() == nemo_files[1].read_bytes()
    rm(f"{mixed}/ORCA_1d_x", recursive=True)
    assert "ORCA_1d_x" not in {e.name for e in ls(f"{mixed}/")}
    rows = {r["backend"]: r for r in pools.status("mix", refresh=True)}
    assert rows["tenancy"]["datasets"] == 1 and rows["store"]["datasets"] == 1
    assert 0 < rows["tenancy"]["percent_full"] < 100 and rows["tenancy"]["reachable"]
    assert 0 <= rows["tenancy"]["usage_age_s"] < 60


def test_nested_pool_as_one_backend(dirs: list[Path]) -> None:
    define("inner", [{"id": "x", "url": str(dirs[1])}, {"id": "y", "url": str(dirs[2])}],
           type="distributed")  # fmt: skip
    fast = {"id": "fast", "url": str(dirs[0]), "order": 1, "weight": 0}
    outer = define("outer", [{"id": "spread", "url": "pool://inner", "order": 0}, fast])
    for i in range(10):
        put(f"{outer}/ds{i}/x", b"abc")
    on_inner = [p.name for d in dirs[1:] for p in d.iterdir() if not p.name.startswith(".")]
    assert sorted(on_inner) == [f"ds{i}" for i in range(10)]
    assert pools.where(f"{outer}/ds3")["backend"] == "spread"
    assert cat(f"{outer}/ds3/x") == b"abc" and len(ls(f"{outer}/")) == 10


def test_unreachable_backend_lists_the_rest_and_says_which(
    dirs: list[Path], closed_endpoint: str, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    add_profile("gone", {"endpoint_url": closed_endpoint, "key": TEST_KEY,
                         "secret": TEST_SECRET, "retries": 0})  # fmt: skip
    remote = {"id": "remote", "url": "s3://far/data", "profile": "gone", "order": 1}
    url = define("u", [{"id": "disk", "url": str(dirs[0]), "order": 0}, remote])
    put(f"{url}/here/x", b"1")
    caplog.set_level(logging.WARNING)
    assert [e.name for e in ls(f"{url}/")] == ["here"]
    assert any("backend remote" in r.getMessage() for r in caplog.records)
    rows = {r["backend"]: r for r in pools.status("u", refresh=True)}
    assert rows["disk"]["reachable"] and not rows["remote"]["reachable"]
    assert "s3://far/data" in rows["remote"]["error"]
    code, out, err = cli_run(capsys, "pool", "status", "u", "--refresh")
    assert code == 0 and "UNREACHABLE" in out and "Traceback" not in err
