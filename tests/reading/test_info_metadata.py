"""``info`` of Zarr stores from their metadata alone: the same summary as the xarray path.

Stores written by ``convert`` and by xarray from files other producers wrote
(XIOS, iris, OSTIA, CF station and profile files), in both Zarr formats and
sharded, are summarised both ways and must agree field for field; a converted
store costs one GET and its listing, nothing else.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import xarray as xr

import jasmin_access as ja
from jasmin_access.reading.info import _zarr_info
from jasmin_access.reading.metainfo import Unsupported, metadata_info
from jasmin_access.stores import resolve
from tests.data import producers
from tests.reading.counting import CountingServer
from tests.reading.helpers import COUNTED_PROFILE, counted_bucket_url

PRODUCERS: dict[str, Callable[[Path], list[Path]]] = {
    "xios": lambda root: producers.xios_monthly(root),
    "um_iris": producers.um_iris,
    "ostia": producers.ostia_daily,
    "station": producers.station_series,
    "argo": producers.argo_profiles,
    "descending": producers.descending_latitude,
}


def _both(url: str, profile: str | None = None) -> tuple[dict, dict | None]:
    loc = resolve(url, profile=profile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slow = _zarr_info(loc).as_dict()
    try:
        summary = metadata_info(loc)
    except Unsupported:
        return slow, None
    assert summary is not None
    return slow, summary.as_dict()


def _xarray_store(path: Path, url: str, fmt: int) -> None:
    with warnings.catch_warnings(), xr.open_dataset(path) as ds:
        warnings.simplefilter("ignore")
        ds.to_zarr(resolve(url).zarr_store(), zarr_format=fmt, consolidated=True, mode="w")


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("producer", sorted(PRODUCERS))
def test_summary_from_metadata_matches_the_xarray_one(
    local_bucket: str, tmp_path: Path, producer: str, fmt: int
) -> None:
    files = PRODUCERS[producer](tmp_path / "src")
    converted = f"{local_bucket}/{producer}-{fmt}.zarr"
    written = f"{local_bucket}/{producer}-{fmt}-xr.zarr"
    ja.convert([str(f) for f in files], converted, zarr_format=fmt)
    _xarray_store(files[0], written, fmt)
    for url in (converted, written):
        slow, fast = _both(url)
        if fast is not None:
            assert fast == slow, url
    if producer in ("xios", "ostia"):  # the common cases never need the xarray path
        assert _both(converted)[1] is not None and _both(written)[1] is not None


def test_sharded_store_summary_matches(
    local_bucket: str, nemo_files: list[Path], isolated_env: Path
) -> None:
    url = f"{local_bucket}/sharded.zarr"
    ja.convert([str(f) for f in nemo_files], url, chunks="time_counter=1", shard_mb=0.05)
    slow, fast = _both(url)
    assert fast == slow
    assert any(v["shards"] for v in fast["variables"])
    # both summaries count stored bytes the same way: check them against the files on disk
    root = isolated_env / "store" / local_bucket.removeprefix("local://") / "sharded.zarr"
    on_disk = sum(
        f.stat().st_size
        for f in root.rglob("*")
        if f.is_file() and f.name != "zarr.json" and f.parent != root
        and ".jasmin-access" not in f.parts
    )  # fmt: skip
    summary = metadata_info(resolve(url))
    assert summary is not None and summary.stored_bytes == on_disk > 0


def test_datastore_version_summary_matches(
    s3_bucket: str, s3_profile: str, nemo_files: list[Path]
) -> None:
    from jasmin_access.datastore.reading import open_version
    from jasmin_access.reading.info import _metadata_version_info

    src = f"{s3_bucket}/src.zarr"
    ja.convert([str(f) for f in nemo_files], src, profile=s3_profile)
    url = f"{s3_bucket}/ds"
    ja.datastore.create(url, profile=s3_profile)
    ja.datastore.push(url, src, profile=s3_profile)
    fast = _metadata_version_info(url, {"profile": s3_profile})
    found = open_version(url, check_marker=True, profile=s3_profile)
    assert fast is not None and found is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slow = _zarr_info(found[1], found[0])
    assert fast.as_dict() == slow.as_dict()
    assert ja.info(url, profile=s3_profile).as_dict() == slow.as_dict()


def test_info_of_a_converted_store_reads_only_its_root_metadata(
    counted: CountingServer, nemo_files: list[Path]
) -> None:
    url = counted_bucket_url(counted) + "/run.zarr"
    ja.convert([str(f) for f in nemo_files], url, profile=COUNTED_PROFILE)
    counted.log.clear()
    summary = ja.info(url, profile=COUNTED_PROFILE)
    assert summary.time_start and summary.stored_bytes
    seen = [(r.method, r.key) for r in counted.log.requests]
    gets = [key for method, key in seen if method == "GET" and key]
    lists = [key for method, key in seen if method == "GET" and not key]
    assert gets == ["run.zarr/zarr.json"]  # one GET: no chunk, no second metadata document
    assert len(lists) == 1 and len(seen) == 2  # and the listing for the stored bytes
