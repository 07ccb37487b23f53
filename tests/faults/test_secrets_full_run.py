"""Credentials hygiene over a whole session: the secret appears in nothing produced.

One sequence of commands (config show, convert, ls, du, cp, info, index, open
and load, pickled read tasks, append, rm) runs through the CLI with ``-vv``
against the S3 server.  Everything it produces is gathered: stdout, stderr,
every log record, every object written to the bucket (metadata, journals,
indexes), the config dumps and the pickles.  The secret key must occur in none
of it; the access key id only where the user asked to see it (``config show``).
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

import jasmin_access as ja
from jasmin_access.cli import cli
from jasmin_access.cli._common import run
from tests.conftest import TEST_KEY, TEST_SECRET


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str], produced: list[str]) -> None:
    code = run(cli, ["-vv", *argv])
    out = capsys.readouterr()
    produced.append(out.out + out.err)
    assert code == 0, out.err


def test_no_secret_anywhere_after_a_full_run(
    s3_bucket: str,
    s3_profile: str,
    small_daily: list[Path],
    isolated_env: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    files = [str(f) for f in small_daily]
    store, raw = f"{s3_bucket}/run.zarr", f"{s3_bucket}/raw/"
    shown: list[str] = []
    _cli(["config", "show", s3_profile], capsys, shown)
    produced: list[str] = []
    steps = [
        ["convert", *files[:2], store, "-p", s3_profile],
        ["ls", "-p", s3_profile, f"{s3_bucket}/"],
        ["du", "-p", s3_profile, s3_bucket],
        ["cp", files[0], raw, "-p", s3_profile],
        ["cp", files[1], raw, "-p", s3_profile],
        ["info", store, "-p", s3_profile],
        ["index", f"{raw}*.nc", f"{s3_bucket}/raw/run.index.json", "-p", s3_profile],
        ["append", files[2], store, "-p", s3_profile],
        ["info", f"{s3_bucket}/raw/run.index.json", "-p", s3_profile],
    ]
    for argv in steps:
        _cli(argv, capsys, produced)
    ds = ja.open_dataset(store, profile=s3_profile)
    assert ds.sizes["time_counter"] == 31 + 29 + 31
    blobs = [pickle.dumps(ds), pickle.dumps(ds.load())]
    tasks = ja.slices(store, profile=s3_profile, n=3)
    blobs += [pickle.dumps(t) for t in tasks]
    assert pickle.loads(blobs[-1]).open().load().sizes["time_counter"] > 0  # still usable
    loc = ja.resolve(s3_bucket, profile=s3_profile)
    blobs.append(pickle.dumps(loc))
    loc.fs.invalidate_cache()
    stored = {p: loc.fs.cat_file(p) for p in loc.fs.find(loc.path)}
    assert any(p.endswith("zarr.json") for p in stored) and any(".index.json" in p for p in stored)
    _cli(["rm", "-r", "-y", f"{s3_bucket}/raw/", "-p", s3_profile], capsys, produced)
    config_files = [p.read_bytes() for p in isolated_env.rglob("*") if p.is_file()]
    logs = caplog.text

    secret, key = TEST_SECRET.encode(), TEST_KEY.encode()
    for text in [*shown, *produced, logs]:
        assert TEST_SECRET not in text
    for text in [*produced, logs]:
        assert TEST_KEY not in text
    for path, data in stored.items():
        assert secret not in data and key not in data, path
    for blob in blobs:
        assert secret not in blob and key not in blob
    # the config file holds the secret (that is where it lives); nothing else under home does
    holders = [data for data in config_files if secret in data]
    assert len(holders) <= 1
    assert sum("DEBUG" in text for text in produced) >= len(steps)  # -vv logged to stderr
