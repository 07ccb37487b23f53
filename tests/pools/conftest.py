"""Pools over real backends: local directories, the embedded store, the moto S3 server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jasmin_access.pools.config import add_pool, pool_from_table


def define(name: str, members: list[dict[str, Any]], **table: Any) -> str:
    """Write ``[pools.NAME]`` to the test config; returns ``pool://NAME``."""
    add_pool(pool_from_table(name, {"backends": members, **table}))
    return f"pool://{name}"


@pytest.fixture
def dirs(tmp_path: Path) -> list[Path]:
    """Three empty local directories to use as backends."""
    out = [tmp_path / f"disk{i}" for i in range(3)]
    for d in out:
        d.mkdir()
    return out


def put(url: str, data: bytes = b"x") -> None:
    """Write one small object at ``url`` (placement happens here for a new dataset)."""
    from jasmin_access.stores import resolve

    loc = resolve(url, write=True)
    loc.backend.write_bytes(loc.path, data)
