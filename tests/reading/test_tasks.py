"""Serializable read tasks: small, secret-free, evaluated by worker processes."""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import pytest
import xarray as xr

import jasmin_access as ja
from jasmin_access.errors import InvalidInput
from jasmin_access.reading.cutting import _bounds
from jasmin_access.reading.tasks import ReadTask
from tests.conftest import TEST_KEY, TEST_SECRET


def test_bounds_follow_storage_chunks() -> None:
    assert _bounds(12, 3, 1) == [(0, 4), (4, 8), (8, 12)]
    assert _bounds(10, 3, 4) == [(0, 4), (4, 8), (8, 10)]  # cut on multiples of 4
    assert _bounds(2, 5, 1) == [(0, 1), (1, 2)]  # never more pieces than steps


def _tos_mean(task: ReadTask) -> float:
    return float(task().tos.mean())


def test_slices_pickle_small_without_secrets_and_run_in_processes(
    s3_bucket: str, make_store: Callable[..., str], nemo_ref: xr.Dataset
) -> None:
    url = make_store(f"{s3_bucket}/run.zarr", "moto")
    tasks = ja.slices(url, dim="time_counter", n=3, profile="moto", variables=["tos"])
    assert [(t.start, t.stop) for t in tasks] == [(0, 1), (1, 2), (2, 3)]
    for task in tasks:
        blob = pickle.dumps(task)
        assert len(blob) < 600
        assert TEST_SECRET.encode() not in blob and TEST_KEY.encode() not in blob
    context = multiprocessing.get_context("spawn")  # workers share nothing with the client
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        means = list(pool.map(_tos_mean, tasks))
    expected = [float(nemo_ref.tos.isel(time_counter=i).mean()) for i in range(3)]
    assert means == pytest.approx(expected, rel=1e-6)


def test_task_open_is_lazy_and_selects_its_piece(
    local_bucket: str, make_store: Callable[..., str], nemo_ref: xr.Dataset
) -> None:
    url = make_store(f"{local_bucket}/run.zarr", None)
    (first, second) = ja.slices(url, n=2)
    assert (first.size, second.size) == (2, 1)
    piece = second.open()
    assert piece.sizes["time_counter"] == 1
    xr.testing.assert_equal(piece.thetao.load(), nemo_ref.thetao.isel(time_counter=slice(2, 3)))


def test_slices_bad_arguments(local_bucket: str, make_store: Callable[..., str]) -> None:
    url = make_store(f"{local_bucket}/run.zarr", None)
    with pytest.raises(InvalidInput, match="dimension 'time'"):
        ja.slices(url, dim="time")
    with pytest.raises(InvalidInput, match="at least 1"):
        ja.slices(url, n=0)


def test_tasks_run_in_forked_workers_after_the_parent_read(
    s3_bucket: str, make_store: Callable[..., str], nemo_ref: xr.Dataset
) -> None:
    url = make_store(f"{s3_bucket}/run.zarr", "moto")
    tasks = ja.slices(url, n=3, profile="moto")
    in_parent = [_tos_mean(t) for t in tasks]  # the parent's filesystems are now in use
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        in_workers = list(pool.map(_tos_mean, tasks, timeout=60))
    assert in_workers == in_parent
    assert in_parent == pytest.approx(
        [float(nemo_ref.tos.isel(time_counter=i).mean()) for i in range(3)], rel=1e-6
    )


def test_lazy_dataset_pickles_without_secrets(
    s3_bucket: str, make_store: Callable[..., str], nemo_ref: xr.Dataset
) -> None:
    url = make_store(f"{s3_bucket}/run.zarr", "moto")
    ds = ja.open_dataset(url, profile="moto", cache=False)
    blob = pickle.dumps(ds)  # what a distributed scheduler ships to its workers
    assert TEST_SECRET.encode() not in blob
    xr.testing.assert_equal(pickle.loads(blob).tos.load(), nemo_ref.tos)
