"""Computing opened datasets: Dask's threads, without importing dask.distributed first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dask
import numpy as np
import xarray as xr

from jasmin_access.reading.scheduling import use_threads

_SCRIPT = """
import sys
import numpy as np, xarray as xr
import jasmin_access as ja
ds = ja.open_dataset(sys.argv[1])
got = ds.t.isel(x=slice(1, 3)).load()
np.testing.assert_array_equal(got.values, np.arange(12.0).reshape(3, 4)[:, 1:3])
print("distributed" in sys.modules, ds.t.data.npartitions)
import dask
print(getattr(dask.config.get("scheduler"), "__module__", dask.config.get("scheduler")))
if sys.argv[2] == "client":  # a client made afterwards as the default computes
    from distributed import Client, LocalCluster, get_task_stream
    with LocalCluster(n_workers=1, processes=False) as cluster, Client(cluster) as client:
        with get_task_stream(client) as stream:
            assert float(ds.t.sum()) == 66.0
        print(len(stream.data) > 0)
"""


def _run(path: Path, then: str, **env: str) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(path), then],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


def test_loading_a_dataset_does_not_import_distributed(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    xr.Dataset({"t": (("y", "x"), np.arange(12.0).reshape(3, 4))}).to_zarr(path)
    # a Dask array, computed on Dask's threads without importing distributed
    assert _run(path, "") == ["False", "1", "dask.threaded"]
    assert _run(path, "client") == ["False", "1", "dask.threaded", "True"]
    # a scheduler configured by the user is kept (Dask then imports distributed itself)
    assert _run(path, "", DASK_SCHEDULER="synchronous") == ["True", "1", "synchronous"]


def test_nothing_is_configured_once_distributed_is_loaded() -> None:
    import distributed  # noqa: F401 - a client may now exist

    with dask.config.set(scheduler=None):
        use_threads()
        assert dask.config.get("scheduler", None) is None
