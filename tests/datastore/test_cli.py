"""``jasmin-access datastore …``: thin commands, one-line errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jasmin_access.datastore import layout
from tests.cli.helpers import cli_run


def test_a_session_with_every_command(
    capsys: pytest.CaptureFixture[str], local_bucket: str, runs: dict[str, Path], tmp_path: Path
) -> None:
    url = f"{local_bucket}/ds/run1"
    code, out, err = cli_run(capsys, "datastore", "create", url, "--from", str(runs["three"]))
    assert code == 0 and layout.ID_RE.match(out.strip()) and "uploaded" in err
    v1 = out.strip()
    code, out, err = cli_run(capsys, "datastore", "push", url, str(runs["three"]))
    assert code == 0 and out.strip() == v1 and err.startswith("unchanged:")
    code, out, _ = cli_run(capsys, "datastore", "push", url, str(runs["four"]), "-m", "april")
    v2 = out.strip()
    assert code == 0 and v2 != v1
    code, out, _ = cli_run(capsys, "datastore", "log", url)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith(v2) and "april" in lines[0] and v1 in lines[0]
    code, out, _ = cli_run(capsys, "--json", "datastore", "status", url)
    assert code == 0 and json.loads(out)["state"] == "complete"
    assert cli_run(capsys, "datastore", "tag", f"{url}@{v1}", "paper")[0] == 0
    code, out, err = cli_run(capsys, "datastore", "diff", f"{url}@paper", f"{url}@latest")
    assert code == 0 and "M zarr.json" in out and "added" in err
    code, out, _ = cli_run(capsys, "datastore", "verify", f"{url}@{v2[:20]}")
    assert code == 0 and "verified" in out
    code, _, _ = cli_run(capsys, "datastore", "get", f"{url}@paper", str(tmp_path / "got"))
    assert (
        code == 0
        and (tmp_path / "got" / "zarr.json").read_bytes()
        == (runs["three"] / "zarr.json").read_bytes()
    )
    code, out, _ = cli_run(capsys, "datastore", "gc", url, "--dry-run")
    assert code == 0 and "would delete 0" in out
    code, out, _ = cli_run(capsys, "info", f"{url}@paper")
    assert code == 0 and "time_counter: 3" in out
    code, _, err = cli_run(capsys, "datastore", "rm", f"{url}@{v2}")
    assert code == 0 and v2 in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["datastore", "push", "{b}/nothing", "{src}"], "no datastore at"),
        (["datastore", "log", "{b}/nothing"], "create one with"),
        (["datastore", "create", "{b}/new", "--from", "/no/such/dir"], "no such directory"),
        (["datastore", "tag", "{b}/ds@latest", "2026"], "invalid tag name"),
        (["datastore", "verify", "{b}/ds@nosuchtag"], "no version or tag 'nosuchtag'"),
        (["datastore", "verify", "{b}/ds@1999-01-01"], "no version at or before"),
        (["datastore", "gc", "{b}/ds", "--grace", "soon"], "invalid duration"),
    ],
)
def test_errors_are_one_line(
    capsys: pytest.CaptureFixture[str],
    local_bucket: str,
    runs: dict[str, Path],
    argv: list[str],
    message: str,
) -> None:
    assert (
        cli_run(capsys, "datastore", "create", f"{local_bucket}/ds", "--from", str(runs["three"]))[
            0
        ]
        == 0
    )
    args = [a.format(b=local_bucket, src=str(runs["three"])) for a in argv]
    code, _out, err = cli_run(capsys, *args)
    assert code == 1 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_verify_failure_exits_1_naming_the_object(
    capsys: pytest.CaptureFixture[str], local_bucket: str, runs: dict[str, Path], isolated_env: Path
) -> None:
    url = f"{local_bucket}/ds"
    code, out, _ = cli_run(capsys, "datastore", "create", url, "--from", str(runs["three"]))
    objects = isolated_env / "store" / local_bucket[len("local://") :] / "ds" / "objects"
    victim = next(p for p in sorted(objects.rglob("*")) if p.is_file())
    victim.write_bytes(b"rot")
    code, _out, err = cli_run(capsys, "datastore", "verify", url)
    assert code == 1 and victim.name in err and "corrupted" in err and out.strip() in err


def test_ls_and_du_show_a_datastore_as_one_unit(
    capsys: pytest.CaptureFixture[str], local_bucket: str, runs: dict[str, Path]
) -> None:
    url = f"{local_bucket}/ds"
    _code, out, _ = cli_run(capsys, "datastore", "create", url, "--from", str(runs["three"]))
    vid = out.strip()
    code, out, _ = cli_run(capsys, "ls", url)
    names = out.split()
    assert code == 0 and "zarr.json" in names and "thetao/" in names and "objects/" not in names
    code, out, _ = cli_run(capsys, "ls", "-R", f"{url}@{vid}")
    assert code == 0 and any(line.startswith("thetao/c/") for line in out.splitlines())
    code, out, _ = cli_run(capsys, "du", local_bucket)
    rows = out.splitlines()
    assert code == 0 and len(rows) == 2 and f"datastore: 1 version, latest {vid}" in rows[0]
    code, out, _ = cli_run(capsys, "--json", "du", "-s", url)
    row = json.loads(out)
    assert row["type"] == "datastore" and row["datastore"]["latest"] == vid
