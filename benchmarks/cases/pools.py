"""Pools: what ``pool://`` costs over the backend URL itself.

Opening: ``jasmin-access info pool://bench-pool/run.zarr`` against
``jasmin-access info s3://bench/pool/data/run.zarr`` (requests counted by the
S3 server; the pool adds its record lookup, one listing).  Listing:
``jasmin-access ls pool://bench-pool/`` over 1,000 datasets on three backends
(the S3 server, the embedded store, a local directory) against ``ls`` of the
largest backend alone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..harness import Bench, Check, Measured, Row, base_env, find_row, measure
from ._common import BUCKET

__all__ = ["NAME", "checks", "run"]

NAME = "pools"
POOL = "bench-pool"
SHARES = (0.6, 0.2, 0.2)  # datasets on S3, the embedded store, a local directory


def _define(bench: Bench, disk: Path) -> None:
    from jasmin_access.pools.config import add_pool, pool_from_table

    members = [
        {"id": "tenancy", "url": f"s3://{BUCKET}/pool/data", "profile": "bench", "order": 0},
        {"id": "store", "url": f"local://{bench.run_id}/pool", "order": 1},
        {"id": "disk", "url": str(disk), "order": 2},
    ]
    add_pool(pool_from_table(POOL, {"backends": members}), bench.config_path)


def _fill(bench: Bench, disk: Path, count: int) -> None:
    """``count`` one-object datasets spread over the three backends (not measured)."""
    assert bench.server is not None
    n_s3, n_store = int(count * SHARES[0]), int(count * SHARES[1])
    fs = bench.server.s3fs()
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    fs.pipe({f"{BUCKET}/pool/data/ds{i:05d}/x": b"x" * 100 for i in range(n_s3)}, batch_size=64)
    store = bench.store_home / bench.run_id / "pool"
    for i in range(n_s3, count):
        where = store if i < n_s3 + n_store else disk
        (where / f"ds{i:05d}").mkdir(parents=True, exist_ok=True)
        (where / f"ds{i:05d}" / "x").write_bytes(b"x" * 100)


def _convert(bench: Bench) -> None:
    """A small NEMO store on S3, adopted by the pool (its record written)."""
    from jasmin_access.samples import NemoSpec, write_nemo_set

    files = write_nemo_set(bench.work_dir / "pool-nc", NemoSpec(months=2))
    env = base_env(bench.ours_env(), bench.work_dir)
    url = f"s3://{BUCKET}/pool/data/run.zarr"
    for argv in (
        ["convert", *map(str, files), url, "--profile", "bench"],
        ["pool", "adopt", POOL, url],
    ):
        subprocess.run([bench.cli, "-q", *argv], env=env, check=True, timeout=600)


def _lines(count: int) -> object:
    def check(run: object) -> str:
        got = len([ln for ln in run.stdout.splitlines() if ln.strip()])  # type: ignore[attr-defined]
        if got < count:
            raise ValueError(f"{got} entries listed, expected {count}")
        return ""

    return check


def run(bench: Bench) -> list[Row]:
    """Open one dataset both ways, then list the whole pool and its largest backend."""
    count = 300 if bench.quick else 1000
    disk = bench.work_dir / "pool-disk"
    disk.mkdir(parents=True, exist_ok=True)
    _define(bench, disk)
    _fill(bench, disk, count)
    _convert(bench)
    env = bench.ours_env()
    open_case = "info of a Zarr store: pool:// vs its s3:// URL"
    rows = [
        measure(bench, open_case, Measured(
            "jasmin-access info pool://", [bench.cli, "info", f"pool://{POOL}/run.zarr"],
            env=env, ours=True)),
        measure(bench, open_case, Measured(
            "jasmin-access info s3://",
            [bench.cli, "info", f"s3://{BUCKET}/pool/data/run.zarr", "--profile", "bench"],
            env=env)),
    ]  # fmt: skip
    ls_case = f"ls over {count:,} datasets on 3 backends vs the largest alone"
    rows += [
        measure(bench, ls_case, Measured(
            f"jasmin-access ls pool:// ({count} datasets)", [bench.cli, "ls", f"pool://{POOL}/"],
            env=env, ours=True, check=_lines(count))),  # type: ignore[arg-type]
        measure(bench, ls_case, Measured(
            f"jasmin-access ls s3:// ({int(count * SHARES[0])} datasets)",
            [bench.cli, "ls", f"s3://{BUCKET}/pool/data/", "--profile", "bench"],
            env=env, check=_lines(int(count * SHARES[0])))),  # type: ignore[arg-type]
    ]  # fmt: skip
    return rows


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """At most one request more to open; listing the pool under 2x the largest backend."""
    out = []
    pool_open = next((r for r in rows if r.tool == "jasmin-access info pool://" and r.ok), None)
    s3_open = next((r for r in rows if r.tool == "jasmin-access info s3://" and r.ok), None)
    target = "opening a pool:// dataset costs at most one request more than its backend URL"
    if pool_open and s3_open and pool_open.requests and s3_open.requests:
        extra = pool_open.requests.total - s3_open.requests.total
        shown = f"{pool_open.requests.total} vs {s3_open.requests.total} requests ({extra:+d})"
        out.append(Check(target, shown, extra <= 1))
    else:
        out.append(Check(target, "not measured in this run", None))
    ls_case = next((r.case for r in rows if r.case.startswith("ls over")), "")
    ours = find_row(rows, ls_case)
    alone = next((r for r in rows if r.case == ls_case and not r.ours and r.ok), None)
    target = "ls pool://NAME/ over 3 backends in under 2x listing the largest alone"
    if ours and alone and ours.seconds and alone.seconds:
        ratio = ours.seconds / alone.seconds
        shown = f"{ratio:.2f}x ({ours.seconds:.2f} s vs {alone.seconds:.2f} s)"
        out.append(Check(target, shown, ratio < 2.0))
    else:
        out.append(Check(target, "not measured in this run", None))
    return out
