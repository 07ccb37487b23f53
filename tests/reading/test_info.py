"""Dataset summaries for Zarr stores and NetCDF objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import jasmin_access as ja
from tests.reading.helpers import put_files


@pytest.mark.parametrize("fmt", [2, 3])
def test_zarr_info(bucket: str, profile_for, make_store: Callable[..., str], fmt: int) -> None:
    url = make_store(f"{bucket}/run.zarr", profile_for(bucket), fmt)
    summary = ja.info(url, profile=profile_for(bucket))
    assert summary.format == f"zarr v{fmt}"
    assert summary.dims["time_counter"] == 3 and summary.dims["x"] == 36
    thetao = next(v for v in summary.variables if v.name == "thetao")
    assert thetao.shape == (3, 5, 30, 36) and thetao.chunks == (1, 1, 30, 36)
    assert thetao.dims == ("time_counter", "deptht", "y", "x")
    assert thetao.nbytes == 3 * 5 * 30 * 36 * 4
    assert 0 < thetao.stored_bytes < thetao.nbytes  # compressed
    assert thetao.codecs  # e.g. zstd / blosc
    assert summary.stored_bytes == sum(v.stored_bytes for v in summary.variables)
    assert summary.time_start.startswith("1976-01-16") and summary.time_end.startswith("1976-03")
    assert summary.calendar in ("gregorian", "standard", "proleptic_gregorian")
    text = str(summary)
    assert "thetao" in text and "1x1x30x36" in text
    assert "<table>" in summary._repr_html_()
    json.dumps(summary.as_dict(), default=str)


def test_netcdf_info(bucket: str, profile_for, nemo_files: list[Path]) -> None:
    (url,) = put_files(nemo_files[:1], f"{bucket}/nc", profile_for(bucket))
    summary = ja.info(url, profile=profile_for(bucket))
    assert summary.format == "netcdf4"
    assert summary.stored_bytes == nemo_files[0].stat().st_size
    tos = next(v for v in summary.variables if v.name == "tos")
    assert tos.codecs == ["shuffle", "gzip(1)"]
    assert tos.chunks == (1, 30, 36)
    assert tos.nbytes == int(np.prod(tos.shape)) * 4
    assert summary.time_start == summary.time_end


def test_index_info(local_bucket: str, nemo_files: list[Path]) -> None:
    from jasmin_access.open import build_index

    put_files(nemo_files, f"{local_bucket}/nc", None)
    url = build_index(f"{local_bucket}/nc/*.nc")
    summary = ja.info(url)
    assert summary.format == "kerchunk index"
    assert summary.dims["time_counter"] == 3
    tos = next(v for v in summary.variables if v.name == "tos")
    assert tos.shape == (3, 30, 36) and tos.codecs == ["shuffle", "zlib"]
    nc_sizes = [ja.info(f"{local_bucket}/nc/{f.name}") for f in nemo_files]
    per_file = [next(v for v in s.variables if v.name == "tos").stored_bytes for s in nc_sizes]
    assert tos.stored_bytes == sum(per_file)  # the index points at the files' own bytes


def test_plain_hdf5_is_described_and_opened_with_netcdf4_dimension_names(
    bucket: str, profile_for, tmp_path: Path
) -> None:
    import warnings

    import h5py

    path = tmp_path / "counts.h5"
    with h5py.File(path, "w") as f:  # no dimension scales: not NetCDF
        f.create_dataset("counts", data=np.arange(12).reshape(3, 4))
    (url,) = put_files([path], f"{bucket}/h5", profile_for(bucket))
    summary = ja.info(url, profile=profile_for(bucket))
    assert summary.format == "hdf5"
    assert summary.dims == {"phony_dim_0": 3, "phony_dim_1": 4}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # h5netcdf warns when its phony_dims default is used
        ds = ja.open_dataset(url, profile=profile_for(bucket))
    assert ds.counts.dims == ("phony_dim_0", "phony_dim_1")
    np.testing.assert_array_equal(ds.counts.values, np.arange(12).reshape(3, 4))
