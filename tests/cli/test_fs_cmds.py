"""The fs commands end to end through the CLI error boundary: output, JSON, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jasmin_access.cli import cli
from jasmin_access.cli._common import run
from jasmin_access.stores import resolve
from tests.cli.helpers import cli_run


@pytest.fixture
def filled(bucket: str, profile_for) -> tuple[str, list[str]]:
    """A bucket with run1/ and run10/, and the profile arguments to reach it."""
    p = profile_for(bucket)
    for key, data in {"run1/a.nc": b"a" * 10, "run1/sub/b.nc": b"bb", "run10/c.nc": b"c"}.items():
        loc = resolve(f"{bucket}/{key}", profile=p)
        loc.fs.pipe_file(loc.path, data)
    return bucket, (["-p", p] if p else [])


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_ls(filled, capsys) -> None:
    bucket, p = filled
    code, out, _ = cli_run(capsys, "ls", *p, f"{bucket}/run1")
    assert code == 0 and out.splitlines() == ["a.nc", "sub/"]
    code, out, _ = cli_run(capsys, "ls", "-l", "-h", *p, f"{bucket}/run1")
    assert code == 0 and "10 B" in out and "a.nc" in out
    code, out, _ = cli_run(capsys, "ls", "-R", "--json", *p, f"{bucket}/run1")
    rows = records(out)
    assert {"path", "type", "size", "last_modified", "etag"} <= set(rows[0])
    assert f"{bucket}/run1/sub/b.nc" in [r["path"] for r in rows]
    code, out, _ = cli_run(capsys, "ls", *p, f"{bucket}/run*/*.nc")
    assert out.splitlines() == ["run1/a.nc", "run10/c.nc"]  # relative to the glob base


def test_ls_missing_bucket_one_line(filled, capsys) -> None:
    bucket, p = filled
    scheme = bucket.split("://")[0]
    code, out, err = cli_run(capsys, "ls", *p, f"{scheme}://no-such-bucket-zz/x")
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("jasmin-access: error: bucket 'no-such-bucket-zz' does not exist")


def test_du(filled, capsys) -> None:
    bucket, p = filled
    code, out, _ = cli_run(capsys, "du", "--json", *p, bucket)
    rows = {r["path"]: r for r in records(out)}
    assert code == 0 and rows[f"{bucket}/run1/"]["bytes"] == 12
    assert rows[f"{bucket}/run1/"]["objects"] == 2
    code, out, _ = cli_run(capsys, "du", "-s", "--inodes", *p, bucket)
    assert out.split() == ["3", bucket]
    code, out, _ = cli_run(capsys, "du", "-d", "1", "-h", *p, bucket)
    assert "12 B" in out and "sub" not in out


def test_tree_find_stat_cat_head(filled, capsysbinary) -> None:
    bucket, p = filled
    assert run(cli, ["tree", *p, bucket]) == 0
    out = capsysbinary.readouterr().out.decode()
    assert "├── run1/" in out and "│   └── sub/" in out
    assert run(cli, ["find", *p, bucket, "--name", "*.nc", "--min-size", "2"]) == 0
    assert capsysbinary.readouterr().out.decode().split() == [
        f"{bucket}/run1/a.nc",
        f"{bucket}/run1/sub/b.nc",
    ]
    assert run(cli, ["stat", "--json", *p, f"{bucket}/run1/a.nc"]) == 0
    info = json.loads(capsysbinary.readouterr().out)
    assert info["size"] == 10 and info["etag"]
    assert run(cli, ["cat", *p, f"{bucket}/run1/a.nc", "--range", "2-4"]) == 0
    assert capsysbinary.readouterr().out == b"aaa"
    assert run(cli, ["head", *p, "-c", "4", f"{bucket}/run1/a.nc"]) == 0
    assert capsysbinary.readouterr().out == b"aaaa"
    assert run(cli, ["cat", *p, f"{bucket}/run1/a.nc", "--range", "9-2"]) == 1
    assert b"ends before it starts" in capsysbinary.readouterr().err


def test_cp_mv_sync(filled, capsys, tmp_path: Path) -> None:
    bucket, p = filled
    code, _, err = cli_run(capsys, "cp", "-r", *p, f"{bucket}/run1", str(tmp_path / "d"))
    assert code == 0 and "2 copied" in err
    assert (tmp_path / "d" / "sub" / "b.nc").read_bytes() == b"bb"
    code, out, _ = cli_run(capsys, "cp", "-r", "--json", *p, str(tmp_path / "d"), f"{bucket}/up")
    assert records(out)[-1]["copied"] == 2
    code, _, err = cli_run(capsys, "cp", *p, f"{bucket}/run1", str(tmp_path / "x"))
    assert code == 1 and "use -r" in err
    code, _, _ = cli_run(capsys, "mv", "-r", *p, f"{bucket}/up", f"{bucket}/moved")
    assert code == 0
    code, _, err = cli_run(capsys, "ls", *p, f"{bucket}/up")
    assert code == 1 and "no such object or prefix" in err
    (tmp_path / "d" / "a.nc").unlink()
    code, out, _ = cli_run(
        capsys, "sync", "--delete", "--dry-run", *p, str(tmp_path / "d"), f"{bucket}/moved"
    )
    assert code == 0 and f"would-delete  {bucket}/moved/a.nc" in out


def test_cp_partial_failure_exit_2(
    s3_bucket: str, s3_profile: str, local_bucket: str, capsys
) -> None:
    loc = resolve(s3_bucket, profile=s3_profile)
    loc.fs.pipe_file(f"{loc.bucket}/t/p", b"object")
    loc.fs.pipe_file(f"{loc.bucket}/t/p/x", b"inside")
    code, _, err = cli_run(
        capsys, "cp", "-r", "-p", s3_profile, f"{s3_bucket}/t", f"{local_bucket}/t"
    )
    assert code == 2
    assert "failed:" in err and "1 of 2 files failed to copy" in err


def test_rm(filled, capsys) -> None:
    bucket, p = filled
    code, _, err = cli_run(capsys, "rm", "-r", *p, f"{bucket}/run1")
    assert code == 1 and "without confirmation" in err and "-y" in err  # stdin is not a terminal
    code, out, _ = cli_run(capsys, "rm", "-r", "--dry-run", *p, f"{bucket}/run1")
    assert code == 0 and sorted(out.splitlines()) == [
        f"would delete {bucket}/run1/a.nc",
        f"would delete {bucket}/run1/sub/b.nc",
    ]
    code, _, err = cli_run(capsys, "rm", "-r", "-y", *p, bucket)
    assert code == 1 and "--force" in err
    code, _, err = cli_run(capsys, "rm", "-r", "-y", *p, f"{bucket}/run1")
    assert code == 0 and "deleted 2 objects" in err
    code, out, _ = cli_run(capsys, "ls", *p, bucket)
    assert out.splitlines() == ["run10/"]


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("jasmin-access")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def test_console_script_rm_refuses_off_terminal(local_bucket: str) -> None:
    for key in ("x/a.nc", "x/b.nc", "one.nc"):
        loc = resolve(f"{local_bucket}/{key}")
        loc.fs.pipe_file(loc.path, b"data")
    proc = _console("rm", "-r", f"{local_bucket}/x")
    assert proc.returncode == 1
    assert "refusing to delete 2 objects" in proc.stderr and "-y" in proc.stderr
    proc = _console("rm", f"{local_bucket}/x/*.nc")  # a glob asks too
    assert proc.returncode == 1 and "refusing to delete" in proc.stderr
    # a prefix without -r: say so, whatever the terminal
    proc = _console("rm", f"{local_bucket}/x")
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(f"{local_bucket}/x is a prefix: use rm -r to delete it")
    # one named object, as with rm and aws s3 rm: no question, no -y
    proc = _console("rm", f"{local_bucket}/one.nc")
    assert proc.returncode == 0, proc.stderr
    assert "deleted 1 object" in proc.stderr
    assert not resolve(f"{local_bucket}/one.nc").fs.exists(resolve(f"{local_bucket}/one.nc").path)
