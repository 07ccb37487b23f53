"""append: new steps, partial chunks, replace, refusals, crash, resume; compared to xr.concat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import xarray as xr
import zarr

from jasmin_access.conversion import append, convert, verify
from jasmin_access.conversion.writer import SimulatedCrash
from jasmin_access.errors import InvalidInput
from jasmin_access.samples import NemoSpec, write_nemo_set

from .helpers import open_store, store_objects, zstore


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Five daily files (31, 29, 31, 30, 31 steps): chunks of 7 never align with files."""
    spec = NemoSpec(months=5, frequency="1d", nx=12, ny=10, nz=3)
    return [str(p) for p in write_nemo_set(tmp_path_factory.mktemp("months"), spec)]


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory, months: list[str]) -> dict[str, str]:
    """Variants of month 4 that must be refused."""
    folder = tmp_path_factory.mktemp("odd-months")
    out = {}
    grid = write_nemo_set(folder / "grid", NemoSpec(months=4, frequency="1d", nx=14, ny=10, nz=3))
    out["grid"] = str(grid[3])
    with xr.open_dataset(months[3], decode_cf=False) as ds:
        for var in ds.variables.values():
            var.encoding["_FillValue"] = None
        variants = {
            "missing": ds.drop_vars("zos"),
            "extra": ds.assign(extra=ds.tos * 2),
            "dtype": ds.assign(tos=ds.tos.astype("f8")),
            "duplicate": ds.isel(time_counter=[0, 1, 1, 2]),
        }
        for name, variant in variants.items():
            path = folder / f"{name}.nc"
            variant.to_netcdf(path, unlimited_dims=["time_counter"])
            out[name] = str(path)
    return out


def ref(files: list[str]) -> xr.Dataset:
    parts = [xr.open_dataset(f).load() for f in files]
    return xr.concat(parts, dim="time_counter", data_vars="minimal", coords="minimal",
                     compat="override")  # fmt: skip


def _check(url: str, files: list[str], profile: str | None = None) -> None:
    xr.testing.assert_equal(open_store(url, profile), ref(files))


LAYOUTS = {"v3": {}, "v2": {"zarr_format": 2}, "sharded": {"shard_mb": 0.05}}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "name"),
    # the layouts only change what zarr writes: both backends for v3, the local store for others
    [("local", "v3"), ("s3", "v3"), ("local", "v2"), ("local", "sharded")],
    ids=["local-v3", "s3-v3", "local-v2", "local-sharded"],
)
def test_append_across_partial_chunk_then_replace(
    request: pytest.FixtureRequest, profile_for: Any, months: list[str], backend: str, name: str
) -> None:
    bucket = str(request.getfixturevalue(f"{backend}_bucket"))
    layout = LAYOUTS[name]
    profile = profile_for(bucket)
    url = f"{bucket}/append.zarr"
    convert(months[:2], url, chunks="time_counter=8", profile=profile, **layout)
    report = append(months[2:4], url, profile=profile)  # 60 steps: last chunk of 8 was partial
    assert report.chunks_written > 0
    _check(url, months[:4], profile)
    arr = zarr.open_array(zstore(url, profile), path="thetao", mode="r")
    assert arr.chunks[0] == 8 and arr.shape[0] == 31 + 29 + 31 + 30
    # replace at the tail, then in the middle
    if not layout:
        append(months[3:4], url, profile=profile, replace=True)
    append(months[1:2], url, profile=profile, replace=True)
    xr.testing.assert_equal(open_store(url, profile), ref(months[:4]))
    group = zarr.open_group(zstore(url, profile), mode="r")
    names = [s["name"] for s in group.attrs["jasmin_access"]["sources"]]
    replaced = [months[1]] if layout else [months[3], months[1]]
    assert names == [*months[:2], *months[2:4], *replaced]
    assert group.attrs["history"].count("jasmin-access append") == 1 + len(replaced)


def test_append_to_the_end_with_replace_extension(tmp_path: Path, months: list[str]) -> None:
    url = str(tmp_path / "tail.zarr")
    convert(months[:2], url, chunks="time_counter=10")
    append(months[2:3], url)
    append(months[2:4], url, replace=True)  # one month replaced, one appended
    _check(url, months[:4])


REFUSALS = {
    "overlap": "already in the store",
    "prepend": "before the store's first step",
    "gap": "gap before step 1976-05-01",
    "duplicate": "duplicated or out of order",
    "missing": "'zos' is in the store but not in the sources",
    "extra": "'extra' is not in the store",
    "grid": "shape",
    "dtype": "float64",
}


def test_refusals_leave_the_store_untouched(
    bucket: str, profile_for: Any, months: list[str], odd: dict[str, str]
) -> None:
    profile = profile_for(bucket)
    url = f"{bucket}/refuse.zarr"
    convert(months[1:3], url, chunks="time_counter=7", profile=profile)
    before = sorted(store_objects(url, profile))
    named = {"overlap": months[2:3], "prepend": months[0:1], "gap": months[4:5]}
    for case, expected in REFUSALS.items():
        sources = named.get(case, [odd.get(case, "")])
        with pytest.raises(InvalidInput, match=expected):
            append(sources, url, profile=profile)
        assert sorted(store_objects(url, profile)) == before, case
    append(months[4:5], url, profile=profile, allow_gaps=True)
    assert open_store(url, profile).sizes["time_counter"] == 29 + 31 + 31


def test_interrupted_append_resumes_and_readers_see_old_length(
    bucket: str, profile_for: Any, months: list[str]
) -> None:
    profile = profile_for(bucket)
    url = f"{bucket}/resume.zarr"
    convert(months[:2], url, chunks="time_counter=7", profile=profile)
    with pytest.raises(SimulatedCrash):
        append(months[2:3], url, profile=profile, fail_after_units=10)
    during = open_store(url, profile)
    assert during.sizes["time_counter"] == 60  # the old length, old values
    xr.testing.assert_equal(during, ref(months[:2]))
    report = append(months[2:3], url, profile=profile)
    assert report.resumed and report.chunks_skipped >= 10
    assert report.chunks_written + report.chunks_skipped == report.chunks_total
    _check(url, months[:3], profile)
    assert verify(months[:3], url, profile=profile).ok
    state = [k for k in store_objects(url, profile) if ".jasmin-access" in k]
    assert [k.rsplit("/", 1)[1] for k in state] == ["scan.json"]  # marker, journal gone
