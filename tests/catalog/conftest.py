"""A bucket on the S3 server holding three NEMO-like datasets, catalogued once per session.

- ``runs/ORCA1_global.zarr``: Zarr v3, global tripolar-like grid, gregorian, 1976.
- ``runs/NATL/NATL_360day.zarr``: Zarr v2, a curvilinear North Atlantic patch
  (-60..12E, 30..71N), 360_day calendar, 1990, only ``tos``.
- ``nc/PAC_*.index.json``: NetCDF files indexed in place, a Pacific patch across the
  dateline with longitudes in 0..360 (150..212E), noleap calendar, 2005.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from jasmin_access.config import Profile
from tests.conftest import TEST_KEY, TEST_SECRET, _bucket_name


@dataclass(frozen=True)
class CatalogEnv:
    """The bucket, its datasets and the catalog built over them."""

    profile: Profile
    bucket: str
    catalog: str
    global_zarr: str
    natl_zarr: str
    pac_index: str


def regional(files: list[Path], lon: tuple[float, float], lat: tuple[float, float]) -> None:
    """Give NEMO files a distorted (curvilinear) regional grid instead of the global one."""
    for path in files:
        with netCDF4.Dataset(path, "a") as ds:
            ny, nx = ds["nav_lon"].shape
            j, i = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
            ds["nav_lon"][:] = lon[0] + (lon[1] - lon[0]) * i / (nx - 1) + 2.0 * j / (ny - 1)
            ds["nav_lat"][:] = (
                lat[0] + (lat[1] - lat[0]) * j / (ny - 1) + 1.5 * np.sin(np.pi * i / (nx - 1))
            )


@pytest.fixture(scope="session")
def catalog_env(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> CatalogEnv:
    import jasmin_access as ja
    from jasmin_access.open import build_index
    from jasmin_access.samples import NemoSpec, write_nemo_set
    from jasmin_access.stores import resolve

    profile = Profile(name="moto", endpoint_url=s3_endpoint, key=TEST_KEY, secret=TEST_SECRET)
    bucket = _bucket_name()
    resolve(f"s3://{bucket}", profile=profile).fs.mkdir(bucket)
    root = tmp_path_factory.mktemp("catalog-data")
    small = {"nx": 24, "ny": 20, "nz": 3, "months": 3}

    glob_files = write_nemo_set(root / "a", NemoSpec(prefix="ORCA1_global", **small))
    global_zarr = f"s3://{bucket}/runs/ORCA1_global.zarr"
    ja.convert([str(p) for p in glob_files], global_zarr, profile=profile)

    natl = NemoSpec(prefix="NATL", calendar="360_day", start_year=1990, **small)
    natl_files = write_nemo_set(root / "b", natl)
    regional(natl_files, (-60.0, 10.0), (30.0, 70.0))
    natl_zarr = f"s3://{bucket}/runs/NATL/NATL_360day.zarr"
    ja.convert([str(p) for p in natl_files], natl_zarr, profile=profile, zarr_format=2,
               variables=["tos"])  # fmt: skip

    pac = NemoSpec(prefix="PAC", calendar="noleap", start_year=2005, **small)
    pac_files = write_nemo_set(root / "c", pac)
    regional(pac_files, (150.0, 210.0), (-20.0, 20.0))
    ja.cp(str(root / "c") + "/", f"s3://{bucket}/nc/", recursive=True, profile=profile)
    pac_index = build_index(f"s3://{bucket}/nc/*.nc", profile=profile)

    catalog = f"s3://{bucket}/catalog"
    ja.catalog.build(f"s3://{bucket}/", to=catalog, title="NEMO test runs", profile=profile)
    return CatalogEnv(profile, bucket, catalog, global_zarr, natl_zarr, pac_index)
