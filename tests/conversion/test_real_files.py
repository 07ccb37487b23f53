"""Real files from other producers: convert -> open -> verify (and append), against xarray.

The corpus: sample NetCDF files shipped inside installed packages (scipy,
xarray), files laid out as XIOS/NEMO, OSTIA, station and descending-axis
producers write them (:mod:`tests.data.producers`), UM-like cubes saved by
iris itself, and files written by CDO and NCO (:mod:`tests.data.cdo_nco`).
Each store must equal what ``xr.open_mfdataset(files, combine="nested",
concat_dim=<record dim>)`` reads from the originals: values, dtypes, CF
attributes, time units and calendar.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import netCDF4
import pytest
import xarray as xr

from jasmin_access import open_dataset
from jasmin_access.conversion import append, convert, verify
from jasmin_access.errors import InvalidInput
from jasmin_access.reading.info import info
from jasmin_access.timecoord import same_value
from tests.data import cdo_nco, producers

from .helpers import assert_same, reference, store_objects

Case = tuple[list[Path], str]


def _package_file(module: str, *parts: str) -> Path:
    """A sample file shipped inside an installed package (located at test time)."""
    mod = pytest.importorskip(module)
    path = Path(mod.__file__).parent.joinpath(*parts)
    assert path.exists(), f"{module} no longer ships {path.name}"
    return path


def _corpus(root: Path) -> dict[str, Case]:
    cases: dict[str, Case] = {
        "scipy-example_1": ([_package_file("scipy.io", "tests", "data", "example_1.nc")], "time"),
        "scipy-example_2": ([_package_file("scipy.io", "tests", "data", "example_2.nc")], ""),
        "scipy-example_3-v2": (
            [_package_file("scipy.io", "tests", "data", "example_3_maskedvals.nc")],
            "",
        ),
        "xarray-bears": ([_package_file("xarray", "tests", "data", "bears.nc")], ""),
        "xios-monthly": (producers.xios_monthly(root / "xios"), "time_counter"),
        "xios-5day-units-change": (
            producers.xios_monthly(root / "xios5", months=2, nrec=6, units_change=True),
            "time_counter",
        ),
        "iris-um": (producers.um_iris(root / "um"), "time"),
        "ostia-one-record": (producers.ostia_daily(root / "ostia"), "time"),
        "stations-strings": (producers.station_series(root / "stations"), "time"),
        "argo-profiles": (producers.argo_profiles(root / "argo"), "profile"),
        "descending-latitude": (producers.descending_latitude(root / "era"), "time"),
        "projection-y-unlimited": ([producers.polar_stereographic(root / "ps")], "y"),
        "projection-descending-y": (
            [producers.polar_stereographic(root / "ps2", y_unlimited=False)],
            "time",
        ),
    }
    for name, files in cdo_nco.cdo_nco_set(root / "cdo").items():
        cases[f"nco-cdo-{name}"] = (files, "time")
    return cases


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    return _corpus(tmp_path_factory.mktemp("real"))


CASES = [
    "scipy-example_1",
    "scipy-example_2",
    "scipy-example_3-v2",
    "xarray-bears",
    "xios-monthly",
    "xios-5day-units-change",
    "iris-um",
    "ostia-one-record",
    "stations-strings",
    "argo-profiles",
    "descending-latitude",
    "projection-y-unlimited",
    "projection-descending-y",
    "nco-cdo-cdf5",
    "nco-cdo-offset64",
    "nco-cdo-packed",
    "nco-cdo-long_history",
    "nco-cdo-splityear",
]
SINGLE = {"scipy-example_1", "scipy-example_2", "scipy-example_3-v2", "xarray-bears"}
SINGLE |= {"nco-cdo-cdf5"}
SINGLE |= {"projection-y-unlimited", "projection-descending-y", "nco-cdo-offset64"}
MULTI = [c for c in CASES if c not in SINGLE and c != "nco-cdo-long_history"]


def _get(corpus: dict[str, Case], case: str) -> Case:
    if case not in corpus:  # only the CDO/NCO cases depend on system packages
        assert shutil.which("ncks") is None or shutil.which("cdo") is None
        pytest.fail(f"{case}: CDO/NCO missing (run scripts/system-deps.sh)")
    return corpus[case]


def _check_store(url: str, files: list[Path], rdim: str) -> None:
    ref = reference(files, rdim or "unused")
    store = open_dataset(url, chunks=None).load()
    assert_same(store, ref)
    for name, var in ref.variables.items():  # the sources' fill values, NaN included
        want = var.encoding.get("_FillValue")
        if want is not None:
            assert same_value(store[name].encoding.get("_FillValue"), want), name
    report = verify([str(f) for f in files], url)
    assert report.ok, report.differences


@pytest.mark.parametrize("case", CASES)
def test_convert_open_verify(case: str, corpus: dict[str, Case], tmp_path: Path) -> None:
    files, rdim = _get(corpus, case)
    url = str(tmp_path / "store.zarr")
    convert([str(f) for f in files], url, zarr_format=2 if case.endswith("-v2") else 3)
    _check_store(url, files, rdim)


def test_character_fill_value_needs_zarr_v2(corpus: dict[str, Case], tmp_path: Path) -> None:
    files, _ = corpus["scipy-example_3-v2"]
    url = str(tmp_path / "chars.zarr")
    with pytest.raises(InvalidInput, match="'var6_char' holds characters with a _FillValue"):
        convert([str(f) for f in files], url)
    assert store_objects(url, None) == []


@pytest.mark.parametrize("case", MULTI)
def test_convert_first_then_append(case: str, corpus: dict[str, Case], tmp_path: Path) -> None:
    files, rdim = _get(corpus, case)
    url = str(tmp_path / "appended.zarr")
    convert([str(files[0])], url)
    append([str(f) for f in files[1:]], url)
    _check_store(url, files, rdim)


# --------------------------------------------------------------------------- the time coordinate


def test_xios_files_join_by_time_centered_on_s3(
    corpus: dict[str, Case], s3_bucket: str, profile_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    files, _ = corpus["xios-monthly"]
    profile = profile_for(s3_bucket)
    url = f"{s3_bucket}/nemo.zarr"
    with caplog.at_level(logging.INFO, logger="jasmin_access"):
        convert([str(files[1]), str(files[0])], url, profile=profile)
    assert "files ordered by time_centered" in caplog.text
    summary = info(url, profile=profile)
    assert (summary.time_start, summary.time_end) == ("1976-11-16 00:00:00", "1976-12-16 00:00:00")
    assert summary.calendar == "360_day" and "(360_day, from time_centered)" in str(summary)
    with pytest.raises(InvalidInput, match="steps 1976-12-16 00:00:00 to 1976-12-16"):
        append([str(files[1])], url, profile=profile)
    append([str(files[2])], url, profile=profile)
    assert info(url, profile=profile).time_end == "1977-01-16 00:00:00"
    ds = open_dataset(url, profile=profile, time=("1976-12", "1977-01"), chunks=None)
    assert [str(t) for t in ds.time_centered.values] == [
        "1976-12-16 00:00:00",
        "1977-01-16 00:00:00",
    ]
    assert ds.sizes["time_counter"] == 2 and (ds.time_counter.values == 0).all()


def test_netcdf_files_opened_in_place_are_joined_by_time_centered(
    corpus: dict[str, Case],
) -> None:
    files, _ = corpus["xios-monthly"]
    ds = open_dataset([str(files[2]), str(files[0]), str(files[1])], chunks=None)
    xr.testing.assert_equal(ds.load(), reference(files))
    picked = open_dataset([str(f) for f in files], time=("1976-12", "1976-12"), chunks=None)
    assert [str(t) for t in picked.time_centered.values] == ["1976-12-16 00:00:00"]


def test_repeated_month_is_an_overlap_and_nothing_is_written(
    corpus: dict[str, Case], tmp_path: Path
) -> None:
    files, _ = corpus["xios-monthly"]
    again = tmp_path / "copy_of_last.nc"
    shutil.copy(files[2], again)
    url = str(tmp_path / "dup.zarr")
    with pytest.raises(InvalidInput) as caught:
        convert([str(f) for f in files] + [str(again)], url)
    message = str(caught.value)
    assert "copy_of_last.nc: time_centered starts at 1977-01-16" in message
    assert "overlapping" in message and "\n" not in message
    assert store_objects(url, None) == []


def test_time_variable_override_and_refusal(corpus: dict[str, Case], tmp_path: Path) -> None:
    files, _ = corpus["xios-monthly"]
    url = str(tmp_path / "chosen.zarr")
    convert([str(f) for f in files], url, time_variable="time_centered")
    assert verify([str(f) for f in files], url, time_variable="time_centered").ok
    with pytest.raises(InvalidInput, match="choose one of: time_centered, time_counter"):
        convert([str(f) for f in files], str(tmp_path / "bad.zarr"), time_variable="nav_lat")
    # the record coordinate has no units: ordered by its raw numbers, all 0, so refused
    with pytest.raises(InvalidInput, match=r"time_counter (step|starts)"):
        convert([str(f) for f in files], str(tmp_path / "raw.zarr"), time_variable="time_counter")


def test_no_time_coordinate_keeps_the_order_given(
    corpus: dict[str, Case], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files, _ = corpus["xios-monthly"]
    drop = ["time_centered", "time_centered_bounds"]
    url = str(tmp_path / "untimed.zarr")
    with caplog.at_level(logging.INFO, logger="jasmin_access"):
        convert([str(files[1]), str(files[0])], url, drop_variables=drop)
    assert caplog.text.count("files joined in the order given") == 1
    ref = reference([files[1], files[0]]).drop_vars(drop)
    xr.testing.assert_equal(open_dataset(url, chunks=None).load(), ref)
    assert info(url).time_start is None
    with pytest.raises(InvalidInput) as caught:  # issue 15, item 8
        open_dataset(url, time=("2015-01", "2015-02"))
    message = str(caught.value)
    assert "'time_counter' has no time units" in message and "--time-variable" in message
    assert "not supported" not in message


def test_projection_axis_is_never_shown_as_time(corpus: dict[str, Case], tmp_path: Path) -> None:
    (path,), _ = corpus["projection-y-unlimited"]
    url = str(tmp_path / "grid.zarr")
    convert([str(path)], url)
    for summary in (info(url), info(str(path))):
        assert summary.time_start is None and "time:" not in str(summary)
    y = open_dataset(url, chunks=None)["y"].values
    assert y[0] > y[-1]  # kept descending


def test_time_units_differing_between_files_are_re_encoded(
    corpus: dict[str, Case], tmp_path: Path
) -> None:
    files, _ = corpus["xios-5day-units-change"]
    units = [netCDF4.Dataset(f)["time_centered"].units for f in files]
    assert units[0] != units[1]
    url = str(tmp_path / "restart.zarr")
    convert([str(f) for f in files], url)
    store = open_dataset(url, chunks=None).load()
    assert store.time_centered.encoding["units"] == units[0]
    assert store.time_centered.to_index().is_monotonic_increasing
    backwards = str(tmp_path / "backwards.zarr")
    convert([str(f) for f in reversed(files)], backwards)  # ordered by time, first file's units
    xr.testing.assert_identical(
        open_dataset(backwards, chunks=None).load().drop_attrs(), store.drop_attrs()
    )
    assert open_dataset(backwards).time_centered.encoding["units"] == units[0]


# --------------------------------------------------------------------------- real disagreements


def test_files_packed_separately_are_refused(tmp_path: Path) -> None:
    if shutil.which("ncpdq") is None:
        pytest.fail("NCO missing (run scripts/system-deps.sh)")
    files = cdo_nco.packed_separately(tmp_path / "sep")
    url = str(tmp_path / "sep.zarr")
    with pytest.raises(InvalidInput) as caught:
        convert([str(f) for f in files], url)
    assert str(caught.value).startswith(f"{files[1]}: variable 'sst' differs from sep_1.nc")
    assert "'add_offset'" in str(caught.value) or "'scale_factor'" in str(caught.value)
    assert store_objects(url, None) == []


def _perturbed(src: Path, dest: Path, edit: Callable[[netCDF4.Dataset], None]) -> Path:
    shutil.copy(src, dest)
    with netCDF4.Dataset(dest, "a") as ds:
        edit(ds)
    return dest


def test_append_refuses_another_grid_and_leaves_the_store(
    corpus: dict[str, Case], tmp_path: Path
) -> None:
    files, _ = corpus["xios-monthly"]
    url = str(tmp_path / "grid.zarr")
    convert([str(f) for f in files[:2]], url)
    before = sorted(store_objects(url, None))

    def shift(ds: netCDF4.Dataset) -> None:
        ds["nav_lat"][0, 0] = ds["nav_lat"][0, 0] + 1.0

    def retitle(ds: netCDF4.Dataset) -> None:
        ds["tos"].units = "K"

    for edit, expected in ((shift, "values of 'nav_lat' differ"), (retitle, "attribute 'units'")):
        other = _perturbed(files[2], tmp_path / f"{edit.__name__}.nc", edit)
        with pytest.raises(InvalidInput, match=expected):
            append([str(other)], url)
        assert sorted(store_objects(url, None)) == before
    sst = corpus["ostia-one-record"][0][0]
    with pytest.raises(InvalidInput, match=f"{sst.name} has no 'time_counter' dimension"):
        append([str(sst)], url)
    assert sorted(store_objects(url, None)) == before


def test_append_keeps_the_variable_selection(corpus: dict[str, Case], tmp_path: Path) -> None:
    files, _ = corpus["xios-monthly"]
    url = str(tmp_path / "sst_less.zarr")
    convert([str(f) for f in files[:2]], url, drop_variables=["tos"])
    with pytest.raises(InvalidInput, match="'tos' is not in the store"):
        append([str(files[2])], url)
    append([str(files[2])], url, drop_variables=["tos"])
    ref = reference(files).drop_vars("tos")
    xr.testing.assert_equal(open_dataset(url, chunks=None).load(), ref)


def test_time_and_bbox_subsets_on_descending_latitude(
    corpus: dict[str, Case], tmp_path: Path
) -> None:
    files, _ = corpus["descending-latitude"]
    url = str(tmp_path / "era.zarr")
    convert([str(f) for f in files], url)
    got = open_dataset(url, time=("2020-01-02", "2020-01-03"), bbox=(0, 0, 100, 50), chunks=None)
    ref = reference(files, "time")
    want = ref.sel(latitude=[40.0, 0.0], longitude=[0.0, 45.0, 90.0])
    want = want.sel(time=slice("2020-01-02", "2020-01-03"))
    assert want.sizes["time"] == 2
    xr.testing.assert_equal(got.load(), want)
