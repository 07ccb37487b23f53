"""``jasmin-access config`` and the one-line message of each failure case."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jasmin_access.config import add_profile, config_path, load_config
from tests.cli.helpers import cli_run
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.s3proxy import S3Proxy

EXE = str(Path(sys.executable).with_name("jasmin-access"))


def _profile(name: str, endpoint: str) -> str:
    add_profile(name, {"endpoint_url": endpoint, "key": TEST_KEY, "secret": TEST_SECRET})
    return name


# --------------------------------------------------------------------------- list / show / add


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    add_profile("jasmin", {"tenancy": "nemo-o", "anon": True})
    code, out, _ = cli_run(capsys, "config", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0] == f"# {config_path()}"
    assert lines[1].startswith("* local") and "embedded local store" in lines[1]
    assert "jasmin" in lines[2] and "https://nemo-o.s3-ext.jc.rl.ac.uk  (anon)" in lines[2]
    code, out, _ = cli_run(capsys, "config", "list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["name"] for r in rows] == ["local", "jasmin"]
    assert rows[0]["default"] and not rows[1]["default"]


def test_show_never_prints_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    add_profile("s", {"tenancy": "nemo", "key": TEST_KEY, "secret": TEST_SECRET, "token": "tok-77"})
    code, out, err = cli_run(capsys, "config", "show", "s")
    assert code == 0
    shown = dict(line.split(None, 1) for line in out.splitlines())
    assert shown["secret"] == "****" and shown["token"] == "****"
    assert shown["endpoint"] == "https://nemo-o.s3-ext.jc.rl.ac.uk"
    code, out_json, err_json = cli_run(capsys, "--json", "config", "show", "s", "-vv")
    assert json.loads(out_json)["secret"] == "****"
    for text in (out, err, out_json, err_json):
        assert TEST_SECRET not in text and "tok-77" not in text and TEST_KEY not in text


def test_show_in_a_subprocess_with_debug_logging(isolated_env: Path) -> None:
    add_profile("s", {"endpoint_url": "http://127.0.0.1:9", "key": TEST_KEY, "secret": TEST_SECRET})
    config_path().chmod(0o644)  # secrets readable by others: warned about
    done = subprocess.run(
        [EXE, "-vv", "config", "show", "s"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "****" in done.stdout
    assert "readable by others" in done.stderr and "chmod 600" in done.stderr
    assert TEST_SECRET not in done.stdout + done.stderr


def test_add_with_secret_on_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(TEST_SECRET + "\n"))
    code, out, err = cli_run(
        capsys, "config", "add", "j", "--tenancy", "nemo-o", "--location", "internal",
        "--key", TEST_KEY, "--secret-stdin",
    )  # fmt: skip
    assert code == 0 and out.splitlines()[0] == f"profile 'j' written to {config_path()}"
    assert TEST_SECRET not in out + err
    profile = load_config().profiles["j"]
    assert profile.secret == TEST_SECRET
    assert profile.resolved_endpoint == "http://nemo-o.s3.jc.rl.ac.uk"


def test_add_anonymous_and_credentials_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert (
        cli_run(capsys, "config", "add", "pub", "--endpoint-url", "http://h", "--anonymous")[0] == 0
    )
    creds = tmp_path / "c.json"
    arg = ["--credentials-file", str(creds)]
    assert cli_run(capsys, "config", "add", "ods", "--endpoint-url", "http://h", *arg)[0] == 0
    profiles = load_config().profiles
    assert profiles["pub"].anon and profiles["ods"].credentials_file == str(creds)


def test_add_refuses_the_reserved_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli_run(capsys, "config", "add", "local", "--endpoint-url", "http://h")
    assert code == 1 and err.count("\n") == 1 and "reserved" in err
    assert not config_path().exists()


# --------------------------------------------------------------------------- config test


def test_config_test_ok(
    s3_bucket: str, s3_profile: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli_run(capsys, "config", "test", s3_profile, "--bucket", s3_bucket)
    assert code == 0, err
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["ok", "endpoint"],
        ["ok", "credentials"],
        ["ok", "listing"],
    ]
    code, out, _ = cli_run(capsys, "config", "test", "-p", s3_profile, "--json")
    assert code == 0 and all(json.loads(line)["ok"] for line in out.splitlines())


def test_config_test_local(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli_run(capsys, "config", "test")
    assert code == 0 and out.startswith("ok ") and "embedded store" in out


def _failing_test(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    code, out, err = cli_run(capsys, "config", "test", *args)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("jasmin-access: error: ")
    assert TEST_SECRET not in out + err
    return out, err


def test_config_test_unreachable(closed_endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = _failing_test(capsys, _profile("closed", closed_endpoint))
    assert "FAIL" not in out  # the failure is said once, on stderr
    assert "profile 'closed': endpoint check failed: cannot connect to" in err


def test_config_test_wrong_endpoint(html_endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = _failing_test(capsys, _profile("web", html_endpoint))
    assert out.splitlines()[0].startswith("ok ") and "FAIL" not in out
    assert "did not answer like an S3 store" in err and "endpoint_url in profile 'web'" in err


def test_config_test_missing_credentials(
    s3_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    add_profile("nokey", {"endpoint_url": s3_endpoint})
    out, err = _failing_test(capsys, "nokey")
    assert "FAIL" not in out
    assert "credentials check failed: profile 'nokey' has no credentials" in err


def test_config_test_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    _, err = _failing_test(capsys, "nope")
    assert "unknown profile 'nope'" in err


def test_config_test_access_denied(
    proxied_profile: str, s3_proxy: S3Proxy, capsys: pytest.CaptureFixture[str]
) -> None:
    s3_proxy.fail(status=403, code="AccessDenied")
    out, err = _failing_test(capsys, proxied_profile)
    assert "FAIL" not in out
    assert "credentials check failed: access denied listing buckets" in err
    assert "may have expired or lack rights" in err


def test_config_test_expired_key(
    proxied_profile: str, s3_proxy: S3Proxy, capsys: pytest.CaptureFixture[str]
) -> None:
    s3_proxy.fail(status=403, code="InvalidAccessKeyId")
    _, err = _failing_test(capsys, proxied_profile)
    assert "rejected (InvalidAccessKeyId)" in err and "may have expired" in err


def test_config_test_missing_bucket(s3_profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = _failing_test(capsys, s3_profile, "--bucket", "no-such-bucket-q1")
    assert "FAIL" not in out
    assert "listing check failed: bucket 'no-such-bucket-q1' does not exist" in err


def test_config_test_bucket_listing_refused(
    s3_bucket: str, proxied_profile: str, s3_proxy: S3Proxy, capsys: pytest.CaptureFixture[str]
) -> None:
    s3_proxy.fail(method="GET", path="/" + s3_bucket.removeprefix("s3://"), code="AccessDenied")
    out, err = _failing_test(capsys, proxied_profile, "--bucket", s3_bucket)
    assert "ok   credentials" in out and "FAIL" not in out
    assert f"listing check failed: access denied listing {s3_bucket}/" in err


# --------------------------------------------------------------------------- the same through ls


def _failing_ls(capsys: pytest.CaptureFixture[str], url: str, profile: str) -> str:
    code, out, err = cli_run(capsys, "ls", url, "-p", profile)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("jasmin-access: error: ")
    assert TEST_SECRET not in err
    return err


def test_ls_messages_differ_per_cause(
    s3_endpoint: str,
    s3_profile: str,
    s3_bucket: str,
    closed_endpoint: str,
    html_endpoint: str,
    proxied_profile: str,
    s3_proxy: S3Proxy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_profile("nokey", {"endpoint_url": s3_endpoint})
    url = f"{s3_bucket}/run1/"
    errors = {
        "unreachable": _failing_ls(capsys, url, _profile("closed", closed_endpoint)),
        "wrong endpoint": _failing_ls(capsys, url, _profile("web", html_endpoint)),
        "no credentials": _failing_ls(capsys, url, "nokey"),
        "unknown profile": _failing_ls(capsys, url, "nope"),
        "missing bucket": _failing_ls(capsys, "s3://no-such-bucket-q2/", s3_profile),
    }
    s3_proxy.fail(status=403, code="AccessDenied")
    errors["access denied"] = _failing_ls(capsys, url, proxied_profile)
    s3_proxy.clear_rules()
    s3_proxy.fail(status=403, code="InvalidAccessKeyId")
    errors["expired key"] = _failing_ls(capsys, url, proxied_profile)
    expected = {
        "unreachable": f"cannot reach {closed_endpoint} while listing",
        "wrong endpoint": "did not answer like an S3 store",
        "no credentials": "profile 'nokey' has no credentials",
        "unknown profile": "unknown profile 'nope'",
        "missing bucket": "bucket 'no-such-bucket-q2' does not exist",
        "access denied": "access denied listing",
        "expired key": "was rejected (InvalidAccessKeyId)",
    }
    for case, text in expected.items():
        assert text in errors[case], case
    assert len(set(errors.values())) == len(errors)
    assert "config test proxied" in errors["access denied"]
