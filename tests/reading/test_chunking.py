"""Dask chunk plans: whole multiples of storage chunks, a few tasks per thread."""

from __future__ import annotations

import numpy as np
import xarray as xr

from jasmin_access.reading.chunking import MAX_TASK_BYTES, auto_chunk, chunk_plan


def _var(shape: tuple[int, ...], chunks: tuple[int, ...]) -> xr.Variable:
    dims = ("time_counter", "deptht", "y", "x")[: len(shape)]
    var = xr.Variable(dims, np.broadcast_to(np.float32(0), shape))
    var.encoding["preferred_chunks"] = dict(zip(dims, chunks, strict=True))
    return var


def test_plan_grows_the_record_dimension_first() -> None:
    # 6 x 75 x 331 x 360 float32 = 214 MB; storage chunk (1, 25, y, x) = 11.9 MB
    var = _var((6, 75, 331, 360), (1, 25, 331, 360))
    plan = chunk_plan(var, "time_counter", threads=2)
    assert plan == {"time_counter": 2, "deptht": 25, "y": 331, "x": 360}  # 8 tasks of 24 MB


def test_plan_never_splits_a_storage_chunk_and_caps_task_size() -> None:
    var = _var((120, 75, 331, 360), (1, 1, 331, 360))  # 4.3 GB in 0.48 MB chunks
    plan = chunk_plan(var, "time_counter", threads=2)
    assert plan["y"] == 331 and plan["x"] == 360
    nbytes = 4 * plan["time_counter"] * plan["deptht"] * 331 * 360
    assert nbytes <= MAX_TASK_BYTES
    assert plan["time_counter"] == 120 and plan["deptht"] > 1  # then grows along depth


def test_small_variables_keep_their_storage_chunks() -> None:
    var = _var((3, 5, 30, 36), (1, 1, 30, 36))
    assert chunk_plan(var, "time_counter", threads=2) == {
        "time_counter": 1,
        "deptht": 1,
        "y": 30,
        "x": 36,
    }


def test_auto_chunk_leaves_indexes_and_chunks_coordinates() -> None:
    ds = xr.Dataset(
        {"t": _var((6, 75, 331, 360), (1, 25, 331, 360))},
        coords={"time_counter": np.arange(6.0), "nav_lat": (("y", "x"), np.zeros((331, 360)))},
    )
    out = auto_chunk(ds, "time_counter", threads=2)
    assert out.t.chunks[0] == (2, 2, 2)
    assert out.time_counter.chunks is None
    assert out.nav_lat.chunks is not None
