"""mb: making buckets on both backends."""

from __future__ import annotations

import uuid

import pytest

import jasmin_access as ja
from jasmin_access.errors import AlreadyExists, InvalidInput


@pytest.mark.parametrize("scheme", ["local", "s3"])
def test_mb_makes_a_bucket_that_ls_then_lists(scheme: str, s3_profile: str) -> None:
    profile = s3_profile if scheme == "s3" else None
    url = f"{scheme}://made-{uuid.uuid4().hex[:10]}"
    with pytest.raises(FileNotFoundError):
        ja.ls(url, profile=profile)
    assert ja.mb(url, profile=profile) == url
    assert list(ja.ls(url, profile=profile)) == []
    with pytest.raises(AlreadyExists):
        ja.mb(url, profile=profile)
    assert ja.mb(url, profile=profile, exist_ok=True) == url


def test_mb_refuses_a_key_inside_a_bucket(local_bucket: str) -> None:
    with pytest.raises(InvalidInput, match="not a bucket URL"):
        ja.mb(local_bucket + "/run1")


def test_mb_command(capsys: pytest.CaptureFixture[str]) -> None:
    from jasmin_access.cli import cli
    from jasmin_access.cli._common import run

    name = f"made-{uuid.uuid4().hex[:10]}"
    assert run(cli, ["mb", f"local://{name}", "-q"]) == 0
    assert run(cli, ["mb", f"local://{name}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"jasmin-access: error: bucket local://{name} already exists: "
        "pass --exist-ok to accept an existing one"
    ]
