"""Credentials hygiene on users' own storage: the password or key appears in nothing produced.

For WebDAV (password), SFTP (password) and Azure (account key), one session of
commands runs through the CLI with ``-vv``: convert into the storage, ls, du,
cp, info, index, open, read tasks, rm.  Gathered: stdout, stderr, every log
record, every file the server holds afterwards, the pickles.  The secret must
occur in none of it.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

import jasmin_access as ja
from jasmin_access.cli import cli
from jasmin_access.cli._common import run
from jasmin_access.config import add_profile
from tests.backends.servers import AZURITE_KEY, SFTP_PASSWORD, SFTP_USER, WEBDAV_PASSWORD
from tests.conftest import _bucket_name


@pytest.fixture(params=["webdav", "sftp", "az"])
def own(request: pytest.FixtureRequest, isolated_env: Path) -> tuple[str, str, Path]:
    """``(base URL, secret, server directory)`` on a password/key profile named "own"."""
    if request.param == "webdav":
        server = request.getfixturevalue("webdav_server")
        add_profile("own", server.profile_settings())
        return f"webdav://{_bucket_name()}", WEBDAV_PASSWORD, server.root
    if request.param == "sftp":
        server = request.getfixturevalue("sftp_server")
        settings = {**server.profile_settings(), "secret": SFTP_PASSWORD, "user": SFTP_USER}
        del settings["key_file"]
        add_profile("own", settings)
        return f"sftp://{_bucket_name()}", SFTP_PASSWORD, server.root
    server = request.getfixturevalue("azurite")
    add_profile("own", server.profile_settings())
    return ja.fs.mb(f"az://{_bucket_name()}", profile="own"), AZURITE_KEY, server.root


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str], produced: list[str]) -> None:
    code = run(cli, ["-vv", *argv, "-p", "own"])
    out = capsys.readouterr()
    produced.append(out.out + out.err)
    assert code == 0, out.err


def test_no_secret_anywhere_after_a_session(
    own: tuple[str, str, Path],
    nemo_files: list[Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    base, secret, served = own
    store, raw = f"{base}/run.zarr", f"{base}/raw/"
    files = [str(f) for f in nemo_files]
    produced: list[str] = []
    for argv in (
        ["config", "show", "own"],
        ["convert", *files, store],
        ["ls", f"{base}/"],
        ["du", base],
        ["cp", files[0], raw],
        ["info", store],
        ["index", f"{raw}*.nc", f"{base}/raw/run.index.json"],
        ["info", f"{base}/raw/run.index.json"],
    ):
        _cli(argv, capsys, produced)
    ds = ja.open_dataset(store, profile="own")
    blobs = [pickle.dumps(ds), pickle.dumps(ja.resolve(store, profile="own"))]
    blobs += [pickle.dumps(t) for t in ja.slices(store, profile="own", n=2)]
    assert pickle.loads(blobs[-1]).open().load().sizes["time_counter"] > 0  # still usable
    _cli(["rm", "-r", "-y", raw], capsys, produced)
    held = [p.read_bytes() for p in served.rglob("*") if p.is_file()]
    assert len(held) > 3  # the store and the index were written there
    assert sum("DEBUG" in text for text in produced) >= 5  # -vv logged to stderr
    for text in [*produced, caplog.text]:
        assert secret not in text
    for data in [*held, *blobs]:
        assert secret.encode() not in data
