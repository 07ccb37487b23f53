"""What a new user trips over in the shell: each case run through the CLI on both backends."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jasmin_access.config import load_config
from jasmin_access.stores import resolve
from tests.cli.helpers import cli_run


def _put(bucket: str, profile: str | None, files: dict[str, bytes]) -> list[str]:
    for key, data in files.items():
        loc = resolve(f"{bucket}/{key}", profile=profile)
        loc.fs.pipe_file(loc.path, data)
    return ["-p", profile] if profile else []


@pytest.fixture
def figs(bucket: str, profile_for) -> tuple[str, list[str]]:
    """Two figures with the same name in two prefixes, and a NetCDF file."""
    p = _put(
        bucket,
        profile_for(bucket),
        {"a/fig1.png": b"png-a", "b/fig1.png": b"png-bb", "nc/file.nc": b"n" * 100},
    )
    return bucket, p


# --------------------------------------------------------------------------- bugs


def test_download_to_a_trailing_slash_makes_the_directory(figs, tmp_path: Path, capsys) -> None:
    bucket, p = figs
    code, _, err = cli_run(capsys, "cp", *p, f"{bucket}/nc/file.nc", f"{tmp_path}/dl/")
    assert code == 0, err
    assert (tmp_path / "dl").is_dir() and (tmp_path / "dl" / "file.nc").read_bytes() == b"n" * 100
    # local to local too, and into a nested directory that does not exist yet
    src = tmp_path / "dl" / "file.nc"
    assert cli_run(capsys, "cp", str(src), f"{tmp_path}/x/y/")[0] == 0
    assert (tmp_path / "x" / "y" / "file.nc").read_bytes() == b"n" * 100
    # without the slash cp's rules hold: the target is the new file's name
    assert cli_run(capsys, "cp", str(src), f"{tmp_path}/plain")[0] == 0
    assert (tmp_path / "plain").is_file()


def test_config_add_takes_endpoint_url(s3_endpoint: str, capsys) -> None:
    code, _, err = cli_run(capsys, "config", "add", "srv", "--endpoint-url", s3_endpoint)
    assert code == 0, err
    assert load_config().profiles["srv"].endpoint_url == s3_endpoint
    # one spelling: the old one, and a -p that cannot apply, are errors, not ignored
    code, _, err = cli_run(capsys, "config", "add", "srv2", "--endpoint", s3_endpoint)
    assert code == 2 and err.count("\n") == 1 and "--endpoint" in err
    code, _, err = cli_run(capsys, "config", "add", "srv3", "-p", "srv", "--anon")
    assert code == 2 and "srv3" not in load_config().profiles
    code, _, err = cli_run(capsys, "--endpoint-url", s3_endpoint, "config", "add", "srv3")
    assert code == 2 and err.count("\n") == 1 and "srv3" not in load_config().profiles


@pytest.mark.parametrize(
    "args",
    [
        ["ls", "{b}/plots/*.jpg"],
        ["cp", "{b}/plots/*.jpg", "{tmp}/x/"],
        ["rm", "-y", "{b}/plots/*.jpg"],
        ["find", "{b}/plots/*.jpg"],
    ],
)
def test_glob_matching_nothing_fails(figs, tmp_path: Path, capsys, args: list[str]) -> None:
    bucket, p = figs
    argv = [a.format(b=bucket, tmp=tmp_path) for a in args]
    code, out, err = cli_run(capsys, *argv[:1], *p, *argv[1:])
    assert code == 1 and out == ""
    assert err.startswith(f"jasmin-access: error: nothing matches {bucket}/plots/*.jpg")
    assert not (tmp_path / "x").exists()


def test_du_and_ls_of_the_whole_account(s3_bucket: str, s3_profile: str, capsys) -> None:
    _put(s3_bucket, s3_profile, {"a/x.nc": b"x" * 2048})
    code, out, err = cli_run(capsys, "du", "-h", "s3://", "-p", s3_profile)
    assert code == 0, err
    lines = {line.split()[-1]: line for line in out.splitlines()}
    assert "2.0 KiB" in lines[s3_bucket] and "s3://" in lines
    code, out, _ = cli_run(capsys, "du", "-s", "--json", "s3://", "-p", s3_profile)
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 1 and rows[0]["path"] == "s3://" and rows[0]["bytes"] >= 2048
    code, out, err = cli_run(capsys, "ls", "-l", "s3://", "-p", s3_profile)
    assert code == 0 and f"{s3_bucket.removeprefix('s3://')}/" in out, err


def test_du_of_the_embedded_store_root(local_bucket: str, capsys) -> None:
    _put(local_bucket, None, {"k": b"abc"})
    code, out, err = cli_run(capsys, "du", "s3://")  # s3:// is the embedded store by default
    assert code == 0, err
    assert any(line.split() == ["3", local_bucket] for line in out.splitlines())


def test_append_prints_no_library_warnings(tmp_path: Path, nemo_files: list[Path]) -> None:
    exe = Path(sys.executable).with_name("jasmin-access")
    dest = str(tmp_path / "grow.zarr")
    files = [str(f) for f in nemo_files]
    first = subprocess.run([str(exe), "convert", *files[:2], dest], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    proc = subprocess.run([str(exe), "append", files[2], dest], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "warnings.warn" not in proc.stderr
    assert "Warning" not in first.stderr
    # -v shows them, as log lines
    proc = subprocess.run(
        [str(exe), "info", "-v", dest], capture_output=True, text=True, check=False
    )
    assert "Traceback" not in proc.stderr


def test_glob_listing_shows_paths_from_the_glob_base(figs, capsys) -> None:
    bucket, p = figs
    code, out, _ = cli_run(capsys, "ls", *p, f"{bucket}/*/*.png")
    assert code == 0 and out.splitlines() == ["a/fig1.png", "b/fig1.png"]
    code, out, _ = cli_run(capsys, "ls", *p, f"{bucket}/a/*.png")
    assert out.splitlines() == ["fig1.png"]


def test_glob_listing_through_s3_on_the_embedded_store(local_bucket: str, capsys) -> None:
    _put(local_bucket, None, {"a/fig1.png": b"1", "b/fig1.png": b"2"})
    s3 = local_bucket.replace("local://", "s3://")
    code, out, _ = cli_run(capsys, "ls", f"{s3}/*/*.png")
    assert code == 0 and out.splitlines() == ["a/fig1.png", "b/fig1.png"]
    code, out, _ = cli_run(capsys, "ls", "-R", f"{s3}/a")
    assert out.splitlines() == ["fig1.png"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rm_answered_no_is_cancelled(figs, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket, p = figs
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    code, out, err = cli_run(capsys, "rm", "-r", *p, f"{bucket}/a")
    assert code == 1, err
    assert "cancelled" in err and "would delete" not in err and "deleted" not in out
    assert cli_run(capsys, "ls", *p, f"{bucket}/a")[1].splitlines() == ["fig1.png"]
    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    code, _, err = cli_run(capsys, "rm", "-r", *p, f"{bucket}/a")
    assert code == 0 and "deleted 1 object" in err


# --------------------------------------------------------------------------- confusing


def test_default_profile(s3_endpoint: str, s3_bucket: str, s3_profile: str, capsys) -> None:
    name = s3_bucket.removeprefix("s3://")
    code, _, err = cli_run(capsys, "ls", s3_bucket)  # embedded store: no such bucket
    assert code == 1 and "embedded store" in err and "config default" in err and "-p" in err
    code, out, _ = cli_run(capsys, "config", "add", "srv", "--endpoint-url", s3_endpoint)
    assert "config default srv" in out
    code, out, _ = cli_run(capsys, "config", "default", s3_profile)
    assert code == 0 and out.strip() == s3_profile
    assert cli_run(capsys, "ls", s3_bucket)[0] == 0  # now s3:// goes to the server
    code, _, err = cli_run(capsys, "ls", "s3://no-such-bucket-d1/x")
    assert f"profile '{s3_profile}'" in err and "mb s3://no-such-bucket-d1 -p" in err
    assert cli_run(capsys, "config", "default", "local")[0] == 0
    code, out, _ = cli_run(
        capsys, "config", "add", "srv4", "--endpoint-url", s3_endpoint, "--default"
    )
    assert code == 0 and load_config().default_profile == "srv4"
    assert "is the default profile" in out and name not in out
    code, _, err = cli_run(capsys, "config", "default", "nope")
    assert code == 1 and "unknown profile 'nope'" in err


def test_usage_errors_are_one_line(capsys) -> None:
    code, out, err = cli_run(capsys, "ls", "s3://b/a.nc", "s3://b/b.nc")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("jasmin-access: error: Got unexpected extra argument")
    assert "quote globs" in err
    code, _, err = cli_run(capsys, "cp", "only-one")
    assert code == 2 and err.count("\n") == 1 and "source and a destination" in err
    code, _, err = cli_run(capsys, "ls", "--no-such-flag", "s3://b")
    assert code == 2 and err.count("\n") == 1 and "jasmin-access ls --help" in err


def test_mb_on_existing_bucket_mentions_exist_ok(local_bucket: str, capsys) -> None:
    code, _, err = cli_run(capsys, "mb", local_bucket)
    assert code == 1 and "--exist-ok" in err


def test_cp_to_a_missing_bucket_mentions_mb(figs, capsys) -> None:
    bucket, p = figs
    scheme = bucket.split("://")[0]
    code, _, err = cli_run(capsys, "cp", *p, f"{bucket}/nc/file.nc", f"{scheme}://no-such-zz/x")
    assert code == 1 and f"mb {scheme}://no-such-zz" in err


def test_cp_summary_in_iec_units(figs, tmp_path: Path, capsys) -> None:
    bucket, p = figs
    code, _, err = cli_run(capsys, "cp", "-r", *p, f"{bucket}/nc", str(tmp_path / "o"))
    assert code == 0 and err.strip() == "1 copied (100 B copied)"


# --------------------------------------------------------------------------- missing


def test_several_sources(figs, tmp_path: Path, capsys) -> None:
    bucket, p = figs
    code, _, err = cli_run(
        capsys, "cp", *p, f"{bucket}/a/fig1.png", f"{bucket}/nc/file.nc", str(tmp_path / "d")
    )
    assert code == 0, err
    assert sorted(x.name for x in (tmp_path / "d").iterdir()) == ["fig1.png", "file.nc"]
    code, _, err = cli_run(
        capsys, "mv", *p, *(str(x) for x in (tmp_path / "d").iterdir()), f"{bucket}/back/"
    )
    assert code == 0, err
    assert not any((tmp_path / "d").iterdir())
    code, out, _ = cli_run(capsys, "ls", *p, f"{bucket}/back")
    assert out.splitlines() == ["fig1.png", "file.nc"]
    code, _, err = cli_run(capsys, "rm", *p, f"{bucket}/back/file.nc", f"{bucket}/back/fig1.png")
    assert code == 0 and err.count("deleted 1 object") == 2


def test_cp_dry_run_and_filters(figs, tmp_path: Path, capsys) -> None:
    bucket, p = figs
    dst = tmp_path / "o"
    code, out, err = cli_run(capsys, "cp", "-r", "--dry-run", *p, bucket, str(dst))
    assert code == 0 and not dst.exists()
    assert len([line for line in out.splitlines() if line.startswith("would-copy")]) == 3
    code, _, _ = cli_run(
        capsys, "cp", "-r", "--include", "*.png", "--exclude", "b/*", *p, bucket, str(dst)
    )
    assert code == 0
    assert [str(x.relative_to(dst)) for x in dst.rglob("*") if x.is_file()] == ["a/fig1.png"]
    code, out, _ = cli_run(capsys, "du", "-s", "--json", "--include", "*.png", *p, bucket)
    assert json.loads(out)["bytes"] == len(b"png-a") + len(b"png-bb")
    code, out, _ = cli_run(capsys, "rm", "-r", "-y", "--exclude", "*.nc", *p, bucket + "/nc")
    assert code == 0
    code, _, err = cli_run(
        capsys, "rm", "-r", "-y", "--dry-run", "--include", "fig1.png", *p, bucket + "/a"
    )
    assert "would delete 1 object" in err


def test_sync_filters_keep_excluded_files(figs, tmp_path: Path, capsys) -> None:
    bucket, p = figs
    dst = tmp_path / "mirror"
    (dst / "a").mkdir(parents=True)
    (dst / "a" / "keep.log").write_text("mine")
    code, _, err = cli_run(capsys, "sync", "--delete", "--exclude", "*.log", *p, bucket, str(dst))
    assert code == 0, err
    assert (dst / "a" / "keep.log").exists() and (dst / "b" / "fig1.png").exists()


def test_find_human_sizes(figs, capsys) -> None:
    bucket, p = figs
    _put(bucket, p[1] if p else None, {"big/blob": b"z" * (1 << 20)})
    code, out, _ = cli_run(capsys, "find", *p, bucket, "--min-size", "1M")
    assert code == 0 and out.split() == [f"{bucket}/big/blob"]
    code, out, _ = cli_run(capsys, "find", *p, bucket, "--max-size", "0.1K")
    assert sorted(out.split()) == [
        f"{bucket}/a/fig1.png",
        f"{bucket}/b/fig1.png",
        f"{bucket}/nc/file.nc",
    ]
    code, _, err = cli_run(capsys, "find", *p, bucket, "--min-size", "lots")
    assert code == 2 and err.count("\n") == 1 and "cannot read size" in err


def test_du_shows_an_unfinished_store_as_one(
    bucket: str, profile_for, nemo_files: list[Path], capsys
) -> None:
    from jasmin_access.conversion import convert
    from jasmin_access.conversion.writer import SimulatedCrash

    profile = profile_for(bucket)
    p = ["-p", profile] if profile else []
    url = f"{bucket}/run.zarr"
    with pytest.raises(SimulatedCrash):
        convert(nemo_files, url, profile=profile, fail_after_units=3)
    code, out, err = cli_run(capsys, "du", *p, bucket)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].endswith("unfinished (re-run convert to resume)")
    assert f"{url}/" in lines[0] and ".jasmin-access" not in out
    code, out, err = cli_run(capsys, "convert", *p, *map(str, nemo_files), url)
    assert code == 0 and "written this run, the store holds" in out, err
    code, out, _ = cli_run(capsys, "du", *p, bucket)
    assert len(out.splitlines()) == 2 and "unfinished" not in out


def test_info_fits_the_terminal(tmp_path: Path, nemo_files: list[Path]) -> None:
    import jasmin_access as ja
    from jasmin_access.conversion import convert

    dest = str(tmp_path / "s.zarr")
    convert(nemo_files[:1], dest)
    summary = ja.info(dest)
    assert max(map(len, summary.text().splitlines())) > 100  # codec details when piped
    assert "blosc(" in summary.text()
    fitted = summary.text(80).splitlines()
    assert max(map(len, fitted[3:])) <= 80  # the table fits; dims/time lines are text
    assert fitted[4].split()[0] == "variable"
    assert "    (time_counter, deptht, y, x), chunks " in summary.text(60)
    assert max(map(len, summary.text(60).splitlines()[4:])) <= 60


def test_several_sources_onto_one_name_are_refused(figs, tmp_path: Path, capsys) -> None:
    bucket, p = figs
    code, _, err = cli_run(
        capsys, "cp", *p, f"{bucket}/a/fig1.png", f"{bucket}/b/fig1.png", str(tmp_path / "d")
    )
    assert code == 1 and "would both be copied to" in err
    assert not (tmp_path / "d").exists()


def test_dry_run_summary_and_endpoint_blame(
    figs, tmp_path: Path, closed_endpoint: str, capsys
) -> None:
    bucket, p = figs
    code, _, err = cli_run(capsys, "cp", "-r", "--dry-run", *p, f"{bucket}/a", str(tmp_path))
    assert err.strip() == "1 would-copy (5 B would be copied)"
    code, _, err = cli_run(capsys, "ls", "s3://b/", "--endpoint-url", closed_endpoint, "--anon")
    assert code == 1 and f"cannot reach {closed_endpoint} while listing s3://b/" in err
    assert "check the --endpoint-url value" in err and "profile" not in err


def test_hints_name_the_real_cause(local_bucket: str, nemo_files: list[Path], capsys) -> None:
    import jasmin_access as ja
    from jasmin_access.errors import BucketNotFound

    src = str(nemo_files[0])
    code, _, err = cli_run(capsys, "convert", src, f"{local_bucket}/t.zarr", "--chunks", "time=1")
    assert code == 1 and "unknown dimension 'time'" in err
    assert "time_counter" in err and "deptht" in err
    with pytest.raises(BucketNotFound, match="bucket 'no-such-bkt' does not exist"):
        ja.open_dataset("local://no-such-bkt/run.zarr")


def test_convert_and_du_count_the_same_chunks(
    local_bucket: str, nemo_files: list[Path], capsys
) -> None:
    url = f"{local_bucket}/c.zarr"
    code, out, err = cli_run(capsys, "convert", "--json", *map(str, nemo_files), url)
    assert code == 0, err
    written = json.loads(out)["chunks_written"]
    code, out, _ = cli_run(capsys, "du", "-s", "--json", url)
    assert json.loads(out)["chunks"] == written
