"""The local chunk cache: LRU eviction under a size bound, and re-reads without network."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import jasmin_access as ja
from jasmin_access.errors import InvalidInput
from jasmin_access.reading.cache import ChunkCache, parse_size
from tests.conftest import TEST_SECRET
from tests.reading.counting import CountingServer
from tests.reading.helpers import COUNTED_PROFILE, counted_bucket_url


def test_parse_size() -> None:
    assert parse_size("2GB") == 2_000_000_000
    assert parse_size("512MiB") == 512 * 1024**2
    assert parse_size(1000) == 1000
    with pytest.raises(InvalidInput, match="invalid size"):
        parse_size("lots")


def test_least_recently_used_entries_are_evicted(tmp_path: Path) -> None:
    cache = ChunkCache(tmp_path / "c", 3500)
    for i in range(3):
        cache.put("ns", f"k{i}", bytes([i]) * 1000)
        past = time.time() - 100 + i
        os.utime(cache._path("ns", f"k{i}"), (past, past))
    assert cache.get("ns", "k0") == b"\x00" * 1000  # k0 becomes the most recent
    cache.put("ns", "k3", b"\x03" * 1000)  # 4000 > 3500: evict down to 90 %
    assert cache.size() <= 3500
    assert cache.get("ns", "k1") is None  # least recently used went first
    assert cache.get("ns", "k0") is not None
    assert cache.get("ns", "k3") is not None


def test_entries_larger_than_the_bound_are_not_kept(tmp_path: Path) -> None:
    cache = ChunkCache(tmp_path, 100)
    cache.put("ns", "big", b"x" * 1000)
    assert cache.get("ns", "big") is None
    assert cache.size() == 0


def test_rereads_cost_no_network_and_cache_holds_no_secret(
    counted: CountingServer, make_store: Callable[..., str], tmp_path: Path
) -> None:
    url = make_store(counted_bucket_url(counted) + "/run.zarr", COUNTED_PROFILE, 3)
    bucket = url[5:].split("/")[0]
    cache_dir = tmp_path / "cache"
    first = ja.open_dataset(url, profile=COUNTED_PROFILE, cache=str(cache_dir)).thetao.values
    counted.log.clear()
    again = ja.open_dataset(url, profile=COUNTED_PROFILE, cache=str(cache_dir)).thetao.values
    np.testing.assert_array_equal(first, again)
    assert [r.key for r in counted.log.gets(bucket) if "/thetao/" in r.key] == []
    for path in cache_dir.rglob("*"):
        if path.is_file():
            assert TEST_SECRET.encode() not in path.read_bytes()
            assert TEST_SECRET not in str(path)


def test_rewritten_store_does_not_serve_stale_chunks(
    counted: CountingServer, nemo_ref, tmp_path: Path
) -> None:
    from tests.reading.helpers import write_store

    url = counted_bucket_url(counted) + "/run.zarr"
    write_store(nemo_ref, url, COUNTED_PROFILE)
    cache = str(tmp_path / "cache")
    ja.open_dataset(url, profile=COUNTED_PROFILE, cache=cache).tos.load()
    changed = nemo_ref.assign(tos=nemo_ref.tos + 1.0).assign_attrs(version=2)
    write_store(changed, url, COUNTED_PROFILE)
    tos = ja.open_dataset(url, profile=COUNTED_PROFILE, cache=cache).tos.values
    np.testing.assert_array_equal(tos, changed.tos.values)


def test_profile_cache_setting_is_used(
    counted: CountingServer, make_store: Callable[..., str], tmp_path: Path
) -> None:
    from jasmin_access.config import add_profile
    from tests.conftest import TEST_KEY

    cache_dir = tmp_path / "profile-cache"
    add_profile(
        "cached",
        {
            "endpoint_url": counted.url,
            "key": TEST_KEY,
            "secret": TEST_SECRET,
            "cache": str(cache_dir),
            "cache_size": "10MB",
        },
    )
    url = make_store(counted_bucket_url(counted) + "/run.zarr", COUNTED_PROFILE, 3)
    ja.open_dataset(url, profile="cached").zos.load()
    assert any(p.is_file() for p in cache_dir.rglob("*"))
    ja.open_dataset(url, profile="cached", cache=False).so.load()
    assert ChunkCache(cache_dir, "10MB").size() < 30_000  # so (not cached) added nothing
