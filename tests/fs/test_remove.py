"""rm: bounded by the prefix, dry runs, root refusal, bulk-delete fallback."""

from __future__ import annotations

import pytest

from jasmin_access import fs
from jasmin_access.errors import InvalidInput, NotFound
from jasmin_access.stores import resolve


def remaining(bucket: str, profile: str | None) -> list[str]:
    return sorted(e.path[len(bucket) + 1 :] for e in fs.walk(bucket, profile=profile))


def test_rm_recursive_is_bounded(tree_bucket: str, profile_for) -> None:
    p = profile_for(tree_bucket)
    report = fs.rm(f"{tree_bucket}/run1", recursive=True, profile=p)
    assert report.objects == 3 and report.bytes == 18
    assert remaining(tree_bucket, p) == ["run10/d.nc", "top.txt"]


def test_rm_dry_run_lists_exactly(tree_bucket: str, profile_for) -> None:
    p = profile_for(tree_bucket)
    report = fs.rm(f"{tree_bucket}/run1", recursive=True, dry_run=True, profile=p)
    assert sorted(report.paths) == [
        f"{tree_bucket}/run1/a.nc",
        f"{tree_bucket}/run1/b.txt",
        f"{tree_bucket}/run1/sub/c.nc",
    ]
    assert len(remaining(tree_bucket, p)) == 5
    assert report.to_dict()["dry_run"] is True


def test_rm_single_glob_and_errors(tree_bucket: str, profile_for) -> None:
    p = profile_for(tree_bucket)
    with pytest.raises(InvalidInput, match="rm -r"):
        fs.rm(f"{tree_bucket}/run1", profile=p)
    with pytest.raises(NotFound):
        fs.rm(f"{tree_bucket}/run", profile=p)
    assert fs.rm(f"{tree_bucket}/top.txt", profile=p).objects == 1
    assert fs.rm(f"{tree_bucket}/run*/*.nc", profile=p).objects == 2
    assert remaining(tree_bucket, p) == ["run1/b.txt", "run1/sub/c.nc"]


def test_rm_refuses_bucket_root(tree_bucket: str, profile_for) -> None:
    p = profile_for(tree_bucket)
    with pytest.raises(InvalidInput, match="--force"):
        fs.rm(tree_bucket, recursive=True, profile=p)
    assert len(remaining(tree_bucket, p)) == 5
    assert fs.rm(tree_bucket, recursive=True, force=True, profile=p).objects == 5
    assert fs.ls(tree_bucket, profile=p) == []  # the emptied bucket still exists


def test_rm_confirmation(tree_bucket: str, profile_for) -> None:
    p = profile_for(tree_bucket)
    seen = []

    def decline(report: fs.RemoveReport) -> bool:
        seen.append((report.objects, report.bytes))
        return False

    assert fs.rm(f"{tree_bucket}/run1", recursive=True, confirm=decline, profile=p).objects == 0
    assert seen == [(3, 18)] and len(remaining(tree_bucket, p)) == 5


def test_rm_falls_back_when_bulk_delete_refused(
    s3_proxy, proxied_profile: str, s3_profile: str
) -> None:
    bucket = "test-rm-fallback"
    loc = resolve(f"s3://{bucket}", profile=s3_profile)
    loc.fs.mkdir(bucket)
    for i in range(5):
        loc.fs.pipe_file(f"{bucket}/run1/k{i}", b"x")
    loc.fs.pipe_file(f"{bucket}/run10/keep", b"x")
    s3_proxy.fail(kind="bulk-delete", status=403, code="QuotaExceeded")
    report = fs.rm(f"s3://{bucket}/run1", recursive=True, profile=proxied_profile)
    assert report.bulk_refused and report.objects == 5
    assert s3_proxy.count(kind="bulk-delete") >= 1
    assert s3_proxy.count(kind="delete") == 5
    assert remaining(f"s3://{bucket}", s3_profile) == ["run10/keep"]
