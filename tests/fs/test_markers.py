"""Directory markers: a zero-byte ``prefix/`` object (S3) or an empty directory (embedded store).

Gateways and web consoles make them for "new folder"; each is an empty
directory, never a missing one and never a file named "".
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jasmin_access import fs
from jasmin_access.stores import resolve
from tests.cli.helpers import cli_run


@pytest.fixture
def mark(profile_for):
    """``mark(bucket, "empty")`` makes the marker for ``bucket/empty/`` on either backend."""

    def make(bucket: str, prefix: str) -> None:
        loc = resolve(f"{bucket}/{prefix}", profile=profile_for(bucket))
        if loc.kind == "s3":
            loc.fs.call_s3("put_object", Bucket=loc.bucket, Key=loc.key + "/", Body=b"")
        else:
            os.makedirs(loc.path)

    return make


@pytest.fixture
def marked(bucket: str, mark, put, profile_for) -> tuple[str, list[str]]:
    """A bucket with ``empty/`` (marker only), ``run/empty/`` and ``run/a.nc``."""
    mark(bucket, "empty")
    mark(bucket, "run/empty")
    put(f"{bucket}/run/a.nc", b"abc")
    p = profile_for(bucket)
    return bucket, (["-p", p] if p else [])


def test_marker_only_prefix_lists_as_empty(marked, capsys) -> None:
    bucket, p = marked
    for args in (["ls", "-R"], ["ls"], ["ls", "-l"]):
        code, out, err = cli_run(capsys, *args, *p, f"{bucket}/empty")
        assert (code, out, err) == (0, "", ""), args
    code, out, _ = cli_run(capsys, "ls", *p, bucket)
    assert out.splitlines() == ["empty/", "run/"]


def test_recursive_listing_shows_markers_as_directories(marked, capsys) -> None:
    bucket, p = marked
    code, out, _ = cli_run(capsys, "ls", "-R", *p, f"{bucket}/run")
    assert code == 0 and out.splitlines() == ["a.nc", "empty/"]
    entries = fs.ls(f"{bucket}/run", recursive=True, profile=p[1] if p else None)
    assert all(e.name for e in entries)
    assert {e.type for e in entries if e.name == "empty"} == {"directory"}


def test_du_tree_find_on_markers(marked, capsys) -> None:
    bucket, p = marked
    code, out, err = cli_run(capsys, "du", *p, f"{bucket}/empty")
    assert code == 0, err
    assert out.split() == ["0", f"{bucket}/empty/"]
    code, out, _ = cli_run(capsys, "du", "-s", "--inodes", *p, f"{bucket}/run")
    assert out.split() == ["1", f"{bucket}/run/"]  # the marker is not an object of the tree
    code, out, err = cli_run(capsys, "tree", *p, f"{bucket}/empty")
    assert code == 0 and out.splitlines() == [f"{bucket}/empty"], err
    code, out, err = cli_run(capsys, "find", *p, f"{bucket}/empty")
    assert (code, out) == (0, ""), err
    code, out, _ = cli_run(capsys, "find", *p, bucket)
    assert out.split() == [f"{bucket}/run/a.nc"]
    code, out, _ = cli_run(capsys, "tree", *p, bucket)
    assert out.splitlines()[1:] == ["├── empty/", "└── run/", "    ├── a.nc", "    └── empty/"]


def test_rm_r_removes_markers(marked, capsys) -> None:
    bucket, p = marked
    code, _, err = cli_run(capsys, "rm", *p, f"{bucket}/empty")
    assert code == 1 and "is a prefix: use rm -r" in err
    code, _, err = cli_run(capsys, "rm", "-r", "-y", *p, f"{bucket}/empty")
    assert code == 0, err
    code, _, err = cli_run(capsys, "rm", "-r", "-y", *p, f"{bucket}/run")
    assert code == 0 and "deleted 2 objects (3 B)" in err  # a.nc and the marker run/empty/
    code, out, _ = cli_run(capsys, "ls", *p, bucket)
    assert (code, out) == (0, "")
    code, _, err = cli_run(capsys, "ls", *p, f"{bucket}/empty")
    assert code == 1 and "no such object or prefix" in err


def test_cp_r_of_markers(marked, tmp_path: Path, capsys) -> None:
    bucket, p = marked
    code, _, err = cli_run(capsys, "cp", "-r", *p, f"{bucket}/empty", str(tmp_path / "e"))
    assert code == 0 and "nothing to do" in err
    code, _, err = cli_run(capsys, "cp", "-r", *p, f"{bucket}/run", str(tmp_path / "r"))
    assert code == 0, err
    assert sorted(str(x.relative_to(tmp_path / "r")) for x in (tmp_path / "r").rglob("*")) == [
        "a.nc"
    ]
    code, _, err = cli_run(capsys, "cp", *p, f"{bucket}/empty", str(tmp_path / "f"))
    assert code == 1 and "is a prefix" in err and "-r" in err
