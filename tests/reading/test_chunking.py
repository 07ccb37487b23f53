"""Dask chunk plans: whole multiples of storage chunks, as large as allowed."""

from __future__ import annotations

import pickle

import dask.array as da
import numpy as np
import xarray as xr

from jasmin_access.reading.chunking import (
    MAX_TASK_BYTES,
    auto_chunk,
    chunk_plan,
    hand_over_blocks,
)


def _var(shape: tuple[int, ...], chunks: tuple[int, ...]) -> xr.Variable:
    dims = ("time_counter", "deptht", "y", "x")[: len(shape)]
    var = xr.Variable(dims, np.broadcast_to(np.float32(0), shape))
    var.encoding["preferred_chunks"] = dict(zip(dims, chunks, strict=True))
    return var


def test_a_variable_under_the_cap_is_one_task() -> None:
    # 6 x 75 x 331 x 360 float32 = 214 MB; storage chunk (1, 25, y, x) = 11.9 MB
    var = _var((6, 75, 331, 360), (1, 25, 331, 360))
    assert chunk_plan(var, "time_counter") == {"time_counter": 6, "deptht": 75, "y": 331, "x": 360}


def test_plan_grows_the_record_dimension_first() -> None:
    # 60 x 75 x 331 x 360 float32 = 2.1 GB: record steps first, whole storage chunks
    var = _var((60, 75, 331, 360), (1, 25, 331, 360))
    plan = chunk_plan(var, "time_counter")
    assert plan == {"time_counter": 45, "deptht": 25, "y": 331, "x": 360}  # 511 MiB a task


def test_plan_never_splits_a_storage_chunk_and_caps_task_size() -> None:
    var = _var((120, 75, 331, 360), (1, 1, 331, 360))  # 4.3 GB in 0.48 MB chunks
    plan = chunk_plan(var, "time_counter")
    assert plan["y"] == 331 and plan["x"] == 360
    nbytes = 4 * plan["time_counter"] * plan["deptht"] * 331 * 360
    assert nbytes <= MAX_TASK_BYTES
    assert plan["time_counter"] == 120 and plan["deptht"] > 1  # then grows along depth


def test_small_variables_are_one_task() -> None:
    var = _var((3, 5, 30, 36), (1, 1, 30, 36))
    assert chunk_plan(var, "time_counter") == {"time_counter": 3, "deptht": 5, "y": 30, "x": 36}


def test_a_storage_chunk_over_the_cap_is_never_split() -> None:
    var = _var((2, 75, 2000, 2000), (1, 75, 2000, 2000))  # 1.2 GB storage chunks
    assert chunk_plan(var, "time_counter") == {
        "time_counter": 1,
        "deptht": 75,
        "y": 2000,
        "x": 2000,
    }


def test_auto_chunk_leaves_indexes_and_chunks_coordinates() -> None:
    ds = xr.Dataset(
        {"t": _var((6, 75, 331, 360), (1, 25, 331, 360))},
        coords={"time_counter": np.arange(6.0), "nav_lat": (("y", "x"), np.zeros((331, 360)))},
    )
    out = auto_chunk(ds, "time_counter")
    assert out.t.chunks[0] == (6,)
    assert out.time_counter.chunks is None
    assert out.nav_lat.chunks is not None


_MADE: list[np.ndarray] = []  # every block the test graphs allocated, newest last


def _new_block(i: int) -> np.ndarray:
    out = np.full((4, 3), float(i))
    _MADE.append(out)
    return out


def _fresh_blocks(nblocks: int = 1) -> da.Array:
    """A Dask array whose tasks allocate a new block each run (recorded in ``_MADE``)."""
    graph = {("fresh", i, 0): (_new_block, i) for i in range(nblocks)}
    return da.Array(graph, "fresh", ((4,) * nblocks, (3,)), dtype="f8")


def test_a_lone_fresh_block_is_handed_over_not_copied() -> None:
    plain = _fresh_blocks()
    assert plain.compute() is not _MADE[-1]  # dask copies a lone block by default
    fresh = hand_over_blocks(_fresh_blocks())
    assert type(fresh) is da.Array
    result = fresh.compute()
    assert result is _MADE[-1]
    assert np.asarray(fresh) is _MADE[-1]


def test_several_blocks_are_joined_as_usual() -> None:
    fresh = hand_over_blocks(_fresh_blocks(nblocks=3))
    result = fresh.compute()
    assert result.shape == (12, 3)
    assert result[:, 0].tolist() == [0.0] * 4 + [1.0] * 4 + [2.0] * 4


def test_persisted_and_derived_arrays_copy_as_usual() -> None:
    fresh = hand_over_blocks(_fresh_blocks())
    kept = fresh.persist()  # the block now lives in the graph
    once = kept.compute()
    once[...] = -1.0
    assert (kept.compute() == 0.0).all()
    copied = pickle.loads(pickle.dumps(fresh))
    assert "__dask_postcompute__" not in vars(copied)
    assert copied.compute() is not _MADE[-1]
    assert "__dask_postcompute__" not in vars(fresh + 1)


def test_a_distributed_worker_copies_the_block() -> None:
    from distributed import Client

    fresh = hand_over_blocks(_fresh_blocks())
    before = len(_MADE)
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None):
        result = fresh.compute()
    assert len(_MADE) == before + 1  # made in this process, by the worker's thread
    assert result is not _MADE[-1]
    assert (result == 0.0).all()
