"""Fixtures shared by the fault, interruption and bad-input suites."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_nemo(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four small monthly NEMO-like files (the first three to convert, the last to append)."""
    from jasmin_access.samples import NemoSpec, write_nemo_set

    spec = NemoSpec(months=4, nx=20, ny=16, nz=3)
    return write_nemo_set(tmp_path_factory.mktemp("faults-nemo"), spec)


@pytest.fixture(scope="session")
def small_daily(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three tiny daily NEMO-like files (31, 29, 31 steps)."""
    from jasmin_access.samples import NemoSpec, write_nemo_set

    spec = NemoSpec(months=3, frequency="1d", nx=12, ny=10, nz=2)
    return write_nemo_set(tmp_path_factory.mktemp("faults-daily"), spec)
