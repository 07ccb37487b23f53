"""``jasmin-access info`` and ``jasmin-access index``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr

import jasmin_access as ja
from jasmin_access.cli import cli
from jasmin_access.cli._common import run
from tests.reading.helpers import put_files, write_store


def _args(bucket: str, profile_for) -> list[str]:
    profile = profile_for(bucket)
    return ["--profile", profile] if profile else []


def test_info_text_and_json(
    bucket: str, profile_for, nemo_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ref = xr.open_mfdataset(nemo_files, data_vars="minimal", coords="minimal").load()
    url = write_store(ref, f"{bucket}/run.zarr", profile_for(bucket))
    assert run(cli, ["info", url, *_args(bucket, profile_for)]) == 0
    out = capsys.readouterr().out
    assert "zarr v3" in out and "thetao" in out and "time: 1976-01-16" in out
    assert run(cli, ["info", url, "--json", *_args(bucket, profile_for)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["dims"]["deptht"] == 5
    assert {v["name"] for v in record["variables"]} >= {"thetao", "so", "tos", "zos"}


def test_info_missing_store_is_one_line_error(
    local_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(cli, ["info", f"{local_bucket}/none.zarr"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("jasmin-access: error: no Zarr store") and "\n" not in err


def test_index_command_default_and_explicit_dest(
    bucket: str, profile_for, nemo_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(nemo_files, f"{bucket}/run", profile_for(bucket))
    args = _args(bucket, profile_for)
    assert run(cli, ["index", f"{bucket}/run/*.nc", *args]) == 0
    default = capsys.readouterr().out.strip()
    assert default == f"{bucket}/run/{nemo_files[0].stem}.index.json"
    dest = f"{bucket}/indexes/run.index.json"
    assert run(cli, ["index", f"{bucket}/run/*.nc", dest, "--json", *args]) == 0
    assert json.loads(capsys.readouterr().out)["index"] == dest
    ds = ja.open_dataset(dest, profile=profile_for(bucket))
    assert ds.sizes["time_counter"] == 3


def test_index_needs_sources(local_bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cli, ["index", f"{local_bucket}/x.index.json"]) == 2
    assert "at least one NetCDF source" in capsys.readouterr().err
