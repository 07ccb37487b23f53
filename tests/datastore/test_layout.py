"""Version IDs, selectors and the manifest format."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from jasmin_access.datastore import layout
from jasmin_access.datastore.manifest import Manifest, decode, decode_header, encode, header_size
from jasmin_access.errors import IntegrityError, InvalidInput


def test_ids_sort_by_time_and_are_unique() -> None:
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    ids = [layout.new_version_id(t0 + timedelta(milliseconds=i)) for i in range(50)]
    same_ms = {layout.new_version_id(t0) for _ in range(200)}
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert len(same_ms) == 200  # no coordination needed, even within one millisecond
    assert all(layout.ID_RE.match(i) for i in ids)
    assert layout.version_time(ids[3]) == t0 + timedelta(milliseconds=3)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://b/ds/run1@latest", ("s3://b/ds/run1", "latest")),
        ("s3://b/ds/run1@2026-11-01T12:00", ("s3://b/ds/run1", "2026-11-01T12:00")),
        ("s3://b/ds/run1@", ("s3://b/ds/run1", "latest")),
        ("s3://b/ds/run1", ("s3://b/ds/run1", None)),
        ("s3://b/me@x/run1", ("s3://b/me@x/run1", None)),
        ("/data/run1@paper", ("/data/run1", "paper")),
    ],
)
def test_split_ref(url: str, expected: tuple[str, str | None]) -> None:
    assert layout.split_ref(url) == expected


def test_selector_kinds() -> None:
    assert layout.is_time("2026-11-01T12:00") and layout.is_time("2026-11-01")
    assert not layout.is_time("20261101T120000000Z-abcd0123")
    assert layout.is_id_prefix("20261101T12") and not layout.is_id_prefix("paper1")
    assert layout.parse_time("2026-11-01") == datetime(2026, 11, 1, 23, 59, 59, 999999, UTC)
    assert layout.check_tag_name("paper-2026.v1") == "paper-2026.v1"
    for bad in ("latest", "2026", "a b", ""):
        with pytest.raises(InvalidInput):
            layout.check_tag_name(bad)


def _manifest(n: int) -> Manifest:
    keys = [f"thetao/c/{i // 100}/{i % 100}/0/0" for i in range(n)]
    digests = b"".join(hashlib.sha256(k.encode()).digest() for k in keys)
    return Manifest(
        id=layout.new_version_id(),
        parent=None,
        created="2026-11-01T12:00:00+00:00",
        author="me@host",
        message="m",
        keys=keys,
        digests=digests,
        sizes=np.arange(n, dtype="<u8"),
        metadata={"zarr.json": '{"zarr_format": 3}'},
    )


def test_manifest_round_trip_and_header_alone() -> None:
    m = _manifest(1000)
    data = encode(m)
    back = decode(data)
    assert back.keys == m.keys and back.digests == m.digests
    assert back.lookup("thetao/c/3/7/0/0") == (m.digest_at(307), 307)
    assert back.lookup("nope") is None
    assert back.total_bytes == sum(range(1000)) and back.same_content(m)
    head = decode_header(data[: header_size(data)])
    assert head["count"] == 1000 and head["metadata"]["zarr.json"] == '{"zarr_format": 3}'
    m.inline = {m.digest_at(1): b"one", m.digest_at(2): b"", m.digest_at(3): b"three" * 9}
    back = decode(encode(m))
    assert back.inline == m.inline and back.same_content(m)


def test_damaged_manifest_is_named() -> None:
    data = encode(_manifest(10))
    with pytest.raises(IntegrityError, match="s3://b/ds@V"):
        decode(data[:-5], "s3://b/ds@V")
    with pytest.raises(IntegrityError, match="not a datastore manifest"):
        decode(b"garbage" + data, "s3://b/ds@V")
