"""Convert the 12-file NEMO-like eORCA1 set to Zarr, on S3 and in the local store.

Ours: ``jasmin-access convert FILES... DEST --chunks ...``.  Peer: the naive
``xr.open_mfdataset(files).chunk(same chunks).to_zarr(s3fs mapper)``.  Both data
variants (smooth and noisy), the two sides in turns.  Stored bytes are compared
with the same chunks compressed by zstd level 3 + shuffle.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..datasets import VARIANTS, nemo_set, nemo_spec
from ..harness import (
    Bench,
    Check,
    Measured,
    Row,
    Run,
    base_env,
    cli_has,
    find_row,
    measure_group,
    not_available,
    python_cmd,
    ratio_check,
    run_once,
)
from ..server import BENCH_KEY, BENCH_SECRET
from ._common import BUCKET

__all__ = ["NAME", "checks", "peer_convert", "run", "zstd3_reference"]

NAME = "convert"
CASE_S3 = "convert → Zarr on S3 ({variant})"
CASE_LOCAL = "convert → Zarr in the local store ({variant})"
PEER = "xarray open_mfdataset().to_zarr()"


def chunk_spec(scale: float) -> dict[str, int]:
    """The chunks both sides write: one step, 25 levels, the whole horizontal grid."""
    spec = nemo_spec(scale)
    return {"time_counter": 1, "deptht": 25, "y": spec.ny, "x": spec.nx}


def _s3fs(endpoint: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(
        key=BENCH_KEY,
        secret=BENCH_SECRET,
        client_kwargs={"endpoint_url": endpoint},
        config_kwargs={
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        },
    )


def peer_convert(
    files: list[str], dest: str, chunks: dict[str, int], endpoint: str | None = None
) -> dict[str, Any]:
    """The naive conversion users write: open_mfdataset, rechunk, to_zarr (worker)."""
    import xarray as xr

    ds = xr.open_mfdataset(files)
    ds = ds.chunk({k: v for k, v in chunks.items() if k in ds.dims})
    target = _s3fs(endpoint).get_mapper(dest) if endpoint else dest
    ds.to_zarr(target, mode="w")
    return {"variables": len(ds.data_vars)}


def zstd3_reference(files: list[str], chunks: dict[str, int]) -> dict[str, Any]:
    """Bytes of every array of the set in the same chunks under blosc zstd-3 + shuffle."""
    import itertools

    import numpy as np
    import xarray as xr
    from numcodecs import Blosc

    codec = Blosc(cname="zstd", clevel=3, shuffle=Blosc.SHUFFLE)
    ds = xr.open_mfdataset(files, mask_and_scale=False, decode_times=False)
    total = 0
    for var in ds.variables.values():
        sizes = [chunks.get(d, n) for d, n in zip(var.dims, var.shape, strict=True)]
        steps = [range(0, n, c) for n, c in zip(var.shape, sizes, strict=True)]
        for start in itertools.product(*steps):
            index = tuple(slice(s, s + c) for s, c in zip(start, sizes, strict=True))
            block = np.ascontiguousarray(var[index].values)
            total += len(codec.encode(block))
    return {"nbytes": total}


METADATA = {"zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"}


def _sizes(items: list[tuple[str, int]]) -> tuple[int, int]:
    """(all bytes, chunk bytes): chunk bytes leave out the Zarr metadata documents."""
    total = sum(size for _, size in items)
    chunks = sum(size for name, size in items if name.rsplit("/", 1)[-1] not in METADATA)
    return total, chunks


def _stored_s3(bench: Bench, path: str) -> Callable[[], tuple[int, int]]:
    def size() -> tuple[int, int]:
        fs = bench.server.s3fs()  # type: ignore[union-attr]
        if not fs.exists(path):
            return 0, 0
        found = fs.find(path, detail=True)
        return _sizes([(name, int(info["size"])) for name, info in found.items()])

    return size


def _stored_local(path: Path) -> Callable[[], tuple[int, int]]:
    def size() -> tuple[int, int]:
        return _sizes([(str(p), p.stat().st_size) for p in path.rglob("*") if p.is_file()])

    return size


def _checker(
    bench: Bench,
    size_of: Callable[[], tuple[int, int]],
    url: str,
    opener: Callable[[], Any],
    shape: tuple,
) -> Callable[[Run], str]:
    """Check that thetao arrived with the right shape; note the stored bytes."""

    def check(run: Run) -> str:
        ds = opener()
        got = tuple(ds["thetao"].shape)
        if got != shape:
            raise ValueError(f"{url}: thetao has shape {got}, expected {shape}")
        total, chunks = size_of()
        bench.cache[f"stored:{url}"] = chunks
        return f"stored {total / 1e6:.2f} MB ({chunks / 1e6:.2f} MB in chunks)"

    return check


def _destination(bench: Bench, key: str, on_s3: bool) -> tuple[Any, Any, Any]:
    """(stored-size function, opener, emptier) of a destination on S3 or local disk."""
    import xarray as xr

    if on_s3:
        fs = bench.server.s3fs()  # type: ignore[union-attr]
        endpoint = bench.server.setup_endpoint  # type: ignore[union-attr]

        def before() -> None:
            fs.invalidate_cache()  # the measured tool wrote behind this client's back
            if fs.exists(key):
                fs.rm(key, recursive=True)
            fs.invalidate_cache()

        return (
            _stored_s3(bench, key),
            lambda: xr.open_zarr(_s3fs(endpoint).get_mapper(key)),  # set-up endpoint
            before,
        )
    local = Path(key)
    return (
        _stored_local(local),
        lambda: xr.open_zarr(str(local)),
        lambda: shutil.rmtree(local, ignore_errors=True),
    )


def _pairs(
    bench: Bench, files: list[str], shape: tuple, variant: str
) -> list[tuple[str, Measured]]:
    """(case, measurement) for ours and the peer, on S3 and in the local store."""
    chunks = chunk_spec(bench.scale)
    text = ",".join(f"{k}={v}" for k, v in chunks.items())
    endpoint = bench.server.endpoint  # type: ignore[union-attr]
    store = bench.store_home / BUCKET
    store.mkdir(parents=True, exist_ok=True)
    out = []
    for case, ours_url, ours_key, peer_key in (
        (
            CASE_S3.format(variant=variant),
            f"s3://{BUCKET}/conv-ours-{variant}.zarr",
            f"{BUCKET}/conv-ours-{variant}.zarr",
            f"{BUCKET}/conv-xr-{variant}.zarr",
        ),
        (
            CASE_LOCAL.format(variant=variant),
            f"local://{BUCKET}/conv-ours-{variant}-{bench.run_id}.zarr",
            str(store / f"conv-ours-{variant}-{bench.run_id}.zarr"),
            str(store / f"conv-xr-{variant}-{bench.run_id}.zarr"),
        ),
    ):
        on_s3 = case.startswith("convert → Zarr on S3")
        for ours in (True, False):
            key = ours_key if ours else peer_key
            size, opener, before = _destination(bench, key, on_s3)
            if ours:
                cmd = [bench.cli, "convert", *files, ours_url, "--chunks", text]
                cmd += ["--profile", "bench"] if on_s3 else []
                tool, env = "jasmin-access convert", bench.ours_env()
            else:
                func = "benchmarks.cases.convert:peer_convert"
                cmd = python_cmd(
                    bench,
                    func,
                    files=files,
                    dest=peer_key,
                    chunks=chunks,
                    endpoint=endpoint if on_s3 else None,
                )
                tool, env = PEER, {}
            check = _checker(bench, size, key, opener, shape)
            out.append((case, Measured(tool, cmd, env=env, ours=ours, before=before, check=check)))
    return out


def run(bench: Bench) -> list[Row]:
    """Generate the sets (cached), then convert each with each tool to each store."""
    rows = []
    for variant in VARIANTS:
        rows += _run_variant(bench, variant)
    return rows


def _run_variant(bench: Bench, variant: str) -> list[Row]:
    paths, nbytes = nemo_set(bench.data_dir, bench.scale, variant)
    files = [str(p) for p in paths]
    spec = nemo_spec(bench.scale)
    shape = (spec.months, spec.nz, spec.ny, spec.nx)
    fs = bench.server.s3fs()  # type: ignore[union-attr]
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    why = cli_has(bench, "convert")
    rows: list[Row] = []
    pairs = _pairs(bench, files, shape, variant)
    for case in dict.fromkeys(case for case, _ in pairs):
        group = [m for c, m in pairs if c == case]
        for m in group:
            m.nbytes = nbytes
        if why:
            rows += [not_available(case, m.tool, why) for m in group if m.ours]
            group = [m for m in group if not m.ours]
        rows += measure_group(bench, case, group)
    for _, m in pairs:
        if m.before:
            m.before()  # empty the destinations again: nothing left behind
    ref = run_once(
        python_cmd(
            bench,
            "benchmarks.cases.convert:zstd3_reference",
            files=files,
            chunks=chunk_spec(bench.scale),
        ),
        base_env({}, bench.work_dir / "home"),
    )
    bench.cache[f"zstd3_bytes:{variant}"] = ref.result.get("nbytes")
    bench.notes.append(
        f"convert input ({variant}): {len(files)} files of {spec.nx}x{spec.ny}x{spec.nz} "
        f"({sum(p.stat().st_size for p in paths) / 1e6:.0f} MB NetCDF, {nbytes / 1e6:.0f} MB "
        f"of float32 fields); chunks {chunk_spec(bench.scale)}; zstd-3+shuffle reference "
        f"{(ref.result.get('nbytes') or 0) / 1e6:.2f} MB"
    )
    return rows


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """≥2x faster than the naive peer; stored bytes ≤ zstd-3+shuffle; peak RSS < 1 GB."""
    out = []
    for variant in VARIANTS:
        case = CASE_S3.format(variant=variant)
        out.append(
            ratio_check(
                rows,
                f"convert ({variant}) ≥2x faster than naive open_mfdataset().to_zarr(s3fs)",
                case,
                PEER,
                2.0,
            )
        )
        ours = find_row(rows, case)
        ref = bench.cache.get(f"zstd3_bytes:{variant}")
        stored = bench.cache.get(f"stored:{BUCKET}/conv-ours-{variant}.zarr")
        target = f"convert ({variant}) stored chunk bytes ≤ zstd-3+shuffle with the same chunks"
        if ours is None or not ref or not stored:
            out.append(Check(target, "not measured", None))
        else:
            shown = f"{stored:,} vs {ref:,} bytes ({stored / ref:.4f}x)"
            out.append(Check(target, shown, stored <= ref))
        target = f"convert ({variant}) peak RSS < 1 GB"
        if ours is None or ours.rss_mb is None:
            out.append(Check(target, "not measured", None))
        else:
            out.append(Check(target, f"{ours.rss_mb:.0f} MB", ours.rss_mb < 1000))
    return out
