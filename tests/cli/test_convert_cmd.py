"""``jasmin-access convert`` / ``verify``: exit codes, JSON summary, error lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import zarr

from jasmin_access.conversion.writer import StoreTarget
from jasmin_access.stores import resolve
from tests.cli.helpers import cli_run


def test_convert_and_verify(
    bucket: str, profile_for: Any, nemo_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    profile = profile_for(bucket)
    p = ["-p", profile] if profile else []
    files = [str(f) for f in nemo_files]
    url = f"{bucket}/cli.zarr"
    code, out, err = cli_run(
        capsys, "convert", *files, url, "--json", "--chunks", "time_counter=1", "--verify", *p
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["chunks_written"] == summary["chunks_total"] > 0
    assert summary["verified"] is True and summary["sources"] == 3
    code, out, err = cli_run(capsys, "convert", *files, url, *p)
    assert code == 1 and "already a Zarr store" in err and "--overwrite" in err
    code, out, _ = cli_run(capsys, "verify", *files, url, "--json", *p)
    assert code == 0 and json.loads(out)["ok"] is True
    target = StoreTarget.of(resolve(url, profile=profile), "tests")
    arr = zarr.open_array(target.zarr_store(), path="zos", mode="r+")
    arr[0, 0, 0] = 123.0
    code, out, err = cli_run(capsys, "verify", *files, url, *p)
    assert code == 1 and out.startswith("DIFF zos[") and "differs from its sources" in err


def test_convert_errors_are_one_line(
    tmp_path: Path, nemo_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    code, _, err = cli_run(
        capsys, "convert", str(nemo_files[0]), str(bad), str(tmp_path / "o.zarr")
    )
    assert code == 1 and err.count("\n") == 1 and "bad.nc is not a NetCDF file" in err
    code, _, err = cli_run(capsys, "convert", str(nemo_files[0]), str(tmp_path / "o.zarr"),
                           "--attrs", "novalue")  # fmt: skip
    assert code == 2 and "KEY=VALUE" in err
    assert not (tmp_path / "o.zarr").exists()


def test_compressor_and_level_reach_the_store(
    tmp_path: Path, nemo_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "lz4.zarr"
    code, _, err = cli_run(capsys, "convert", str(nemo_files[0]), str(dest),
                           "--compressor", "lz4", "--compression-level", "7", "-q")  # fmt: skip
    assert code == 0, err
    codec = zarr.open_array(str(dest), path="thetao", mode="r").compressors[0]
    assert (codec.cname.value, codec.clevel, codec.shuffle.value) == ("lz4", 7, "shuffle")
    code, _, err = cli_run(capsys, "convert", str(nemo_files[0]), str(tmp_path / "x.zarr"),
                           "--compression-level", "12")  # fmt: skip
    assert code == 2 and "--compression-level" in err and "0<=x<=9" in err
    assert not (tmp_path / "x.zarr").exists()


def test_console_script_with_glob_and_list(tmp_path: Path, nemo_files: list[Path]) -> None:
    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(str(f) for f in nemo_files[1:]) + "\n")
    exe = Path(sys.executable).with_name("jasmin-access")
    glob = str(nemo_files[0].parent / "*_19760101_*.nc")
    dest = str(tmp_path / "script.zarr")
    proc = subprocess.run(
        [str(exe), "convert", glob, f"@{listing}", dest, "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    group = zarr.open_group(dest, mode="r")
    assert group["time_counter"].shape == (3,)
    sources = [s["name"] for s in group.attrs["jasmin_access"]["sources"]]
    assert sources == [str(f) for f in nemo_files]


def test_append_command(
    tmp_path: Path, nemo_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    dest = str(tmp_path / "grow.zarr")
    files = [str(f) for f in nemo_files]
    assert cli_run(capsys, "convert", *files[:2], dest, "-q")[0] == 0
    code, out, _ = cli_run(capsys, "append", files[2], dest, "--json")
    assert code == 0 and json.loads(out)["chunks_written"] > 0
    assert zarr.open_group(dest, mode="r")["time_counter"].shape == (3,)
    code, _, err = cli_run(capsys, "append", files[1], dest)
    assert code == 1 and "already in the store" in err and "--replace" in err
    assert cli_run(capsys, "append", files[1], dest, "--replace", "-q")[0] == 0


def test_time_variable_on_xios_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.data.producers import xios_monthly

    files = [str(f) for f in xios_monthly(tmp_path / "xios")]
    url = f"{tmp_path}/nemo.zarr"
    code, _, err = cli_run(capsys, "convert", *files[:2], url, "--time-variable", "time_centered")
    assert code == 0, err
    code, out, err = cli_run(capsys, "info", url)
    assert code == 0 and "time: 1976-11-16 00:00:00 .. 1976-12-16 00:00:00 (360_day" in out
    code, _, err = cli_run(capsys, "append", files[1], url)
    assert code == 1 and err.count("\n") == 1
    assert "steps 1976-12-16 00:00:00 to 1976-12-16 00:00:00 are already in the store" in err
    code, _, err = cli_run(capsys, "append", files[2], url, "--time-variable", "time_centered")
    assert code == 0, err
    code, out, err = cli_run(capsys, "verify", *files, url, "--time-variable", "time_centered")
    assert code == 0 and "match" in out, err
    code, _, err = cli_run(capsys, "convert", *files, f"{tmp_path}/x.zarr", "--time-variable", "y")
    assert code == 1 and err.count("\n") == 1
    assert "time variable 'y' is not a variable along the record dimension" in err
