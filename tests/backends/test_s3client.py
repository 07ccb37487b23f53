"""Timestamps of S3 answers read by the standard library, as botocore would read them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.utils import parse_timestamp

from jasmin_access import fs
from jasmin_access.backends.s3client import parse_time
from jasmin_access.stores import resolve


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-29T11:39:23.061Z",  # ListObjects
        "2026-11-29T11:39:23Z",
        "2026-11-29T11:39:23.061000+00:00",
        "Sun, 29 Nov 2026 11:39:23 GMT",  # Last-Modified header form
        "2026-11-29T11:39:23",  # no zone: left naive, as botocore leaves it
        "1795951163",  # epoch seconds
    ],
)
def test_parse_time_reads_what_botocore_reads(text: str) -> None:
    assert parse_time(text) == parse_timestamp(text)
    assert (parse_time(text).tzinfo is None) == (parse_timestamp(text).tzinfo is None)


def test_listing_times_are_aware_and_recent(s3_bucket: str, s3_profile: str) -> None:
    before = datetime.now(UTC)
    loc = resolve(f"{s3_bucket}/t/a.nc", profile=s3_profile)
    loc.fs.pipe_file(loc.path, b"x")
    (entry,) = fs.ls(f"{s3_bucket}/t/", profile=s3_profile)
    stamp = entry.last_modified
    assert stamp is not None and stamp.tzinfo is not None
    assert abs((stamp - before).total_seconds()) < 300


def test_clients_share_one_copy_of_the_service_model() -> None:
    from jasmin_access.backends.s3client import _aio_session

    first, second = _aio_session(), _aio_session()
    assert first is not second
    assert first.get_component("data_loader") is second.get_component("data_loader")


def test_a_filesystem_that_made_requests_is_freed_once_dropped(
    s3_profile: str, s3_bucket: str
) -> None:
    import gc
    import weakref

    from jasmin_access.backends.s3client import s3_filesystem
    from jasmin_access.config import get_profile

    fs = s3_filesystem(get_profile(s3_profile))
    assert fs.ls(s3_bucket.removeprefix("s3://")) == []
    gone = weakref.ref(fs)
    del fs
    gc.collect()
    assert gone() is None  # its client (held by s3fs's finalizer) does not keep it alive
