"""Safe writes: mismatched inputs fail before any write; crash and resume; overwrite."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import zarr

from jasmin_access.conversion import convert, verify
from jasmin_access.conversion.writer import MARKER, SimulatedCrash
from jasmin_access.errors import AlreadyExists, InvalidInput, NotFound
from jasmin_access.samples import NemoSpec, write_nemo_set

from .helpers import assert_same, open_store, reference, store_objects, zstore


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory: pytest.TempPathFactory, nemo_files: list[Path]) -> dict[str, Path]:
    """Files that do not fit with ``nemo_files``."""
    folder = tmp_path_factory.mktemp("odd")
    out: dict[str, Path] = {}
    wide = write_nemo_set(folder / "wide", NemoSpec(nx=40, months=4))
    out["grid"] = wide[3]
    with xr.open_dataset(nemo_files[2], decode_cf=False) as ds:
        for var in ds.variables.values():
            var.encoding["_FillValue"] = None  # keep attributes exactly as they are
        ds.drop_vars("zos").to_netcdf(folder / "missing.nc")
        ds.assign(tos=ds.tos.astype("f8")).to_netcdf(folder / "dtype.nc")
    out["missing"] = folder / "missing.nc"
    out["dtype"] = folder / "dtype.nc"
    out["overlap"] = folder / "copy_of_month2.nc"
    shutil.copy(nemo_files[1], out["overlap"])
    out["text"] = folder / "notes.nc"
    out["text"].write_text("this is not netcdf\n")
    out["truncated"] = folder / "truncated.nc"
    out["truncated"].write_bytes(nemo_files[0].read_bytes()[:3000])
    return out


CASES = {
    "grid": ("shape", "grid"),
    "missing": ("'zos' missing", "missing"),
    "dtype": ("dtype", "dtype"),
    "overlap": ("overlapping", "overlap"),
    "text": ("not a NetCDF file", "text"),
    "truncated": ("truncated.nc", "truncated"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mismatch_fails_before_any_write(
    bucket: str, profile_for: Any, nemo_files: list[Path], odd_files: dict[str, Path], case: str
) -> None:
    expected, key = CASES[case]
    sources = [str(f) for f in nemo_files] + [str(odd_files[key])]
    url = f"{bucket}/bad.zarr"
    with pytest.raises(InvalidInput) as info:
        convert(sources, url, profile=profile_for(bucket))
    message = str(info.value)
    assert expected in message
    assert odd_files[key].name in message  # names the offending file
    assert store_objects(url, profile_for(bucket)) == []


def test_unsorted_files_are_ordered_by_time_and_empty_glob(
    tmp_path: Path, nemo_files: list[Path]
) -> None:
    convert([str(nemo_files[1]), str(nemo_files[0])], str(tmp_path / "u.zarr"))
    assert_same(open_store(str(tmp_path / "u.zarr")), reference(nemo_files[:2]))
    with pytest.raises(InvalidInput, match="no files match"):
        convert(str(tmp_path / "nothing-*.nc"), str(tmp_path / "e.zarr"))
    with pytest.raises(InvalidInput, match="does not exist"):
        convert(str(tmp_path / "absent.nc"), str(tmp_path / "e.zarr"))
    assert not (tmp_path / "e.zarr").exists()


def _arrays(url: str, profile: str | None) -> dict[str, Any]:
    group = zarr.open_group(zstore(url, profile), mode="r")
    return {name: (arr[...], dict(arr.attrs)) for name, arr in group.arrays()}


def test_crash_then_resume_equals_uninterrupted(
    bucket: str, profile_for: Any, nemo_daily_files: list[Path]
) -> None:
    profile = profile_for(bucket)
    files = [str(f) for f in nemo_daily_files]
    options = {"chunks": "time_counter=10", "profile": profile}
    url = f"{bucket}/resumed.zarr"
    with pytest.raises(SimulatedCrash):
        convert(files, url, fail_after_units=12, **options)
    # Half-written: not visible to readers, owned by a run.
    assert store_objects(url, profile)
    with pytest.raises((FileNotFoundError, zarr.errors.GroupNotFoundError)):
        zarr.open_group(zstore(url, profile), mode="r")
    with pytest.raises((FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError)):
        xr.open_zarr(zstore(url, profile))
    assert any(k.endswith(MARKER) for k in store_objects(url, profile))
    report = convert(files, url, **options)
    assert report.resumed and report.chunks_skipped >= 12
    assert report.chunks_written + report.chunks_skipped == report.chunks_total
    state = [k for k in store_objects(url, profile) if ".jasmin-access" in k]
    assert [k.rsplit("/", 1)[1] for k in state] == ["scan.json"]  # marker, journal gone
    clean = f"{bucket}/clean.zarr"
    convert(files, clean, **options)
    resumed, expected = _arrays(url, profile), _arrays(clean, profile)
    assert resumed.keys() == expected.keys()
    for name, (values, attrs) in expected.items():
        np.testing.assert_array_equal(resumed[name][0], values)
        assert resumed[name][1] == attrs
    root_a = dict(zarr.open_group(zstore(url, profile), mode="r").attrs)
    root_b = dict(zarr.open_group(zstore(clean, profile), mode="r").attrs)
    for attrs in (root_a, root_b):
        attrs["jasmin_access"].pop("created")
        attrs.pop("history")
    assert root_a == root_b


def _stamps(url: str, profile: str | None) -> dict[str, tuple[Any, ...]]:
    """Every object under a store with its size and modification stamp."""
    from jasmin_access.stores import resolve

    loc = resolve(url, profile=profile)
    found = loc.fs.find(loc.path, detail=True)
    return {
        k: (v.get("size"), v.get("mtime"), v.get("LastModified"), v.get("ETag"))
        for k, v in found.items()
    }


def test_existing_store_refused_then_overwritten(
    bucket: str, profile_for: Any, nemo_files: list[Path]
) -> None:
    profile = profile_for(bucket)
    url = f"{bucket}/exists.zarr"
    files = [str(f) for f in nemo_files]
    convert(files, url, profile=profile, chunks="time_counter=1")
    before = _stamps(url, profile)
    with pytest.raises(AlreadyExists, match="--overwrite"):
        convert(files, url, profile=profile)  # units read ahead meanwhile are never stored
    assert _stamps(url, profile) == before
    assert open_store(url, profile).thetao.encoding["chunks"][0] == 1  # untouched
    report = convert(files, url, profile=profile, overwrite=True, chunks="time_counter=3")
    assert not report.resumed and report.chunks_skipped == 0
    assert open_store(url, profile).thetao.encoding["chunks"][0] == 3
    assert not any(k.endswith("/c/1/0/0/0") for k in store_objects(url, profile))  # old gone


def test_unfinished_store_of_other_inputs_is_refused(
    tmp_path: Path, nemo_files: list[Path]
) -> None:
    url = str(tmp_path / "other.zarr")
    files = [str(f) for f in nemo_files]
    with pytest.raises(SimulatedCrash):
        convert(files, url, fail_after_units=1, chunks="time_counter=1")
    with pytest.raises(AlreadyExists, match="unfinished"):
        convert(files, url, chunks="time_counter=2")
    with pytest.raises(SimulatedCrash):
        convert(files, url, chunks="time_counter=2", overwrite=True, fail_after_units=2)
    report = convert(files, url, chunks="time_counter=2", overwrite=True)
    assert report.resumed and report.chunks_skipped >= 2  # same command: resumed, not restarted
    assert open_store(url).thetao.encoding["chunks"][0] == 2


def test_unfinished_store_of_another_layout_rule_is_refused(
    tmp_path: Path, nemo_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A default rule changed between the crash and the rerun (an upgrade): no mixed store."""
    from jasmin_access.conversion import encoding

    url = str(tmp_path / "upgraded.zarr")
    files = [str(f) for f in nemo_files]
    monkeypatch.setitem(encoding.DEFAULT_LEVEL, "zstd", 1)  # the rule before the upgrade
    with pytest.raises(SimulatedCrash):
        convert(files, url, fail_after_units=1)
    monkeypatch.setitem(encoding.DEFAULT_LEVEL, "zstd", 2)
    with pytest.raises(AlreadyExists, match="unfinished"):
        convert(files, url)
    report = convert(files, url, overwrite=True)
    assert not report.resumed and report.chunks_skipped == 0


def test_verify_reports_differences(tmp_path: Path, nemo_files: list[Path]) -> None:
    url = str(tmp_path / "tampered.zarr")
    files = [str(f) for f in nemo_files]
    convert(files, url)
    arr = zarr.open_array(zstore(url, read_only=False), path="tos", mode="r+")
    arr[1, 3, 4] = arr[1, 3, 4] + 1
    report = verify(files, url)
    assert not report.ok
    assert report.differences[0].startswith("tos[") and "1 values differ" in report.differences[0]
    with pytest.raises(NotFound):
        verify(files, str(tmp_path / "absent.zarr"))


def test_work_units_pickle_without_secrets(
    s3_bucket: str, s3_profile: str, nemo_files: list[Path]
) -> None:
    import pickle

    from jasmin_access.conversion.api import prepare
    from jasmin_access.conversion.plan import ConvertOptions
    from jasmin_access.conversion.writer import StoreTarget
    from jasmin_access.stores import resolve
    from tests.conftest import TEST_KEY, TEST_SECRET

    loc = resolve(f"{s3_bucket}/in/a.nc", profile=s3_profile)
    loc.fs.put_file(str(nemo_files[0]), loc.path)
    plan = prepare(f"{s3_bucket}/in/a.nc", ConvertOptions(), {"profile": s3_profile})
    unit = next(iter(plan.units()))
    target = StoreTarget.of(resolve(f"{s3_bucket}/out.zarr", profile=s3_profile), "run")
    blob = pickle.dumps((target, unit))
    assert TEST_SECRET.encode() not in blob and TEST_KEY.encode() not in blob
    again_target, again_unit = pickle.loads(blob)
    assert again_unit.parts[0][0].url == f"{s3_bucket}/in/a.nc" and again_target.path
