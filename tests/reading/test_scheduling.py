"""Computing opened datasets: Dask's threads without importing dask.distributed, else a client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dask
import numpy as np
import xarray as xr

from jasmin_access.reading.scheduling import threads_or_client, use_threads_or_client

_SCRIPT = """
import sys
import numpy as np, xarray as xr
import jasmin_access as ja
ds = ja.open_dataset(sys.argv[1])
got = ds.t.isel(x=slice(1, 3)).load()
np.testing.assert_array_equal(got.values, np.arange(12.0).reshape(3, 4)[:, 1:3])
print("distributed" in sys.modules, ds.t.data.npartitions)
"""


def test_loading_a_dataset_does_not_import_distributed(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    xr.Dataset({"t": (("y", "x"), np.arange(12.0).reshape(3, 4))}).to_zarr(path)
    run = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(path)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False", "1"]  # a Dask array, computed without distributed


def test_a_configured_scheduler_is_kept() -> None:
    def mine(dsk: object, keys: object, **kwargs: object) -> object:
        raise AssertionError("not used")

    with dask.config.set(scheduler=mine):
        use_threads_or_client()
        assert dask.config.get("scheduler") is mine
    with dask.config.set(scheduler="synchronous"):
        use_threads_or_client()
        assert dask.config.get("scheduler") == "synchronous"


def test_a_current_client_computes() -> None:
    from distributed import Client, LocalCluster, get_task_stream

    x = dask.array.arange(10, chunks=5)
    assert x.sum().compute(scheduler=threads_or_client) == 45  # no client: threads
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster,
        Client(cluster, set_as_default=False) as client,
        client.as_current(),
    ):
        with get_task_stream(client) as stream:
            assert (x + 1).sum().compute(scheduler=threads_or_client) == 55
        assert stream.data  # the tasks ran on the client's cluster
