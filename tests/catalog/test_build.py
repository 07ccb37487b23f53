"""``jasmin-access catalog build`` as the docs show it, and incremental rebuilds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import jasmin_access as ja
from jasmin_access.stores import resolve
from tests.cli.helpers import cli_run
from tests.s3proxy import S3Proxy

TINY = {"nx": 8, "ny": 6, "nz": 2, "months": 2}


@pytest.fixture
def two_runs(s3_bucket: str, s3_profile: str, tmp_path: Path) -> tuple[str, list[Path]]:
    """Two small converted runs under ``runs/`` (run B: its first month only).

    Returns the bucket and run B's other months, for appending.
    """
    from jasmin_access.samples import NemoSpec, write_nemo_set

    files = {}
    for name, year in (("runA", 1980), ("runB", 1990)):
        spec = NemoSpec(prefix=name, start_year=year, **TINY)
        files[name] = write_nemo_set(tmp_path / name, spec)
        sources = files[name] if name == "runA" else files[name][:1]
        ja.convert([str(p) for p in sources], f"{s3_bucket}/runs/{name}.zarr", profile=s3_profile)
    return s3_bucket, files["runB"][1:]


def _modified(bucket: str, key: str, profile: str) -> object:
    return ja.stat(f"{bucket}/{key}", profile=profile).last_modified


def test_cli_build_then_search(
    two_runs: tuple[str, list[Path]], s3_profile: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket, _ = two_runs
    args = ["--to", f"{bucket}/catalog", "--title", "Tiny runs", "--profile", s3_profile]
    code, out, err = cli_run(capsys, "catalog", "build", f"{bucket}/runs/", *args)
    assert code == 0, err
    assert out.strip() == f"{bucket}/catalog/catalog.json"
    assert "2 datasets: 2 written, 0 unchanged, 0 removed" in err
    code, out, err = cli_run(capsys, "catalog", "search", f"{bucket}/catalog", "--time", "1990",
                             "--var", "thetao", "--json", "--profile", s3_profile)  # fmt: skip
    assert code == 0, err
    found = [json.loads(line) for line in out.splitlines()]
    assert [f["id"] for f in found] == ["runB.zarr"]
    assert found[0]["assets"]["data"]["href"] == f"{bucket}/runs/runB.zarr"
    code, out, err = cli_run(capsys, "catalog", "search", f"{bucket}/catalog", "--bbox", "1,2,3",
                             "--profile", s3_profile)  # fmt: skip
    assert code != 0 and "W,S,E,N" in err and "Traceback" not in err


def test_rebuild_rewrites_only_what_changed(
    two_runs: tuple[str, list[Path]], s3_profile: str, s3_proxy: S3Proxy, proxied_profile: str
) -> None:
    bucket, run_b = two_runs
    catalog = f"{bucket}/catalog"
    first = ja.catalog.build(f"{bucket}/runs/", to=catalog, profile=s3_profile)
    assert len(first.written) == 2
    assert ja.catalog.search(catalog, profile=s3_profile, time="1990-02/1990-12") == []
    again = ja.catalog.build(f"{bucket}/runs/", to=catalog, profile=proxied_profile)
    assert again.written == [] and len(again.unchanged) == 2
    assert [r for r in s3_proxy.requests if r[0] in ("PUT", "POST", "DELETE")] == []

    time.sleep(1.1)  # LastModified has one-second resolution
    ja.append([str(p) for p in run_b], f"{bucket}/runs/runB.zarr", profile=s3_profile)
    s3_proxy.requests.clear()
    third = ja.catalog.build(f"{bucket}/runs/", to=catalog, profile=proxied_profile)
    assert third.written == [f"{bucket}/runs/runB.zarr"] and third.unchanged == [
        f"{bucket}/runs/runA.zarr"
    ]
    puts = [r[1].split("/catalog/", 1)[1] for r in s3_proxy.requests if r[0] == "PUT"]
    assert puts[-1] == "catalog.json"  # the root is published last
    assert sorted(puts) == sorted(["runB.zarr/runB.zarr.json", "runB.zarr/collection.json",
                                   "index.parquet", "index.html", "catalog.json"])  # fmt: skip
    items = ja.catalog.search(catalog, profile=s3_profile, time="1990-02/1990-12")
    assert [i.id for i in items] == ["runB.zarr"]  # the appended month is searchable

    ja.rm(f"{bucket}/runs/runA.zarr", recursive=True, profile=s3_profile)
    fourth = ja.catalog.build(f"{bucket}/runs/", to=catalog, profile=s3_profile)
    assert fourth.removed == [f"{bucket}/runs/runA.zarr"]
    left = resolve(catalog, profile=s3_profile)
    keys = sorted(p.split("/catalog/", 1)[1] for p in left.fs.find(left.path))
    assert not [k for k in keys if k.startswith("runA")]
    assert [i.id for i in ja.catalog.search(catalog, profile=s3_profile)] == ["runB.zarr"]


def test_embedded_local_store(local_bucket: str, tmp_path: Path) -> None:
    from jasmin_access.samples import NemoSpec, write_nemo_set

    files = write_nemo_set(tmp_path / "src", NemoSpec(prefix="local", calendar="360_day", **TINY))
    ja.convert([str(p) for p in files], f"{local_bucket}/runs/local.zarr")
    report = ja.catalog.build(local_bucket, to=f"{local_bucket}/catalog")
    assert report.written == [f"{local_bucket}/runs/local.zarr"]
    catalog = f"{local_bucket}/catalog"
    items = ja.catalog.search(catalog, time="1976-02-16/1976-02-30", variables="so")
    assert [i.id for i in items] == ["runs_local.zarr"]
    assert ja.open_dataset(items[0])["so"].shape == (2, 2, 6, 8)


def test_nothing_found_and_read_only_targets(
    s3_bucket: str, s3_profile: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = ja.catalog.build(f"{s3_bucket}/empty/", to=f"{s3_bucket}/catalog", profile=s3_profile)
    assert report.datasets == 0
    assert ja.catalog.search(f"{s3_bucket}/catalog", profile=s3_profile) == []
    public = "https://example-o.s3-ext.jc.rl.ac.uk/bucket/catalog"
    code, _, err = cli_run(capsys, "catalog", "build", f"{s3_bucket}/", "--to", public,
                           "--profile", s3_profile)  # fmt: skip
    assert code != 0 and "read-only" in err and "Traceback" not in err


def test_build_reads_only_the_metadata_of_stores_convert_made(
    two_runs: tuple[str, list[Path]], s3_bucket: str, s3_profile: str, tmp_path: Path,
    s3_proxy: S3Proxy, proxied_profile: str,
) -> None:  # fmt: skip
    from jasmin_access.samples import NemoSpec, write_nemo_set

    files = write_nemo_set(tmp_path / "v2", NemoSpec(prefix="runC", **TINY))
    ja.convert([str(p) for p in files], f"{s3_bucket}/runs/runC.zarr", profile=s3_profile,
               zarr_format=2)  # fmt: skip
    s3_proxy.requests.clear()
    ja.catalog.build(f"{s3_bucket}/runs/", to=f"{s3_bucket}/catalog", profile=proxied_profile)
    gets = sorted(r[1].split("/runs/", 1)[1] for r in s3_proxy.requests
                  if r[0] == "GET" and "/runs/" in r[1])  # fmt: skip
    metadata = ["runA.zarr/zarr.json", "runB.zarr/zarr.json", "runC.zarr/.zmetadata"]
    assert set(gets) - {"runC.zarr/zarr.json"} == set(metadata)  # v2: zarr.json tried first
    items = {i.id: i for i in ja.catalog.search(f"{s3_bucket}/catalog", profile=s3_profile)}
    assert set(items) == {"runA.zarr", "runB.zarr", "runC.zarr"}
    assert all(i.bbox and i.properties["start_datetime"] for i in items.values())


def _foreign_store(tmp_path: Path, bucket: str, profile: str) -> str:
    """A store another tool wrote (xarray from XIOS files): no coverage attributes."""
    import xarray as xr

    from tests.data import producers

    files = producers.xios_monthly(tmp_path / "xios", months=2)
    local = tmp_path / "foreign.zarr"
    with xr.open_mfdataset([str(p) for p in files], combine="nested",
                           concat_dim="time_counter", decode_times=False) as ds:  # fmt: skip
        assert not [k for k in ds.attrs if k.startswith("geospatial")]
        ds.to_zarr(local, zarr_format=2, consolidated=True)
    url = f"{bucket}/other/foreign.zarr"
    ja.cp(str(local) + "/", url + "/", recursive=True, profile=profile)
    return url


def test_stores_of_other_tools_get_their_coordinates_read_or_not(
    s3_bucket: str, s3_profile: str, tmp_path: Path, s3_proxy: S3Proxy, proxied_profile: str,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    url = _foreign_store(tmp_path, s3_bucket, s3_profile)
    catalog = f"{s3_bucket}/catalog"
    s3_proxy.requests.clear()
    with caplog.at_level("INFO", logger="jasmin_access.catalog"):
        ja.catalog.build(f"{s3_bucket}/other/", to=catalog, profile=proxied_profile)
    lines = [r.getMessage() for r in caplog.records if "coverage attributes" in r.getMessage()]
    assert len(lines) == 1 and url in lines[0] and "reading" in lines[0]
    read = {r[1].split(".zarr/", 1)[1].split("/", 1)[0] for r in s3_proxy.requests
            if r[0] == "GET" and ".zarr/" in r[1]}  # fmt: skip
    assert read - {"zarr.json"} == {".zmetadata", "nav_lon", "nav_lat", "time_centered", "deptht"}
    (item,) = ja.catalog.search(catalog, profile=s3_profile)
    assert str(item.properties["start_datetime"]).startswith("1976-11")
    assert item.bbox is not None and item.bbox[1] == pytest.approx(-60.3, abs=0.1)

    s3_proxy.requests.clear()
    code, _, _ = cli_run(capsys, "catalog", "build", f"{s3_bucket}/other/", "--to",
                         f"{catalog}2", "--no-coordinate-reads", "-p", proxied_profile)  # fmt: skip
    assert code == 0
    read = [r[1] for r in s3_proxy.requests if r[0] == "GET" and ".zarr/" in r[1]]
    # metadata only; and no zarr.json probe: a v2 store was already found in this prefix
    assert {r.rsplit("/", 1)[1] for r in read} == {".zmetadata"}
    (bare,) = ja.catalog.search(f"{catalog}2", profile=s3_profile)
    assert bare.bbox is None and not str(bare.properties["start_datetime"]).startswith("1976")


def test_a_datastore_in_the_local_store(local_bucket: str, tmp_path: Path) -> None:
    from jasmin_access.datastore import create
    from jasmin_access.samples import NemoSpec, write_nemo_set

    files = write_nemo_set(tmp_path / "src", NemoSpec(prefix="ds", **TINY))
    ja.convert([str(p) for p in files], f"{local_bucket}/runs/run1.zarr")
    pushed = create(f"{local_bucket}/ds/run1", f"{local_bucket}/runs/run1.zarr")
    assert pushed is not None
    report = ja.catalog.build(local_bucket, to=f"{local_bucket}/catalog")
    assert report.written == [f"{local_bucket}/ds/run1", f"{local_bucket}/runs/run1.zarr"]
    items = ja.catalog.search(f"{local_bucket}/catalog", text=pushed.version)
    assert [i.properties["version"] for i in items] == [pushed.version]
    assert items[0].assets["data"].href == f"{local_bucket}/ds/run1@{pushed.version}"
    assert ja.open_dataset(items[0])["so"].shape == (2, 2, 6, 8)
