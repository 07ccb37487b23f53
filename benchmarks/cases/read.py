"""Open and read a Zarr store on S3: open, whole variable, one step, one point, a bbox mean.

The store is written once per run and data variant (smooth, noisy) from the
NEMO set with xarray (chunks of one step, 25 levels, the whole horizontal
grid).  *open* opens the consolidated store and reads the first variable's
metadata (shape, dtype, attributes) without loading data.  Ours: ``jasmin_access.open_dataset``.
Peer: ``xr.open_zarr`` over an s3fs mapper with defaults.  Both compute the same
number, and the two must agree.

Each run is a fresh process, timed as a whole like every other case; inside
it, open + load is also timed once the libraries are imported (creating the S3
client, the first Dask compute and every byte read are inside that time; the
checksum is not).  Every goal (open ≥5x in one request, everything else ≥2x)
is checked on both times and both are reported: the in-process time is what a
notebook that has imported its libraries waits for; the whole process adds the
~2-4 s of interpreter start-up, imports (the same libraries on both sides, but
s3fs and botocore only on the peer's) and teardown that a script pays once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..datasets import nemo_set, nemo_spec
from ..harness import (
    Bench,
    Check,
    Measured,
    Row,
    Run,
    find_row,
    measure_group,
    not_available,
    python_cmd,
    ratio_check,
)
from ._common import BUCKET, api_has
from .convert import _s3fs, chunk_spec

__all__ = ["NAME", "checks", "ours_read", "peer_read", "prepare", "run"]

NAME = "read"
PEER = "xr.open_zarr(s3fs mapper)"
OURS = "jasmin_access.open_dataset"
STORE = BUCKET + "/read-{variant}.zarr"
QUICK_OPS = ("open", "whole", "point")  # --quick leaves out one step and the bbox mean
BBOX = (-40.0, 20.0, 0.0, 50.0)  # lon_min, lat_min, lon_max, lat_max
OPS = {
    "open": "read ({variant}): open, first variable's metadata",
    "whole": "read ({variant}): whole 4-D thetao",
    "step": "read ({variant}): one time step of thetao",
    "point": "read ({variant}): point time series (surface thetao)",
    "bbox": "read ({variant}): bbox mean of tos over all steps",
}
GOALS = {"open": 5.0, "whole": 2.0, "step": 2.0, "point": 2.0, "bbox": 2.0}  # x the peer
INFO = "read ({variant}): info, dims/variables/chunks/attributes (fresh process)"
INFO_PEER = "xr.open_zarr + print(first variable)"
INFO_GOAL = 5.0


def _point(ds: Any) -> tuple[int, int]:
    return ds.sizes["y"] // 2, ds.sizes["x"] // 3


def _load(ds: Any, op: str) -> Any:
    """Do ``op`` on an opened dataset: the loaded values (timed)."""
    if op == "open":
        var = ds["thetao"]
        return (var.shape, str(var.dtype), dict(var.attrs))
    if op == "whole":
        return ds["thetao"].load()
    if op == "step":
        return ds["thetao"].isel(time_counter=-1).load()
    if op == "point":
        j, i = _point(ds)
        return ds["thetao"].isel(deptht=0, y=j, x=i).load()
    lon0, lat0, lon1, lat1 = BBOX
    lon, lat = ds["nav_lon"], ds["nav_lat"]
    inside = (lon >= lon0) & (lon <= lon1) & (lat >= lat0) & (lat <= lat1)
    return ds["tos"].where(inside).load()


def _summary(arr: Any, op: str) -> dict[str, Any]:
    """Bytes read and a checksum value of loaded values (not timed)."""
    import numpy as np

    if op == "open":
        shape, _dtype, _attrs = arr
        return {"nbytes": 0, "value": float(np.prod(shape))}
    if op == "bbox":
        return {"nbytes": int(arr.nbytes), "value": float(arr.mean())}
    values = arr.values
    if values.ndim < 2:
        return {"nbytes": int(arr.nbytes), "value": float(np.nansum(values, dtype="f8"))}
    # a checksum slab by slab, so it adds little to the peak memory being measured
    total = sum(float(np.nansum(slab, dtype="f8")) for slab in values)
    return {"nbytes": int(arr.nbytes), "value": total}


def _preload(peer: bool) -> None:
    """Import what a notebook has imported already, so the in-process time excludes it.

    s3fs only on the peer's side: ours reads through obstore and never imports it.
    """
    import dask.array  # noqa: F401
    import xarray  # noqa: F401
    import zarr  # noqa: F401

    if peer:
        import s3fs  # noqa: F401


def _timed(open_ds: Any, op: str, peer: bool = False) -> dict[str, Any]:
    """Open with ``open_ds()`` and do ``op``, timed once the libraries are imported."""
    import time

    _preload(peer)
    started = time.perf_counter()
    arr = _load(open_ds(), op)
    seconds = time.perf_counter() - started
    return {**_summary(arr, op), "inprocess_s": seconds}


def peer_read(endpoint: str, path: str, op: str) -> dict[str, Any]:
    """``xr.open_zarr`` over an s3fs mapper with defaults, then ``op`` (worker)."""
    import xarray as xr

    return _timed(lambda: xr.open_zarr(_s3fs(endpoint).get_mapper(path)), op, peer=True)


def ours_read(url: str, op: str) -> dict[str, Any]:
    """``jasmin_access.open_dataset`` on the bench profile, then ``op`` (worker).

    For the bbox mean our opener cuts the minimal index window covering the box
    and the same cell mask as the peer's is then applied, so both compute the
    same number.
    """
    import jasmin_access
    import jasmin_access.open

    if op == "bbox":
        kwargs: dict[str, Any] = {"variables": ["tos"], "bbox": BBOX}
    else:
        kwargs = {"variables": ["thetao"]}
    return _timed(lambda: jasmin_access.open_dataset(url, profile="bench", **kwargs), op)


def peer_info(endpoint: str, path: str) -> dict[str, Any]:
    """``xr.open_zarr`` over an s3fs mapper, then the first data variable printed (worker).

    What a user types to see a store's dims, variables, chunks and attributes;
    the peer of ``jasmin-access info``.
    """
    import xarray as xr

    ds = xr.open_zarr(_s3fs(endpoint).get_mapper(path))
    print(ds[next(iter(ds.data_vars))])
    return {"variables": len(ds.variables)}


def _info_rows(bench: Bench, variant: str, store: str) -> list[Row]:
    """``jasmin-access info`` against the peer, both in fresh processes, in turns."""
    assert bench.server is not None

    def shows(text: str) -> Callable[[Run], str]:
        def check(run: Run) -> str:
            if text not in run.stdout:
                raise ValueError(f"no {text!r} in the output: {run.stdout[-200:]!r}")
            return ""

        return check

    ours = Measured(
        "jasmin-access info",
        [bench.cli, "info", f"s3://{store}", "--profile", "bench"],
        env=bench.ours_env(),
        ours=True,
        check=shows("thetao"),
    )
    peer = Measured(
        INFO_PEER,
        python_cmd(
            bench, "benchmarks.cases.read:peer_info", endpoint=bench.server.endpoint, path=store
        ),
        check=shows("<xarray.DataArray"),
    )
    return measure_group(bench, INFO.format(variant=variant), [ours, peer])


def run_info(bench: Bench) -> list[Row]:
    """The ``info`` case: for each data variant, on the read store (written once per run)."""
    return [row for v in bench.variants for row in _info_rows(bench, v, write_store(bench, v))]


def info_checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """``info`` ≥5x faster than opening with xarray and printing the first variable."""
    out = []
    for variant in bench.variants:
        case = INFO.format(variant=variant)
        target = f"{case}: ≥{INFO_GOAL:g}x faster than {INFO_PEER}"
        out.append(ratio_check(rows, target, case, INFO_PEER, INFO_GOAL))
    return out


def prepare(endpoint: str, files: list[str], dest: str, chunks: dict[str, int]) -> dict:
    """Write the read store from the NEMO set (worker; not measured)."""
    import xarray as xr

    ds = xr.open_mfdataset(files, data_vars="minimal", coords="minimal", compat="override")
    ds = ds.chunk({k: v for k, v in chunks.items() if k in ds.dims})
    ds.to_zarr(_s3fs(endpoint).get_mapper(dest), mode="w")
    return {"ok": True}


def _agree(bench: Bench, op: str, side: str, variant: str) -> Any:
    def check(run: Run) -> str:
        value = run.result.get("value")
        seen = bench.cache.setdefault(f"read:{variant}:{op}", value)
        if value is None or not math.isclose(value, seen, rel_tol=1e-5, abs_tol=1e-6):
            raise ValueError(f"value {value} differs from the other side's {seen}")
        inner = run.result.get("inprocess_s")
        if inner is None:
            return ""
        key = f"read:{variant}:{op}:{side}:inprocess"
        bench.cache.setdefault(key, []).append(float(inner))
        return f"open+{op} in process {inner:.2f} s"

    return check


def run(bench: Bench) -> list[Row]:
    """For each data variant: write the store once, then read it each way, in turns."""
    rows = []
    for variant in bench.variants:
        rows += _run_variant(bench, variant)
    bench.cache["read_time_chunks"] = nemo_spec(bench.scale).months
    return rows


def write_store(bench: Bench, variant: str) -> str:
    """Write the read store of ``variant`` once per run (not measured); its bucket path."""
    from ..harness import base_env, run_once

    assert bench.server is not None
    store = STORE.format(variant=variant)
    if bench.cache.get(f"read:{variant}:written"):
        return store
    paths, _ = nemo_set(bench.data_dir, bench.scale, variant)
    fs = bench.server.s3fs()
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    cmd = python_cmd(
        bench,
        "benchmarks.cases.read:prepare",
        endpoint=bench.server.setup_endpoint,
        files=[str(p) for p in paths],
        dest=store,
        chunks=chunk_spec(bench.scale),
    )
    for _attempt in range(2):  # a loaded SeaweedFS may answer a PUT with InternalError
        prep = run_once(cmd, base_env({}, bench.work_dir / "home"))
        if prep.returncode == 0:
            break
    if prep.returncode != 0:
        raise RuntimeError(f"could not write the read store: {prep.failure()}")
    bench.cache[f"read:{variant}:written"] = True
    return store


def _run_variant(bench: Bench, variant: str) -> list[Row]:
    store = write_store(bench, variant)
    assert bench.server is not None
    why = api_has("jasmin_access.open", "open_dataset")
    rows: list[Row] = []
    for op, label in OPS.items():
        if bench.quick and op not in QUICK_OPS:
            continue
        case = label.format(variant=variant)
        nbytes = lambda r: int(r.result.get("nbytes", 0))  # noqa: E731
        func = "benchmarks.cases.read:peer_read"
        peer = Measured(
            PEER,
            python_cmd(bench, func, endpoint=bench.server.endpoint, path=store, op=op),
            nbytes=nbytes,
            check=_agree(bench, op, "peer", variant),
        )
        ours = Measured(
            OURS,
            python_cmd(bench, "benchmarks.cases.read:ours_read", url=f"s3://{store}", op=op),
            env=bench.ours_env(),
            ours=True,
            nbytes=nbytes,
            check=_agree(bench, op, "ours", variant),
        )
        if why:
            rows += [not_available(case, OURS, why), *measure_group(bench, case, [peer])]
        else:
            rows += measure_group(bench, case, [ours, peer])
    return rows


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """Open ≥5x in 1 request, the rest ≥2x (both times); point series reads only its chunks."""
    out = []
    for variant in bench.variants:
        out += _variant_checks(bench, rows, variant)
    return out


def _variant_checks(bench: Bench, rows: list[Row], variant: str) -> list[Check]:
    def case(op: str) -> str:
        return OPS[op].format(variant=variant)

    out = []
    for op, goal in GOALS.items():
        out.append(_inprocess_check(bench, variant, op, goal))
        target = f"{case(op)}: ≥{goal:g}x faster than {PEER} (whole process)"
        out.append(ratio_check(rows, target, case(op), PEER, goal))
    ours = find_row(rows, case("open"))
    target = f"open ({variant}): one request"
    if ours is None or ours.requests is None:
        out.append(Check(target, "not measured", None))
    else:
        out.append(Check(target, ours.requests.summary(), ours.requests.total == 1))
    target = f"point time series ({variant}) reads only the chunks holding the point"
    ours = find_row(rows, case("point"))
    expected = bench.cache.get("read_time_chunks")
    if ours is None or ours.requests is None or expected is None:
        out.append(Check(target, "not measured", None))
    else:
        got = ours.requests.chunks.get("thetao", 0)
        shown = f"{got} thetao chunk GETs for {expected} chunks holding it"
        out.append(Check(target, shown, got == expected))
    return out


def _inprocess_check(bench: Bench, variant: str, op: str, goal: float) -> Check:
    """Open (+ load) timed in the process once the libraries are imported, as in a notebook."""
    import statistics

    target = (
        f"read ({variant}) {op}: ≥{goal:g}x faster than xr.open_zarr defaults "
        "(fresh process, timed once the libraries are imported, as in a notebook)"
    )
    ours = bench.cache.get(f"read:{variant}:{op}:ours:inprocess")
    peer = bench.cache.get(f"read:{variant}:{op}:peer:inprocess")
    if not ours or not peer:
        return Check(target, "not measured in this run", None)
    a, b = statistics.median(ours), statistics.median(peer)
    return Check(target, f"{b / a:.2f}x (ours {a:.3f} s, {PEER} {b:.3f} s)", b / a >= goal)
