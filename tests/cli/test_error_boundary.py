"""The CLI's last line of defence: errors raised outside a translating block, exit noise."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from jasmin_access.cli import cli
from jasmin_access.cli._common import _context_of, run
from jasmin_access.stores import resolve


def _public_url(s3_endpoint: str, bucket: str, key: str) -> str:
    return f"{s3_endpoint}/{bucket.removeprefix('s3://')}/{key}"


def test_anonymous_read_of_private_data_is_one_translated_line(
    s3_bucket: str, s3_profile: str, s3_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    loc = resolve(f"{s3_bucket}/private.zarr", profile=s3_profile)
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_zarr(loc.zarr_store(), zarr_format=3)
    code = run(cli, ["info", _public_url(s3_endpoint, s3_bucket, "private.zarr")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1, err
    assert err[0].startswith("jasmin-access: error: access denied reading http://")
    assert "may not be public" in err[0] and "Traceback" not in err[0]


def test_context_of_a_command_line() -> None:
    argv = ["-p", "jasmin", "--endpoint-url", "http://x", "info", "s3://b/k", "-v"]
    assert _context_of(argv) == ("info", "http://x", "jasmin")
    assert _context_of(["--profile=p", "ls", "s3://b/"]) == ("ls", "s3://b/", "p")


def test_no_unclosed_session_noise_at_exit(s3_bucket: str, s3_profile: str) -> None:
    """Reading from S3 in a script leaves nothing on stderr at interpreter exit."""
    loc = resolve(f"{s3_bucket}/quiet.zarr", profile=s3_profile)
    xr.Dataset({"a": ("x", np.arange(5.0))}).to_zarr(loc.zarr_store(), zarr_format=3)
    code = (
        "import jasmin_access as ja\n"
        f"ds = ja.open_dataset({s3_bucket + '/quiet.zarr'!r}, profile={s3_profile!r})\n"
        "print(float(ds['a'].sum()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "10.0"
    assert "Unclosed" not in done.stderr
