"""A list file of 100k lines: read, expanded and checked; a bad line is named.

A list of S3 URLs is sized from one listing of each prefix, not a HEAD per object.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jasmin_access.conversion.sources import LIST_AT_LEAST, expand_sources
from jasmin_access.errors import InvalidInput
from jasmin_access.stores import resolve
from tests.s3proxy import S3Proxy

LINES = 100_000


def _files(folder: Path, count: int) -> list[str]:
    out = []
    for i in range(count):
        path = folder / f"part_{i:03d}.nc"
        path.write_bytes(b"")
        out.append(str(path))
    return out


def test_a_missing_file_deep_in_a_long_list_is_named(tmp_path: Path) -> None:
    files = _files(tmp_path, 50)
    lines = [files[i % len(files)] for i in range(LINES - 1)]
    missing = str(tmp_path / "run" / "ORCA1_missing_grid_T.nc")
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join([*lines, missing]) + "\n")
    with pytest.raises(InvalidInput) as info:
        expand_sources(f"@{listing}")
    assert "ORCA1_missing_grid_T.nc" in str(info.value)


OBJECTS = 1_200  # more than one listing page (1,000 keys)


def test_a_list_of_s3_urls_is_sized_from_listings_not_a_head_per_object(
    tmp_path: Path, s3_proxy: S3Proxy, proxied_profile: str
) -> None:
    loc = resolve("s3://many-listed", profile=proxied_profile)
    loc.fs.mkdir("many-listed")
    body = {f"many-listed/in/part_{i:05d}.nc": b"x" * (i % 7) for i in range(OBJECTS)}
    loc.fs.pipe(body)
    loc.fs.pipe_file("many-listed/other/alone.nc", b"12345")
    urls = [f"s3://{k}" for k in body]
    lines = [urls[i % OBJECTS] for i in range(LINES)] + ["s3://many-listed/other/alone.nc"]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(lines) + "\n")
    loc.fs.invalidate_cache()
    s3_proxy.reset()
    refs = expand_sources(f"@{listing}", profile=proxied_profile)
    assert [r.url for r in refs] == [*urls, "s3://many-listed/other/alone.nc"]
    assert [r.size for r in refs[:14]] == [i % 7 for i in range(14)]
    assert all(r.etag and r.mtime for r in refs)
    assert s3_proxy.count(kind="list") == 2  # two pages of one prefix
    assert s3_proxy.count(kind="head") == 1  # the file alone in its prefix

    s3_proxy.fail("GET", kind="list", status=403, code="AccessDenied")  # listing refused
    loc.fs.invalidate_cache()
    s3_proxy.reset()
    few = urls[:LIST_AT_LEAST]
    assert [r.url for r in expand_sources(few, profile=proxied_profile)] == few
    assert s3_proxy.count(kind="head") == len(few)  # one HEAD each instead


def test_a_missing_object_in_a_listed_prefix_is_named(
    tmp_path: Path, s3_bucket: str, s3_profile: str
) -> None:
    loc = resolve(s3_bucket, profile=s3_profile)
    loc.fs.pipe({f"{loc.path}/in/f_{i:02d}.nc": b"x" for i in range(LIST_AT_LEAST)})
    urls = [f"{s3_bucket}/in/f_{i:02d}.nc" for i in range(LIST_AT_LEAST)]
    with pytest.raises(InvalidInput, match=r"f_99\.nc does not exist"):
        expand_sources([*urls, f"{s3_bucket}/in/f_99.nc"], profile=s3_profile)
