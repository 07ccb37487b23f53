"""Fixtures for the converter tests: small NetCDF files covering every feature."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .helpers import write_feature_file


@pytest.fixture(scope="session")
def feature_files(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., list[Path]]:
    """``feature_files(fmt, calendar, nfiles, steps, units_change)``: small feature-rich files."""
    cache: dict[tuple[Any, ...], list[Path]] = {}

    def make(
        fmt: str = "NETCDF4",
        calendar: str = "standard",
        nfiles: int = 2,
        steps: int = 3,
        units_change: bool = False,
    ) -> list[Path]:
        key = (fmt, calendar, nfiles, steps, units_change)
        if key not in cache:
            folder = tmp_path_factory.mktemp("features")
            out = []
            for i in range(nfiles):
                origin = "2001-01-01" if units_change and i % 2 else "2000-01-01"
                path = folder / f"feat_{i + 1}.nc"
                out.append(write_feature_file(path, fmt, calendar, i * steps, steps, origin))
            cache[key] = out
        return cache[key]

    return make
