"""Opening costs the metadata request alone: coordinates and their indexes are read when used.

Counted at the fault proxy (``tests/s3proxy.py``) in front of the moto server,
on stores written by our converter and by xarray itself, and compared value by
value with xarray's own reading.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import jasmin_access as ja
from jasmin_access.reading.lazycoords import LazyIndex
from jasmin_access.stores import resolve
from tests.reading.helpers import write_store
from tests.s3proxy import S3Proxy


def _bucket(profile: str) -> str:
    name = f"lazy-{uuid.uuid4().hex[:10]}"
    resolve(f"s3://{name}", profile=profile).fs.mkdir(name)
    return f"s3://{name}"


def _requests(proxy: S3Proxy) -> list[tuple[str, str]]:
    return [(method, path.split("/", 2)[-1]) for method, path, _query in proxy.requests]


@pytest.fixture
def converted(s3_proxy: S3Proxy, proxied_profile: str, nemo_files: list[Path]) -> tuple[str, str]:
    """A store written by ``convert`` behind the proxy: (URL, profile)."""
    url = _bucket(proxied_profile) + "/run.zarr"
    ja.convert([str(f) for f in nemo_files], url, profile=proxied_profile)
    return url, proxied_profile


def test_opening_a_converted_store_costs_exactly_one_request(
    s3_proxy: S3Proxy, converted: tuple[str, str], nemo_ref: xr.Dataset
) -> None:
    url, profile = converted
    s3_proxy.reset()
    ds = ja.open_dataset(url, profile=profile)
    assert _requests(s3_proxy) == [("GET", "run.zarr/zarr.json")]
    assert isinstance(ds.xindexes["time_counter"], LazyIndex)
    assert not ds.xindexes["time_counter"].loaded
    # what a user looks at first costs nothing more either
    assert ds.thetao.shape == nemo_ref.thetao.shape
    assert ds.time_counter.dtype == nemo_ref.time_counter.dtype
    assert "time_counter" in repr(ds)
    assert len(s3_proxy.requests) == 1


def test_selection_reads_the_coordinate_once(
    s3_proxy: S3Proxy, converted: tuple[str, str], nemo_ref: xr.Dataset
) -> None:
    url, profile = converted
    ds = ja.open_dataset(url, profile=profile)
    s3_proxy.reset()
    when = nemo_ref.time_counter.values[1]
    part = ds.thetao.sel(time_counter=when)
    coordinate = [p for _m, p in _requests(s3_proxy)]
    assert coordinate and all(p.startswith("run.zarr/time_counter/") for p in coordinate)
    s3_proxy.reset()
    np.testing.assert_array_equal(ds.time_counter.values, nemo_ref.time_counter.values)
    assert s3_proxy.requests == []  # the index's read serves the values too
    xr.testing.assert_equal(part.load(), nemo_ref.thetao.sel(time_counter=when))
    assert ds.thetao.isel(time_counter=-1).time_counter.values == nemo_ref.time_counter[-1]


@pytest.mark.parametrize("fmt", [2, 3])
def test_foreign_store_opens_on_its_metadata_alone(
    s3_proxy: S3Proxy, proxied_profile: str, nemo_ref: xr.Dataset, fmt: int
) -> None:
    url = write_store(nemo_ref, _bucket(proxied_profile) + "/xr.zarr", proxied_profile, fmt)
    s3_proxy.reset()
    ds = ja.open_dataset(url, profile=proxied_profile)
    expected = ["xr.zarr/zarr.json"] + (["xr.zarr/.zmetadata"] if fmt == 2 else [])
    assert [p for _m, p in _requests(s3_proxy)] == expected
    with xr.open_zarr(resolve(url, profile=proxied_profile).zarr_store()) as ref:
        for name in ("time_counter", "time_centered", "time_counter_bounds", "deptht"):
            ours, theirs = ds[name].variable, ref[name].variable
            xr.testing.assert_identical(ours.to_base_variable(), theirs.to_base_variable().load())
        assert ds.time_counter.encoding["units"] == ref.time_counter.encoding["units"]
        level = ref.deptht.values[3]
        xr.testing.assert_equal(ds.thetao.sel(deptht=level), ref.thetao.sel(deptht=level).load())


def _dataset_with_times(units: str, calendar: str, values: list[float]) -> xr.Dataset:
    time = xr.Variable(("time",), np.array(values), {"units": units, "calendar": calendar})
    return xr.Dataset({"v": (("time",), np.arange(len(values), dtype="f4"))}, {"time": time})


@pytest.mark.parametrize(
    ("calendar", "since", "first"),
    [
        ("360_day", "1850-01-01", 0.0),
        ("noleap", "1850-01-01", 0.0),
        ("standard", "1850-01-01", 0.0),
        ("standard", "0001-01-01", 730000.0),  # the reference date is out of datetime64's range
    ],
)
def test_times_decode_as_xarray_decodes_them(
    tmp_path: Path, calendar: str, since: str, first: float
) -> None:
    values = [first, first + 45.5, first + 400.0]
    raw = _dataset_with_times(f"days since {since}", calendar, values)
    path = tmp_path / "times.zarr"
    raw.to_zarr(path, consolidated=True)
    ds = ja.open_dataset(str(path))
    with xr.open_zarr(path) as ref:
        assert ds.time.dtype == ref.time.dtype
        np.testing.assert_array_equal(ds.time.values, ref.time.values)
        assert ds.time.encoding["calendar"] == calendar
        assert float(ds.sel(time=ref.time.values[1]).v) == 1.0


def test_dates_beyond_datetime64_say_to_use_cftime(tmp_path: Path) -> None:
    # the reference date fits datetime64[ns]; the last value (year ~4700) does not
    raw = _dataset_with_times("days since 1970-01-01", "standard", [0.0, 1e6])
    path = tmp_path / "far.zarr"
    raw.to_zarr(path, consolidated=True)
    ds = ja.open_dataset(str(path))
    with pytest.raises(ValueError, match="open with use_cftime=True"):
        ds.time.values  # noqa: B018
    far = ja.open_dataset(str(path), use_cftime=True)
    assert far.time.values[-1].year > 4000
