"""A list file of 100k lines: read, expanded and checked; a bad line is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from jasmin_access.conversion.sources import expand_sources
from jasmin_access.errors import InvalidInput

LINES = 100_000


def _files(folder: Path, count: int) -> list[str]:
    out = []
    for i in range(count):
        path = folder / f"part_{i:03d}.nc"
        path.write_bytes(b"")
        out.append(str(path))
    return out


def test_a_missing_file_deep_in_a_long_list_is_named(tmp_path: Path) -> None:
    files = _files(tmp_path, 50)
    lines = [files[i % len(files)] for i in range(LINES - 1)]
    missing = str(tmp_path / "run" / "ORCA1_missing_grid_T.nc")
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join([*lines, missing]) + "\n")
    with pytest.raises(InvalidInput) as info:
        expand_sources(f"@{listing}")
    assert "ORCA1_missing_grid_T.nc" in str(info.value)
