"""Datastores in the catalog: one collection each, one item per version, opened exactly."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import jasmin_access as ja
from jasmin_access.catalog.versions import VERSION_EXT
from tests.catalog.test_stac import _schema_map
from tests.s3proxy import S3Proxy

TINY = {"nx": 8, "ny": 6, "nz": 2}


@pytest.fixture
def versions(tmp_path: Path) -> dict[str, Path]:
    """Two local stores of one run: three months, and the same with a fourth appended
    and its temperatures changed (different data in both versions' common months)."""
    import zarr

    from jasmin_access.samples import NemoSpec, write_nemo_set

    files = write_nemo_set(tmp_path / "nc", NemoSpec(prefix="run", months=4, **TINY))
    three, four = tmp_path / "three.zarr", tmp_path / "four.zarr"
    ja.convert([str(p) for p in files[:3]], str(three))
    shutil.copytree(three, four)
    ja.append([str(files[3])], str(four))
    group = zarr.open_group(str(four), mode="r+")
    group["thetao"][0] = np.asarray(group["thetao"][0]) + 100.0
    return {"v1": three, "v2": four}


def _published(bucket: str, profile: str, into: Path) -> Path:
    cat = ja.resolve(f"{bucket}/catalog", profile=profile)
    for path in cat.fs.find(cat.path):
        target = into / path.split("/catalog/", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(cat.fs.cat_file(path))
    return into


def test_datastore_catalogued_by_version(
    versions: dict[str, Path],
    s3_bucket: str,
    s3_profile: str,
    s3_proxy: S3Proxy,
    proxied_profile: str,
    tmp_path: Path,
) -> None:
    from stac_validator.validate import StacValidate

    from jasmin_access.datastore import create, push, tag

    url = f"{s3_bucket}/ds/nemo"
    v1 = create(url, str(versions["v1"]), "three months", profile=s3_profile)
    assert v1 is not None and v1.version
    tag(f"{url}@{v1.version}", "first", profile=s3_profile)
    v2 = push(url, str(versions["v2"]), "fourth month", profile=s3_profile).version
    ja.convert([str(p) for p in sorted((tmp_path / "nc").glob("*.nc"))[:1]],
               f"{s3_bucket}/runs/plain.zarr", profile=s3_profile)  # fmt: skip
    catalog = f"{s3_bucket}/catalog"

    s3_proxy.requests.clear()
    report = ja.catalog.build(s3_bucket, to=catalog, profile=proxied_profile)
    assert report.written == [url, f"{s3_bucket}/runs/plain.zarr"] and not report.skipped
    gets = [r[1] for r in s3_proxy.requests if r[0] == "GET"]
    assert not [g for g in gets if "/ds/nemo/objects/" in g]  # no chunk, not even coordinates
    assert not [g for g in gets if "/runs/plain.zarr/" in g and not g.endswith("/zarr.json")]
    manifests = [g for g in gets if g.endswith(".jdm")]
    assert sorted(manifests) == sorted(f"/{url[5:]}/versions/{v}.jdm" for v in (v1.version, v2))

    items = ja.catalog.search(catalog, profile=s3_profile, variables="thetao")
    by_version = {i.properties.get("version"): i for i in items if "nemo" in i.id}
    assert set(by_version) == {v1.version, v2}
    assert by_version[v1.version].assets["data"].href == f"{url}@{v1.version}"
    for vid, src in ((v1.version, versions["v1"]), (v2, versions["v2"])):
        opened = ja.open_dataset(by_version[vid])
        expected = ja.open_dataset(str(src))
        np.testing.assert_array_equal(opened["thetao"].values, expected["thetao"].values)
    assert ja.open_dataset(by_version[v1.version]).sizes["time_counter"] == 3
    found = ja.catalog.search(
        catalog, profile=s3_profile, time="1976-02", bbox=(-180, -90, 180, 90)
    )
    assert {i.properties.get("version") for i in found if "nemo" in i.id} == {v1.version, v2}
    assert ja.catalog.search(catalog, profile=s3_profile, text="first") != []

    local = _published(s3_bucket, s3_profile, tmp_path / "published")
    page = (local / "index.html").read_text()
    assert f"ds/nemo@{v2}" in page and f"ds/nemo@{v1.version}" not in page  # opens the latest
    coll = json.loads((local / "ds_nemo" / "collection.json").read_text())
    assert coll["version"] == v2 and VERSION_EXT in coll["stac_extensions"]
    assert coll["assets"]["data"]["href"].endswith(f"ds/nemo@{v2}")
    first = json.loads((local / "ds_nemo" / f"nemo-{v1.version}.json").read_text())
    second = json.loads((local / "ds_nemo" / f"nemo-{v2}.json").read_text())
    # each version carries its own extents: three months, then four
    assert first["properties"]["end_datetime"].startswith("1976-03")
    assert second["properties"]["end_datetime"].startswith("1976-04")
    months = {v: first["properties"]["cube:dimensions"]["time_counter"]["extent"][1]
              for v, first in (("v1", first), ("v2", second))}  # fmt: skip
    assert months["v1"].startswith("1976-03") and months["v2"].startswith("1976-04")
    in_april = ja.catalog.search(catalog, profile=s3_profile, time="1976-04")
    assert {i.properties.get("version") for i in in_april if "nemo" in i.id} == {v2}
    assert first["properties"]["jasmin:tags"] == ["first"]
    assert first["properties"]["jasmin:message"] == "three months"
    rels = {link["rel"]: link["href"] for link in second["links"]}
    assert rels["predecessor-version"] == f"./nemo-{v1.version}.json"
    assert rels["latest-version"] == f"./nemo-{v2}.json"
    assert {link["rel"]: link["href"] for link in first["links"]}["successor-version"] == (
        f"./nemo-{v2}.json"
    )
    validator = StacValidate(
        str(local / "catalog.json"), recursive=True, schema_map=_schema_map(tmp_path)
    )
    assert validator.run(), json.dumps(validator.message, indent=1)[:3000]
    assert len(validator.message) == 6  # root, two collections, three items


def test_rebuild_redescribes_a_datastore_only_for_a_new_version(
    versions: dict[str, Path], s3_bucket: str, s3_profile: str, s3_proxy: S3Proxy,
    proxied_profile: str,
) -> None:  # fmt: skip
    from jasmin_access.datastore import create, push, rm, tag

    url = f"{s3_bucket}/ds/nemo"
    v1 = create(url, str(versions["v1"]), profile=s3_profile)
    catalog = f"{s3_bucket}/catalog"
    first = ja.catalog.build(f"{s3_bucket}/ds/", to=catalog, profile=s3_profile)
    assert first.written == [url]

    s3_proxy.requests.clear()
    again = ja.catalog.build(f"{s3_bucket}/ds/", to=catalog, profile=proxied_profile)
    assert again.written == [] and again.unchanged == [url]
    assert [r for r in s3_proxy.requests if r[0] in ("PUT", "POST", "DELETE")] == []
    assert not [r for r in s3_proxy.requests if "/objects/" in r[1]]  # no chunk read

    time.sleep(0.01)
    v2 = push(url, str(versions["v2"]), profile=s3_profile).version
    s3_proxy.requests.clear()
    third = ja.catalog.build(f"{s3_bucket}/ds/", to=catalog, profile=proxied_profile)
    assert third.written == [url]
    puts = [r[1].split("/catalog/", 1)[1] for r in s3_proxy.requests if r[0] == "PUT"]
    assert puts[-1] == "catalog.json"
    assert sorted(puts) == sorted([f"nemo/nemo-{v1.version}.json", f"nemo/nemo-{v2}.json",
                                   "nemo/collection.json", "index.parquet", "index.html",
                                   "catalog.json"])  # fmt: skip
    items = ja.catalog.search(catalog, profile=s3_profile, time="1976-02")
    assert [i.id for i in items] == sorted([f"nemo-{v1.version}", f"nemo-{v2}"])
    manifests = [r for r in s3_proxy.requests if r[0] == "GET" and r[1].endswith(".jdm")]
    assert len(manifests) == 2  # each version's header once; no whole manifest

    tag(f"{url}@{v1.version}", "published", profile=s3_profile)  # a tag alone is a change
    s3_proxy.requests.clear()
    fourth = ja.catalog.build(f"{s3_bucket}/ds/", to=catalog, profile=proxied_profile)
    assert fourth.written == [url]
    (found,) = ja.catalog.search(catalog, profile=s3_profile, text="published")
    assert found.id == f"nemo-{v1.version}"

    rm(f"{url}@{v1.version}", force=True, profile=s3_profile)  # so is a version removed
    fifth = ja.catalog.build(f"{s3_bucket}/ds/", to=catalog, profile=s3_profile)
    assert fifth.written == [url]
    items = ja.catalog.search(catalog, profile=s3_profile)
    assert [i.id for i in items] == [f"nemo-{v2}"]
    assert (
        ja.resolve(f"{catalog}/nemo/nemo-{v1.version}.json", profile=s3_profile).fs.exists(
            f"{catalog[5:]}/nemo/nemo-{v1.version}.json"
        )
        is False
    )


def test_catalog_of_local_directories(versions: dict[str, Path], tmp_path: Path) -> None:
    """Plain local paths: the assets stay absolute paths that open (datastore and store)."""
    from jasmin_access.datastore import create

    data = tmp_path / "data"
    shutil.copytree(versions["v1"], data / "run.zarr")
    pushed = create(str(data / "ds"), str(versions["v2"]), "fourth month")
    assert pushed is not None
    ja.catalog.build(str(data), to=str(tmp_path / "catalog"))
    items = {i.id: i for i in ja.catalog.search(str(tmp_path / "catalog"))}
    assert items["run.zarr"].assets["data"].href == str(data / "run.zarr")
    version = items[f"ds-{pushed.version}"]
    assert version.assets["data"].href == f"{data / 'ds'}@{pushed.version}"
    assert ja.open_dataset(version).sizes["time_counter"] == 4
    assert ja.open_dataset(items["run.zarr"]).sizes["time_counter"] == 3
    found = ja.catalog.search(str(tmp_path / "catalog"), text="fourth month")
    assert [i.id for i in found] == [version.id]


def test_a_version_without_coverage_attributes_has_its_coordinates_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A datastore pushed from a store another tool wrote: its version's manifest is read
    to reach the coordinates (one log line), and the item still gets its extents."""
    import xarray as xr

    from jasmin_access.datastore import create
    from tests.data import producers

    files = producers.xios_monthly(tmp_path / "xios", months=2)
    foreign = tmp_path / "foreign.zarr"
    with xr.open_mfdataset([str(p) for p in files], combine="nested",
                           concat_dim="time_counter", decode_times=False) as ds:  # fmt: skip
        ds.to_zarr(foreign, zarr_format=3, consolidated=True)
    pushed = create(str(tmp_path / "data" / "ds"), str(foreign), "from another tool")
    assert pushed is not None
    with caplog.at_level("INFO", logger="jasmin_access.catalog"):
        ja.catalog.build(str(tmp_path / "data"), to=str(tmp_path / "catalog"))
    assert [r for r in caplog.records if "reading those coordinates" in r.getMessage()]
    (item,) = ja.catalog.search(str(tmp_path / "catalog"))
    assert item.bbox is not None and item.bbox[0] == -180.0
    assert str(item.properties["start_datetime"]).startswith("1976-11")
