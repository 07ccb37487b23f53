"""Users' own storage end to end, as a user drives it: profile made with the CLI, every fs
command, convert to and from it, open and info, copies across backends, one-line errors.

Each backend runs against a real server started by the suite (WsgiDAV for WebDAV).
"""

from __future__ import annotations

import io
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import jasmin_access as ja
from jasmin_access import fs
from jasmin_access.config import load_config
from jasmin_access.errors import NotFound
from tests.backends.servers import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    SFTP_USER,
    WEBDAV_PASSWORD,
    WEBDAV_USER,
)
from tests.cli.helpers import cli_run
from tests.conftest import _bucket_name, _free_port


def _add_with_cli(capsys: pytest.CaptureFixture[str], monkeypatch, stdin: str, *args: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin + "\n"))
    code, out, err = cli_run(capsys, "config", "add", *args)
    assert code == 0, err
    assert not stdin or stdin not in out + err


@pytest.fixture(params=["webdav", "sftp", "az"])
def own(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], monkeypatch
) -> tuple[str, str]:
    """``(scheme, profile)``: a WebDAV, SFTP or Azure profile made exactly as the docs say."""
    if request.param == "webdav":
        server = request.getfixturevalue("webdav_server")
        _add_with_cli(
            capsys, monkeypatch, WEBDAV_PASSWORD, "nc", "--type", "webdav",
            "--endpoint-url", server.url, "--user", WEBDAV_USER, "--secret-stdin",
        )  # fmt: skip
        assert load_config().profiles["nc"].type == "webdav"
        return "webdav", "nc"
    if request.param == "az":
        azurite = request.getfixturevalue("azurite")
        _add_with_cli(
            capsys, monkeypatch, AZURITE_KEY, "blob", "--type", "azure",
            "--account", AZURITE_ACCOUNT, "--endpoint-url", azurite.endpoint, "--secret-stdin",
        )  # fmt: skip
        return "az", "blob"
    server = request.getfixturevalue("sftp_server")
    _add_with_cli(
        capsys, monkeypatch, "", "login", "--type", "sftp", "--host", "127.0.0.1",
        "--port", str(server.port), "--user", SFTP_USER, "--key-file", str(server.client_key),
    )  # fmt: skip
    assert load_config().profiles["login"].port == server.port
    return "sftp", "login"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A local directory tree: nested files, an empty one, a unicode name."""
    root = tmp_path / "run1"
    (root / "sub").mkdir(parents=True)
    (root / "a.nc").write_bytes(b"a" * 1000)
    (root / "sub" / "b.nc").write_bytes(b"b" * 2000)
    (root / "sub" / "été.txt").write_bytes(b"")
    return root


def test_every_fs_command(
    own: tuple[str, str], run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scheme, prof = own
    base = f"{scheme}://{_bucket_name()}"
    if scheme == "az":
        fs.mb(base, profile=prof)  # containers are buckets
    code, _, err = cli_run(capsys, "cp", "-r", str(run_dir), f"{base}/run1", "-p", prof)
    assert code == 0, err
    code, out, _ = cli_run(capsys, "ls", f"{base}/run1", "-p", prof)
    assert code == 0 and "a.nc" in out and "sub/" in out
    assert fs.du(f"{base}/run1", summarize=True, profile=prof)[0].bytes == 3000
    tree = fs.tree(f"{base}/run1", profile=prof)
    assert sorted(c.name for c in tree.children) == ["a.nc", "sub"]
    found = [e.name for e in fs.find(f"{base}/run1", name="*.nc", profile=prof)]
    assert sorted(found) == ["a.nc", "b.nc"]
    assert fs.stat(f"{base}/run1/sub/b.nc", profile=prof).size == 2000
    assert fs.cat(f"{base}/run1/a.nc", byte_range="10-19", profile=prof) == b"a" * 10
    assert fs.head(f"{base}/run1/sub/b.nc", nbytes=3, profile=prof) == b"bbb"
    moved = fs.mv(f"{base}/run1/a.nc", f"{base}/moved/a.nc", profile=prof)
    assert moved.count("copied") == 1
    assert [e.name for e in fs.ls(f"{base}/moved", profile=prof)] == ["a.nc"]
    (run_dir / "new.nc").write_bytes(b"n" * 10)
    synced = fs.sync(str(run_dir), f"{base}/run1", profile=prof)
    assert synced.count("copied") == 2  # new.nc, and a.nc (moved away)
    assert synced.count("skipped") == 2
    back = tmp_path / "back"
    fs.cp(f"{base}/run1", str(back), recursive=True, profile=prof)
    assert (back / "sub" / "été.txt").read_bytes() == b""
    assert (back / "sub" / "b.nc").read_bytes() == b"b" * 2000
    removed = fs.rm(f"{base}/run1", recursive=True, profile=prof)
    assert len(removed.paths) == 4
    with pytest.raises(NotFound):
        fs.ls(f"{base}/run1", profile=prof)


def test_copies_across_every_pair_of_backends(
    webdav_profile: str, sftp_profile: str, azure_container: str, s3_bucket: str,
    local_bucket: str, run_dir: Path, tmp_path: Path,
) -> None:  # fmt: skip
    # one --profile per command: the s3 one; webdav://, sftp://, az:// take their only profiles
    places = {
        "local": str(tmp_path / "plain"),
        "store": f"{local_bucket}/tree",
        "s3": f"{s3_bucket}/tree",
        "webdav": f"webdav://{_bucket_name()}/tree",
        "sftp": f"sftp://{_bucket_name()}/tree",
        "azure": f"{azure_container}/tree",
    }
    expected = {"a.nc": b"a" * 1000, "sub/b.nc": b"b" * 2000, "sub/été.txt": b""}
    for url in places.values():
        fs.cp(str(run_dir), url, recursive=True, profile="moto")
    for src_name, src in places.items():
        for dst_name, dst in places.items():
            if src_name == dst_name:
                continue
            target = f"{dst}-from-{src_name}"
            report = fs.cp(src, target, recursive=True, profile="moto")
            assert report.count("copied") == 3, (src_name, dst_name)
            got = {e.path[len(target) + 1 :]: e.size for e in fs.walk(target, profile="moto")}
            assert got == {k: len(v) for k, v in expected.items()}, (src_name, dst_name)
            assert fs.cat(f"{target}/sub/b.nc", profile="moto") == expected["sub/b.nc"]
            again = fs.sync(src, target, checksum=True, profile="moto")
            assert again.count("copied") + again.count("skipped") == 3


def test_remote_to_remote_copy_streams_and_is_verified(
    webdav_profile: str, sftp_profile: str, azure_container: str, s3_bucket: str, tmp_path: Path
) -> None:
    data = np.random.default_rng(0).bytes(3 << 20)
    (tmp_path / "big.bin").write_bytes(data)
    chain = [
        f"webdav://{_bucket_name()}/big.bin",
        f"{s3_bucket}/big.bin",
        f"sftp://{_bucket_name()}/big.bin",
        f"{azure_container}/big.bin",
        f"webdav://{_bucket_name()}/back.bin",
    ]
    fs.cp(str(tmp_path / "big.bin"), chain[0], profile="moto")
    for src, dst in itertools.pairwise(chain):
        assert fs.cp(src, dst, profile="moto").count("copied") == 1
        assert fs.cat(dst, profile="moto") == data, dst


def test_convert_to_and_from_own_storage_then_open(
    webdav_profile: str, sftp_profile: str, azure_container: str, s3_bucket: str,
    nemo_files: list[Path],
) -> None:  # fmt: skip
    ref = xr.open_mfdataset(nemo_files, data_vars="minimal", coords="minimal", compat="override")
    name = next(n for n in ref.data_vars if ref[n].ndim >= 3)
    for scheme in ("webdav", "sftp", "az"):
        own = f"{scheme}://{_bucket_name()}" if scheme != "az" else f"{azure_container}/x"
        fs.cp(str(nemo_files[0].parent), f"{own}/nemo", recursive=True, profile="moto")
        ja.convert(f"{own}/nemo/*.nc", f"{s3_bucket}/from-{scheme}.zarr", profile="moto")
        ja.convert([str(p) for p in nemo_files], f"{own}/run.zarr", profile="moto")
        for url in (f"{own}/run.zarr", f"{s3_bucket}/from-{scheme}.zarr"):
            ds = ja.open_dataset(url, profile="moto")
            np.testing.assert_array_equal(ds[name].values, ref[name].values)
        assert ja.info(f"{own}/run.zarr", profile="moto") is not None
        nc = ja.open_dataset(f"{own}/nemo/{nemo_files[0].name}", profile="moto")
        np.testing.assert_array_equal(nc[name].values, ref[name].isel(time_counter=[0]).values)


@pytest.mark.parametrize("fault", ["password", "port", "directory"])
def test_bad_settings_give_one_clear_line(
    own: tuple[str, str], fault: str, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    scheme, prof = own
    table = dict(load_config().profiles[prof].masked())
    args = ["bad", "--type", "azure" if scheme == "az" else scheme]
    if scheme == "az":
        endpoint = table["endpoint_url"]
        if fault == "port":
            endpoint = endpoint.replace(endpoint.split(":")[2].split("/")[0], str(_free_port()))
        secret = AZURITE_KEY.replace("E", "F", 1) if fault == "password" else AZURITE_KEY
        args += ["--account", AZURITE_ACCOUNT, "--endpoint-url", endpoint, "--secret-stdin"]
    elif scheme == "webdav":
        url = f"http://127.0.0.1:{_free_port()}" if fault == "port" else table["endpoint_url"]
        secret = "not-the-password-9" if fault == "password" else WEBDAV_PASSWORD
        args += ["--endpoint-url", url, "--user", WEBDAV_USER, "--secret-stdin"]
    else:
        port = _free_port() if fault == "port" else table["port"]
        secret = "not-the-password-9" if fault == "password" else ""
        args += ["--host", "127.0.0.1", "--port", str(port), "--user", SFTP_USER]
        args += ["--secret-stdin"] if secret else ["--key-file", table["key_file"]]
    _add_with_cli(capsys, monkeypatch, secret, *args)
    code, out, err = cli_run(capsys, "ls", f"{scheme}://no-such-directory/x", "-p", "bad")
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and (not secret or secret not in err)
    expected = {"password": "refused", "port": "cannot reach", "directory": "not exist"}[fault]
    assert expected in lines[0].replace("no such", "does not exist")
    code, out, err = cli_run(capsys, "config", "test", "bad")
    assert (code == 0) == (fault == "directory"), out + err  # the root lists fine there
    assert "Traceback" not in err and (not secret or secret not in out + err)


def test_azure_connection_string_profile_and_secrets_hidden(
    azurite: object, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    conn = azurite.connection_string()  # type: ignore[attr-defined]
    monkeypatch.setattr(sys, "stdin", io.StringIO(conn + "\n"))
    code, _, err = cli_run(capsys, "config", "add", "cs", "--type", "azure",
                           "--connection-string-stdin")  # fmt: skip
    assert code == 0, err
    code, out, err = cli_run(capsys, "-v", "mb", f"az://{_bucket_name()}", "-p", "cs")
    assert code == 0, err
    code, out, err = cli_run(capsys, "-vv", "ls", "az://", "-p", "cs")
    assert code == 0 and "test-" in out
    code, shown, _ = cli_run(capsys, "config", "show", "cs")
    assert "****" in shown
    for text in (out, err, shown):
        assert AZURITE_KEY not in text and "AccountKey=Eby8" not in text
