"""The commands start fast: nothing imported that the command does not use.

Each command runs in a fresh interpreter (as a user's shell would start it),
against a real S3 server and local paths, and reports which heavy modules
were loaded by the time it finished: no xarray, dask, zarr or pandas for the
pseudo-directory commands and for ``info`` of a Zarr store (not even numpy,
cftime or botocore there), and no command module at all for ``--help``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("xarray", "dask", "zarr", "pandas", "netCDF4", "distributed")
# what `info` of a Zarr store on S3 does without: the array stack, botocore, fsspec, asyncio
LIGHT_INFO = (*HEAVY, "numpy", "numcodecs", "cftime", "botocore", "s3fs", "fsspec", "asyncio")

_RUN = """
import json, sys
from jasmin_access.cli import cli
from jasmin_access.cli._common import run
code = run(cli, sys.argv[1:])
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def _loaded(*args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _RUN.format(heavy=heavy), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    last = json.loads(done.stderr.strip().splitlines()[-1])
    assert last["code"] == 0, done.stderr
    return list(last["heavy"])


@pytest.mark.parametrize(
    "command",
    [
        ["ls", "-l", "{bucket}/run"],
        ["du", "{bucket}", "-s"],
        ["cp", "-r", "{src}", "{bucket}/run"],
        ["cp", "-r", "{bucket}/run", "{dst}"],
        ["sync", "{src}", "{bucket}/mirror"],
        ["stat", "{bucket}/run/a.nc"],
    ],
)
def test_fs_commands_do_not_import_the_data_stack(
    s3_bucket: str, s3_profile: str, tmp_path: Path, command: list[str]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.nc").write_bytes(b"a" * 1000)
    (src / "b.nc").write_bytes(b"b" * 10)
    if command[0] != "cp" or command[2] != "{src}":  # the others need the prefix there
        assert _loaded("cp", "-r", str(src), f"{s3_bucket}/run", "-p", s3_profile) == []
    subs = {"bucket": s3_bucket, "src": str(src), "dst": str(tmp_path / "dst")}
    args = [part.format(**subs) for part in command]
    assert _loaded(*args, "-p", s3_profile) == []


def test_info_of_a_converted_store_imports_no_array_library(
    s3_bucket: str, s3_profile: str, nemo_files: list[Path]
) -> None:
    import jasmin_access as ja

    url = f"{s3_bucket}/run.zarr"
    ja.convert([str(f) for f in nemo_files], url, profile=s3_profile)
    assert _loaded("info", url, "-p", s3_profile, heavy=LIGHT_INFO) == []


def test_info_of_a_store_xarray_wrote_imports_no_array_library(
    s3_bucket: str, s3_profile: str, nemo_files: list[Path]
) -> None:
    """No time-coverage attributes there: the time coordinate's chunks are read and decoded."""
    import warnings

    import xarray as xr

    from jasmin_access.stores import resolve

    url = f"{s3_bucket}/xr.zarr"
    store = resolve(url, profile=s3_profile).zarr_store()
    with warnings.catch_warnings(), xr.open_dataset(nemo_files[0]) as ds:
        warnings.simplefilter("ignore")
        ds.to_zarr(store, zarr_format=3, consolidated=True, mode="w")
    assert "time_coverage_start" not in ds.attrs
    assert _loaded("info", url, "-p", s3_profile, heavy=LIGHT_INFO) == []


def test_help_imports_no_command_module() -> None:
    modules = ("jasmin_access.cli.fs_cmds", "jasmin_access.stores", "botocore", "fsspec")
    assert _loaded("--help", heavy=modules) == []


def test_help_lines_are_the_commands_own() -> None:
    import click

    from jasmin_access.cli import _COMMANDS, cli

    ctx = click.Context(cli)
    for name, (_module, _attr, line) in _COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(limit=1000) == line, name
