"""A converted run pushed, extended by a month and pushed again on a JASMIN-like store."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import jasmin_access as ja
from benchmarks.cases.datastore import tree_digests
from jasmin_access import datastore as dst
from jasmin_access.datastore import layout
from jasmin_access.datastore.zstore import ManifestStore, version_store
from jasmin_access.errors import AlreadyExists, InvalidInput, NotFound
from jasmin_access.open import VERSION_KEY
from jasmin_access.reading.zstore import read_store
from tests.s3proxy import S3Proxy


def _requests(proxy: S3Proxy) -> list[tuple[str, str, str]]:
    return [(m, k, p) for (m, p, _q), k in zip(proxy.requests, proxy.kinds, strict=True)]


def _besides_objects(proxy: S3Proxy) -> list[str]:
    """Kinds of the requests that were not object GETs, sorted."""
    reqs = _requests(proxy)
    return sorted(k for m, k, p in reqs if not (m == "GET" and "/objects/" in p))


@pytest.fixture
def pushed(jbucket: str, jasmin: S3Proxy, proxied_profile: str, runs: dict[str, Path]) -> dict:
    url = f"{jbucket}/ds/run1"
    first = dst.create(url, str(runs["three"]), "three months", profile=proxied_profile)
    second = dst.push(url, str(runs["four"]), "april", profile=proxied_profile)
    assert first is not None
    return {"url": url, "first": first, "second": second, "profile": proxied_profile}


def test_push_uploads_only_the_new_month(
    pushed: dict, runs: dict[str, Path], jasmin: S3Proxy
) -> None:
    three, four = tree_digests(runs["three"]), tree_digests(runs["four"])
    old = {d for d, _ in three.values()}
    new_objects = {d: n for d, n in four.values() if d not in old}
    second = pushed["second"]
    assert second.parent == pushed["first"].version and not second.unchanged
    assert second.uploaded_bytes == sum(new_objects.values())
    assert second.uploaded_objects == len(new_objects)
    changed = [k for k in four if three.get(k) != four[k]]
    month = sum(four[k][1] for k in changed)  # that month's chunks + the metadata that changed
    assert second.uploaded_bytes <= 1.1 * month
    assert jasmin.conditional_refused == []  # no request relied on a conditional write


def test_versions_open_by_id_tag_and_date_with_exact_values(
    pushed: dict, runs: dict[str, Path]
) -> None:
    url, prof = pushed["url"], pushed["profile"]
    v1, v2 = pushed["first"].version, pushed["second"].version
    dst.tag(f"{url}@{v1}", "paper2026", profile=prof)
    direct3 = xr.open_zarr(runs["three"]).load()
    direct4 = xr.open_zarr(runs["four"]).load()
    when = layout.version_time(v1).strftime("%Y-%m-%dT%H:%M:%S.%f")
    for sel, expected in [
        (v1, direct3),
        ("paper2026", direct3),
        (when, direct3),
        (v2, direct4),
        ("latest", direct4),
        (v2[:20], direct4),
    ]:
        ds = ja.open_dataset(f"{url}@{sel}", profile=prof).load()
        assert ds.sizes["time_counter"] == expected.sizes["time_counter"], sel
        np.testing.assert_array_equal(ds.thetao.values, expected.thetao.values)
        np.testing.assert_array_equal(ds.time_counter.values, expected.time_counter.values)
    latest = ja.open_dataset(url, profile=prof)  # the datastore root opens its latest version
    assert latest.sizes["time_counter"] == direct4.sizes["time_counter"]
    engine = xr.open_dataset(f"{url}@paper2026", engine="jasmin", profile=prof)
    assert engine.sizes["time_counter"] == direct3.sizes["time_counter"]


def test_opening_costs_one_manifest_get_then_only_chunk_gets(pushed: dict, jasmin: S3Proxy) -> None:
    url, prof, v2 = pushed["url"], pushed["profile"], pushed["second"].version
    jasmin.reset()
    ds = ja.open_dataset(f"{url}@{v2}", profile=prof, chunks=None)
    opened = _requests(jasmin)
    assert opened[0][:2] == ("GET", "get") and opened[0][2].endswith(layout.manifest_key(v2))
    # nothing more: the small coordinate chunks read when opening are held by the manifest
    assert opened[1:] == [], opened
    jasmin.reset()
    float(ds.thetao.mean())
    loads = _requests(jasmin)
    assert loads and all(m == "GET" and "/objects/" in p for m, _k, p in loads), loads
    jasmin.reset()
    ja.open_dataset(f"{url}@latest", profile=prof, chunks=None)
    assert _besides_objects(jasmin) == ["get", "list"]
    dst.tag(f"{url}@{v2}", "final", profile=prof)
    jasmin.reset()
    ja.open_dataset(f"{url}@final", profile=prof, chunks=None)
    assert _besides_objects(jasmin) == ["get", "list"]


def test_small_objects_inline_are_also_stored_and_checked(pushed: dict, jasmin: S3Proxy) -> None:
    url, prof, v2 = pushed["url"], pushed["profile"], pushed["second"].version
    ds, _ = dst.open_datastore(url, profile=prof)
    m = ds.manifest(v2)
    assert m.inline and all(len(b) <= 4096 for b in m.inline.values())
    assert sum(len(b) for b in m.inline.values()) < m.total_bytes
    for digest, data in m.inline.items():  # every inline object is an object in the store too
        assert ds.io.get(layout.object_key(digest)) == data
    expected = xr.open_zarr(version_store(ds, v2), consolidated=False, chunks=None).load()
    digest = next(iter(m.inline))
    m.inline[digest] = b"damaged" + m.inline[digest]  # a bad inline copy: the object is read
    jasmin.reset()
    damaged = ManifestStore(read_store(ds.location), m, ds.url)
    got = xr.open_zarr(damaged, consolidated=False, chunks=None).load()
    xr.testing.assert_identical(got, expected)
    assert any(p.endswith(layout.object_key(digest)) for _m, _k, p in _requests(jasmin))


def test_info_and_slices_read_a_version(pushed: dict) -> None:
    url, prof, v1 = pushed["url"], pushed["profile"], pushed["first"].version
    summary = ja.info(f"{url}@{v1}", profile=prof)
    assert summary.dims["time_counter"] == 3 and summary.url.endswith(v1)
    assert any(v.name == "thetao" and v.stored_bytes > 0 for v in summary.variables)
    assert ja.info(url, profile=prof).dims["time_counter"] == 4  # the root: its latest version
    tasks = ja.slices(f"{url}@{v1}", n=3, profile=prof)
    assert [int(t().sizes["time_counter"]) for t in tasks] == [1, 1, 1]
    latest = ja.slices(url, n=2, profile=prof)  # pinned to the version latest was then
    assert {t.url for t in latest} == {f"{url}@{pushed['second'].version}"}


def test_unchanged_push_is_a_no_op(pushed: dict, runs: dict[str, Path], jasmin: S3Proxy) -> None:
    jasmin.reset()
    res = dst.push(pushed["url"], str(runs["four"]), profile=pushed["profile"])
    assert res.unchanged and res.version == pushed["second"].version
    assert jasmin.count(method="PUT") == 0
    assert len(dst.log(pushed["url"], profile=pushed["profile"])) == 2


def test_log_status_diff(pushed: dict) -> None:
    url, prof = pushed["url"], pushed["profile"]
    v1, v2 = pushed["first"].version, pushed["second"].version
    rows = dst.log(url, profile=prof)
    assert [r["id"] for r in rows] == [v2, v1]
    assert rows[0]["parent"] == v1 and rows[1]["parent"] is None
    assert rows[0]["new_bytes"] == pushed["second"].uploaded_bytes
    assert rows[0]["message"] == "april" and not rows[0]["fork"]
    st = dst.status(url, profile=prof)
    assert st["state"] == "complete" and st["versions"] == 2 and st["latest"] == v2
    assert st["stored_bytes"] == pushed["first"].uploaded_bytes + pushed["second"].uploaded_bytes
    assert st["dedup_ratio"] > 1.0
    d = dst.diff(f"{url}@{v1}", f"{url}@{v2}", profile=prof)
    assert any(k.startswith("thetao/c/") for k in d["added"]) and not d["removed"]
    assert "zarr.json" in d["changed"] and d["bytes_added"] > 0


def test_tags_are_immutable(pushed: dict) -> None:
    url, prof = pushed["url"], pushed["profile"]
    v1, v2 = pushed["first"].version, pushed["second"].version
    assert dst.tag(f"{url}@{v1}", "paper", profile=prof) == v1
    assert dst.tag(f"{url}@{v1}", "paper", profile=prof) == v1  # same target: no-op
    with pytest.raises(AlreadyExists, match="never move"):
        dst.tag(f"{url}@{v2}", "paper", profile=prof)
    with pytest.raises(InvalidInput, match="tagged paper"):
        dst.rm(f"{url}@{v1}", profile=prof)


def test_rm_version_then_gc_keeps_what_the_other_version_needs(pushed: dict) -> None:
    url, prof = pushed["url"], pushed["profile"]
    v1, v2 = pushed["first"].version, pushed["second"].version
    assert dst.gc(url, grace="0s", profile=prof).deleted == 0  # everything referenced
    dst.rm(f"{url}@{v2}", profile=prof)
    with pytest.raises(NotFound):
        ja.open_dataset(f"{url}@{v2}", profile=prof)
    young = dst.gc(url, grace="24h", profile=prof)  # judged by the store's clock: all young
    assert young.deleted == 0 and young.kept_young == young.unreferenced > 0
    dry = dst.gc(url, grace="0s", dry_run=True, profile=prof)
    assert dry.deleted == 0 and len(dry.candidates) == young.unreferenced
    res = dst.gc(url, grace="0s", profile=prof)
    assert res.deleted == young.unreferenced
    assert dst.verify(f"{url}@{v1}", profile=prof).ok
    assert dst.status(url, profile=prof)["stored_bytes"] == pushed["first"].uploaded_bytes


def test_get_copies_a_version(pushed: dict, runs: dict[str, Path], tmp_path: Path) -> None:
    dst.get(
        f"{pushed['url']}@{pushed['first'].version}",
        str(tmp_path / "out"),
        profile=pushed["profile"],
    )
    assert tree_digests(tmp_path / "out") == tree_digests(runs["three"])


def test_create_refuses_existing_and_push_needs_a_datastore(pushed: dict, tmp_path: Path) -> None:
    url, prof = pushed["url"], pushed["profile"]
    with pytest.raises(AlreadyExists):
        dst.create(url, profile=prof)
    with pytest.raises(NotFound, match="no datastore"):
        dst.push(url + "-other", str(tmp_path), profile=prof)


def test_whole_datastore_rm(pushed: dict) -> None:
    url, prof = pushed["url"], pushed["profile"]
    dst.rm(url, profile=prof)
    bucket = url.split("/")[2]
    assert ja.fs.ls(f"s3://{bucket}/", profile=prof) == []
    with pytest.raises(NotFound, match="no datastore"):
        dst.log(url, profile=prof)


def test_convert_and_append_publish_one_version_each(
    jbucket: str,
    jasmin: S3Proxy,
    proxied_profile: str,
    nemo4: list[Path],
    staging: Path,
) -> None:
    url = f"{jbucket}/ds/conv"
    report = ja.convert([str(p) for p in nemo4[:3]], f"{url}@", profile=proxied_profile)
    v1 = report.dest.rsplit("@", 1)[1]
    assert [r["id"] for r in dst.log(url, profile=proxied_profile)] == [v1]
    jasmin.reset()
    report = ja.append([str(nemo4[3])], url, profile=proxied_profile)
    v2 = report.dest.rsplit("@", 1)[1]
    rows = dst.log(url, profile=proxied_profile)
    assert [r["id"] for r in rows] == [v2, v1] and rows[0]["parent"] == v1
    assert jasmin.count(kind="get") < 10  # the staged copy was already the latest version
    uploaded = rows[0]["new_bytes"]
    assert 0 < uploaded < rows[1]["bytes"]  # the new month and metadata, not the whole store
    direct = xr.open_mfdataset([str(p) for p in nemo4], combine="by_coords").load()
    got = ja.open_dataset(f"{url}@{v2}", profile=proxied_profile).load()
    np.testing.assert_allclose(got.thetao.values, direct.thetao.values, rtol=1e-6)
    assert ja.open_dataset(f"{url}@{v1}", profile=proxied_profile).sizes["time_counter"] == 3
    # from another machine (no staging copy): the version is fetched, result the same
    os.environ["JASMIN_ACCESS_STAGING"] = str(staging.parent / "elsewhere")
    ja.append([str(nemo4[3])], f"{url}@{v1}", profile=proxied_profile)
    rows = dst.log(url, profile=proxied_profile)
    assert len(rows) == 3 and rows[0]["parent"] == v1 and rows[0]["fork"]
    d = dst.diff(f"{url}@{v2}", f"{url}@{rows[0]['id']}", profile=proxied_profile)
    assert not d["added"] and not d["removed"]
    assert all(k.endswith("zarr.json") for k in d["changed"])  # only history/time metadata


def test_push_from_a_prefix_on_the_store_gives_the_same_version(
    pushed: dict, runs: dict[str, Path], jbucket: str
) -> None:
    prof = pushed["profile"]
    ja.cp(str(runs["three"]), f"{jbucket}/staging/three.zarr", recursive=True, profile=prof)
    res = dst.create(f"{jbucket}/ds/from-s3", f"{jbucket}/staging/three.zarr", profile=prof)
    assert res is not None
    a, _ = dst.open_datastore(pushed["url"], profile=prof)
    b, _ = dst.open_datastore(f"{jbucket}/ds/from-s3", profile=prof)
    assert a.manifest(pushed["first"].version).same_content(b.manifest(res.version))


def test_bare_url_opens_latest_with_one_list_and_no_marker_get(
    pushed: dict, jasmin: S3Proxy
) -> None:
    url, prof, v2 = pushed["url"], pushed["profile"], pushed["second"].version
    jasmin.reset()
    ds = ja.open_dataset(url, profile=prof, chunks=None)
    assert ds.encoding[VERSION_KEY].endswith(v2)
    paths = [p for _m, _k, p in _requests(jasmin) if "/objects/" not in p]
    assert not any(p.endswith(layout.MARKER) for p in paths), paths
    assert sorted(k for _m, k, p in _requests(jasmin) if "/objects/" not in p).count("list") == 1


def test_chunk_cache_serves_versions_by_object(
    pushed: dict, jasmin: S3Proxy, tmp_path: Path
) -> None:
    url, prof = pushed["url"], pushed["profile"]
    v1, v2 = pushed["first"].version, pushed["second"].version
    cache = str(tmp_path / "chunks")
    first = ja.open_dataset(f"{url}@{v1}", profile=prof, cache=cache).load()
    jasmin.reset()
    again = ja.open_dataset(f"{url}@{v1}", profile=prof, cache=cache).load()
    assert again.identical(first)
    assert [k for _m, k, p in _requests(jasmin) if "/objects/" in p] == []  # all from the cache
    jasmin.reset()
    second = ja.open_dataset(f"{url}@{v2}", profile=prof, cache=cache).load()
    fetched = {p.rsplit("/", 1)[-1] for _m, _k, p in _requests(jasmin) if "/objects/" in p}
    new = {d for d, _ in _digests_of(pushed, v2)} - {d for d, _ in _digests_of(pushed, v1)}
    inline = set(dst.open_datastore(url, profile=prof)[0].manifest(v2).inline)
    assert fetched <= new - inline  # only objects the first version did not have (none inline)
    assert second.sizes["time_counter"] == first.sizes["time_counter"] + 1
    direct = ja.open_dataset(f"{url}@{v2}", profile=prof, cache=False).load()
    assert second.identical(direct)


def _digests_of(pushed: dict, vid: str) -> list[tuple[str, int]]:
    m = dst.open_datastore(pushed["url"], profile=pushed["profile"])[0].manifest(vid)
    return list(m.entries().values())
