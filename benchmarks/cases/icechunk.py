"""Datastores beside Icechunk on the same server: commit a one-month append, open, load.

Icechunk 1.1 (``pip install 'icechunk>=1.1'`` resolves 1.1.x on Python 3.11;
Icechunk 2.x needs Python 3.12 or newer) runs with the conditional writes it
needs, which the server allows; ours uses none.  Each pair runs in turns
(ours, Icechunk, ours, ...) in fresh processes, so start-up and imports count
on both sides.

* commit: ours pushes the run appended in place (see
  :func:`benchmarks.cases.datastore.appended_in_place`); Icechunk writes the
  keys the append changed (their list is made in the set-up, not measured)
  and commits.  Requests, and bytes stored by the commit (sizes of the new
  objects under each prefix, from a listing after the run).
* open: a version as an xarray Dataset.
* load: open, then every value of ``thetao``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

from ..harness import (
    Bench,
    Check,
    Measured,
    Row,
    Run,
    base_env,
    find_row,
    measure_group,
    python_cmd,
    skipped,
)
from ._common import BUCKET, cli_has
from .datastore import appended_in_place, stores

__all__ = ["NAME", "checks", "run"]

NAME = "icechunk"
COMMIT = "datastore vs Icechunk: commit of a one-month append"
OPEN = "datastore vs Icechunk: open a version"
LOAD = "datastore vs Icechunk: load a whole variable (thetao)"
OURS_PUSH = "jasmin-access datastore push"
ICE_COMMIT = "icechunk commit (changed keys only)"
OURS_OPEN = "jasmin_access.open_dataset(URL@latest)"
ICE_OPEN = "icechunk readonly_session + xr.open_zarr"
OURS_LOAD = "jasmin_access.open_dataset(URL@latest).thetao.values"
ICE_LOAD = "icechunk + xr.open_zarr(...).thetao.values"


def _files_for_zarr(root: Path) -> list[Path]:
    """Files of a Zarr store, metadata before chunks (Icechunk wants the nodes first)."""
    files = [p for p in root.rglob("*") if p.is_file() and ".jasmin-access" not in p.parts]
    return sorted(files, key=lambda p: (p.name != "zarr.json", len(p.parts), str(p)))


def _ice_repo(endpoint: str, prefix: str, create: bool) -> Any:
    import icechunk

    from ..server import BENCH_KEY, BENCH_SECRET

    storage = icechunk.s3_storage(bucket=BUCKET, prefix=prefix, endpoint_url=endpoint,
                                  allow_http=True, access_key_id=BENCH_KEY,
                                  secret_access_key=BENCH_SECRET, region="us-east-1",
                                  force_path_style=True)  # fmt: skip
    open_ = icechunk.Repository.create if create else icechunk.Repository.open
    return open_(storage)


def _ice_put(session: Any, root: Path, only: set[str] | None = None) -> None:
    from zarr.core.buffer import default_buffer_prototype

    async def put() -> None:
        for p in _files_for_zarr(root):
            key = p.relative_to(root).as_posix()
            if only is None or key in only:
                buf = default_buffer_prototype().buffer.from_bytes(p.read_bytes())
                await session.store.set(key, buf)

    asyncio.run(put())


def icechunk_setup(endpoint: str, prefix: str, d12: str) -> dict[str, Any]:
    """Worker (not measured): a new repository holding the 12-month store as one commit."""
    repo = _ice_repo(endpoint, prefix, create=True)
    session = repo.writable_session("main")
    _ice_put(session, Path(d12))
    return {"snapshot": session.commit("12 months")}


def icechunk_commit(endpoint: str, prefix: str, d13: str, changed: str) -> dict[str, Any]:
    """Worker (measured): write the keys the append changed (listed in ``changed``), commit."""
    keys = set(json.loads(Path(changed).read_text()))
    repo = _ice_repo(endpoint, prefix, create=False)
    session = repo.writable_session("main")
    _ice_put(session, Path(d13), keys)
    return {"snapshot": session.commit("one more month"), "keys": len(keys)}


def icechunk_open(endpoint: str, prefix: str, load: str = "") -> dict[str, Any]:
    """Worker (measured): open the repository's main branch as a Dataset (and load a variable)."""
    import numpy as np
    import xarray as xr

    repo = _ice_repo(endpoint, prefix, create=False)
    ds = xr.open_zarr(repo.readonly_session("main").store, consolidated=False, chunks=None)
    total = float(np.nansum(ds[load].values, dtype="float64")) if load else 0.0
    return {"time_counter": int(ds.sizes["time_counter"]), "sum": total}


def ours_open(url: str, load: str = "") -> dict[str, Any]:
    """Worker (measured): open a datastore version as a Dataset (and load a variable)."""
    import numpy as np

    import jasmin_access as ja

    ds = ja.open_dataset(url, profile="bench", chunks=None)
    total = float(np.nansum(ds[load].values, dtype="float64")) if load else 0.0
    return {"time_counter": int(ds.sizes["time_counter"]), "sum": total}


def _stored(bench: Bench, prefix: str) -> dict[str, int]:
    """Key -> size of every object under ``prefix`` of the bench bucket."""
    assert bench.server is not None
    fs = bench.server.s3fs()
    fs.invalidate_cache()
    base = f"{BUCKET}/{prefix}"
    if not fs.exists(base):
        return {}
    return {k: int(v["size"]) for k, v in fs.find(base, detail=True).items()}


def _written(bench: Bench, prefix: str, key: str) -> Any:
    """A check that records the bytes of the objects the run added under ``prefix``."""

    def check(run: Run) -> str:
        before = bench.cache.get(f"stored-{key}", {})
        after = _stored(bench, prefix)
        new = sum(n for k, n in after.items() if k not in before)
        bench.cache.setdefault(f"written-{key}", []).append(new)
        return f"{new / 1e6:.2f} MB stored"

    return check


def _same_sum(bench: Bench, key: str) -> Any:
    def check(run: Run) -> str:
        bench.cache[f"sum-{key}"] = run.result.get("sum")
        return f"{run.result.get('time_counter')} steps"

    return check


def run(bench: Bench) -> list[Row]:
    """Commit, open and load, ours and Icechunk in turns."""
    try:
        import icechunk  # noqa: F401
    except ImportError:
        why = "icechunk not installed (pip install 'icechunk>=1.1'; 2.x needs Python >= 3.12)"
        return [skipped(case, "icechunk", why) for case in (COMMIT, OPEN, LOAD)]
    why = cli_has(bench, "datastore")
    if why:
        return [skipped(COMMIT, OURS_PUSH, why)]
    assert bench.server is not None
    fs = bench.server.s3fs()
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    info = stores(bench)
    endpoint = bench.server.endpoint
    prefix, ours_prefix = f"{bench.run_id}-ice", f"{bench.run_id}-ds-ice"
    url = f"s3://{BUCKET}/{ours_prefix}"
    work = bench.work_dir / "ice-work.zarr"
    changed = bench.work_dir / "ice-changed.json"
    changed.write_text(json.dumps(info["changed"]))
    env = base_env(bench.ours_env(), bench.work_dir / "home")

    def ice_before() -> None:
        if fs.exists(f"{BUCKET}/{prefix}"):
            fs.rm(f"{BUCKET}/{prefix}", recursive=True)
        fs.invalidate_cache()
        cmd = python_cmd(bench, "benchmarks.cases.icechunk:icechunk_setup", endpoint=endpoint,
                         prefix=prefix, d12=str(info["d12"]))  # fmt: skip
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        bench.cache["stored-ice"] = _stored(bench, prefix)

    def ours_before() -> None:
        appended_in_place(bench, info, url, work)
        bench.cache["stored-ours"] = _stored(bench, ours_prefix)

    rows = measure_group(bench, COMMIT, [
        Measured(OURS_PUSH, [bench.cli, "-q", "-p", "bench", "datastore", "push", url, str(work)],
                 env=bench.ours_env(), ours=True, before=ours_before,
                 check=_written(bench, ours_prefix, "ours")),
        Measured(ICE_COMMIT, python_cmd(bench, "benchmarks.cases.icechunk:icechunk_commit",
                                        endpoint=endpoint, prefix=prefix, d13=str(info["d13"]),
                                        changed=str(changed)),
                 env=bench.ours_env(), before=ice_before, check=_written(bench, prefix, "ice")),
    ])  # fmt: skip
    for case, load in ((OPEN, ""), (LOAD, "thetao")):
        tools = (OURS_OPEN, ICE_OPEN) if not load else (OURS_LOAD, ICE_LOAD)
        rows += measure_group(bench, case, [
            Measured(tools[0], python_cmd(bench, "benchmarks.cases.icechunk:ours_open",
                                          url=f"{url}@latest", load=load),
                     env=bench.ours_env(), ours=True, check=_same_sum(bench, f"ours{load}")),
            Measured(tools[1], python_cmd(bench, "benchmarks.cases.icechunk:icechunk_open",
                                          endpoint=endpoint, prefix=prefix, load=load),
                     env=bench.ours_env(), check=_same_sum(bench, f"ice{load}")),
        ])  # fmt: skip
    return rows


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    return float(ordered[len(ordered) // 2]) if ordered else 0.0


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """Commit within 10 % of Icechunk (time, requests, bytes); open in fewer requests and
    less time; load within 10 %."""
    out = []
    pairs = ((COMMIT, OURS_PUSH, ICE_COMMIT), (OPEN, OURS_OPEN, ICE_OPEN),
             (LOAD, OURS_LOAD, ICE_LOAD))  # fmt: skip
    for case, mine, theirs in pairs:
        a, b = find_row(rows, case, mine), find_row(rows, case, theirs)
        label = case.split(": ", 1)[1]
        if not (a and b and a.ok and b.ok and a.seconds and b.seconds):
            out.append(Check(f"{label}: beside Icechunk", "not measured", None))
            continue
        ratio = a.seconds / b.seconds
        ra = a.requests.total if a.requests else 0
        rb = b.requests.total if b.requests else 0
        if case == OPEN:
            target = "open: fewer requests and less time than Icechunk"
            met = ra < rb and ratio < 1.0
        else:
            target = f"{label}: within 10 % of Icechunk's time"
            met = ratio <= 1.1
        shown = f"{ratio:.2f}x Icechunk's time ({a.seconds:.2f} vs {b.seconds:.2f} s), " \
                f"{ra} vs {rb} requests"  # fmt: skip
        if case == COMMIT:
            wa = _median(bench.cache.get("written-ours", []))
            wb = _median(bench.cache.get("written-ice", []))
            shown += f", {wa / 1e6:.2f} vs {wb / 1e6:.2f} MB stored"
            target = "commit: within 10 % of Icechunk (time, requests, bytes)"
            met = met and ra <= 1.1 * rb and wa <= 1.1 * wb
        out.append(Check(target, shown, met))
    same = bench.cache.get("sum-oursthetao"), bench.cache.get("sum-icethetao")
    if None not in same:
        out.append(Check("load: both read the same values", f"sums {same[0]} and {same[1]}",
                         same[0] == same[1]))  # fmt: skip
    return out
