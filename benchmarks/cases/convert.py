"""Convert the 12-file NEMO-like eORCA1 set to Zarr, on S3 and in the local store.

Ours: ``jasmin-access convert FILES... DEST --chunks ...``.  Peer: the naive
``xr.open_mfdataset(files).chunk(same chunks).to_zarr(s3fs mapper)``.  Both data
variants (smooth and noisy), the two sides in turns.  Stored bytes are compared
with the same chunks compressed by zstd level 3 + shuffle.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datasets import nemo_set, nemo_spec
from ..harness import (
    Bench,
    Check,
    Measured,
    Row,
    Run,
    base_env,
    find_row,
    measure_group,
    not_available,
    python_cmd,
    ratio_check,
    run_once,
)
from ..server import BENCH_KEY, BENCH_SECRET
from ._common import BUCKET, cli_has

__all__ = ["NAME", "checks", "peer_convert", "run", "zstd3_reference"]

NAME = "convert"
CASE_S3 = "convert → Zarr on S3 ({variant})"
CASE_LOCAL = "convert → Zarr in the local store ({variant})"
PEER = "xarray open_mfdataset().to_zarr()"


DIMS = ("time_counter", "deptht", "y", "x")


def chunk_spec(scale: float, variant: str = "smooth") -> dict[str, int]:
    """The chunks both sides write: one step, 25 levels, the whole horizontal grid.

    For the ``deep`` variants, converted as a new user would (no ``--chunks``),
    the chunks our default rule gives ``thetao``; the peer is given the same.
    """
    spec = nemo_spec(scale, variant)
    if default_chunked(variant):
        from jasmin_access.conversion.chunking import choose_chunks

        shape = (spec.months, spec.nz, spec.ny, spec.nx)
        return dict(zip(DIMS, choose_chunks(DIMS, shape, 4, DIMS[0]), strict=True))
    return {"time_counter": 1, "deptht": 25, "y": spec.ny, "x": spec.nx}


def default_chunked(variant: str) -> bool:
    """Whether ours converts ``variant`` without ``--chunks`` (the default rule)."""
    return variant.startswith("deep")


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


@dataclass
class _Dest:
    """A destination that gets a fresh name for every run.

    SeaweedFS keeps the prefixes of deleted objects listed as empty directories,
    so a store removed after one run would still look "not empty" to the next:
    each run writes to ``<base>-<n>.zarr`` and the previous one is removed.
    """

    bench: Bench
    url_base: str  # what the tool is given (``s3://...`` or ``local://...``) or a path
    key_base: str  # S3 key (bucket/...) or local path, without ``.zarr``
    on_s3: bool
    n: int = 0

    @property
    def url(self) -> str:
        return f"{self.url_base}-{self.n}.zarr"

    @property
    def key(self) -> str:
        return f"{self.key_base}-{self.n}.zarr"

    def empty(self) -> None:
        """Remove the current store (not measured)."""
        if not self.on_s3:
            shutil.rmtree(self.key, ignore_errors=True)
            return
        fs = self.bench.server.s3fs()  # type: ignore[union-attr]
        if fs.exists(self.key):
            fs.rm(self.key, recursive=True)

    def before(self) -> None:
        """Before a run: remove the last store, move on to a fresh name."""
        self.empty()
        self.n += 1

    def stored(self) -> tuple[int, int]:
        """(all bytes, chunk bytes) of the current store."""
        if not self.on_s3:
            files = [p for p in Path(self.key).rglob("*") if p.is_file()]
            return _sizes([(str(p), p.stat().st_size) for p in files])
        fs = self.bench.server.s3fs()  # type: ignore[union-attr]
        if not fs.exists(self.key):
            return 0, 0
        found = fs.find(self.key, detail=True)
        return _sizes([(name, int(info["size"])) for name, info in found.items()])

    def open(self) -> Any:
        """The current store opened with xarray (set-up endpoint, unshaped)."""
        import xarray as xr

        if not self.on_s3:
            return xr.open_zarr(self.key)
        endpoint = self.bench.server.setup_endpoint  # type: ignore[union-attr]
        return xr.open_zarr(_s3fs(endpoint).get_mapper(self.key))


def _checker(bench: Bench, dest: _Dest, label: str, shape: tuple) -> Callable[[Run], str]:
    """Check that thetao arrived with the right shape; note the stored bytes."""

    def check(run: Run) -> str:
        got = tuple(dest.open()["thetao"].shape)
        if got != shape:
            raise ValueError(f"{dest.url}: thetao has shape {got}, expected {shape}")
        total, chunks = dest.stored()
        bench.cache[f"stored:{label}"] = chunks
        return f"stored {total / 1e6:.2f} MB ({chunks / 1e6:.2f} MB in chunks)"

    return check


def _pairs(
    bench: Bench, files: list[str], shape: tuple, variant: str
) -> list[tuple[str, Measured, _Dest]]:
    """(case, measurement, destination) for ours and the peer, on S3 and in the local store."""
    chunks = chunk_spec(bench.scale, variant)
    given = (
        []
        if default_chunked(variant)
        else ["--chunks", ",".join(f"{k}={v}" for k, v in chunks.items())]
    )
    endpoint = bench.server.endpoint  # type: ignore[union-attr]
    store = bench.store_home / BUCKET
    store.mkdir(parents=True, exist_ok=True)
    local = f"{variant}-{bench.run_id}"
    out = []
    for case, on_s3 in ((CASE_S3, True), (CASE_LOCAL, False)):
        for ours in (True, False):
            side = "ours" if ours else "xr"
            if on_s3:
                key = f"{BUCKET}/conv-{side}-{variant}"
                dest = _Dest(bench, f"s3://{key}", key, True)
            else:
                url = f"local://{BUCKET}/conv-{side}-{local}"
                dest = _Dest(bench, url, str(store / f"conv-{side}-{local}"), False)
            if ours:

                def cmd(dest: _Dest = dest, on_s3: bool = on_s3) -> list[str]:
                    out = [bench.cli, "convert", *files, dest.url, *given]
                    return out + (["--profile", "bench"] if on_s3 else [])

                tool, env = "jasmin-access convert", bench.ours_env()
            else:

                def cmd(dest: _Dest = dest, on_s3: bool = on_s3) -> list[str]:
                    return python_cmd(
                        bench,
                        "benchmarks.cases.convert:peer_convert",
                        files=files,
                        dest=dest.key,
                        chunks=chunks,
                        endpoint=endpoint if on_s3 else None,
                    )

                tool, env = PEER, {}
            label = f"{'s3' if on_s3 else 'local'}:{side}:{variant}"
            check = _checker(bench, dest, label, shape)
            m = Measured(tool, cmd, env=env, ours=ours, before=dest.before, check=check)
            out.append((case.format(variant=variant), m, dest))
    return out


def run(bench: Bench) -> list[Row]:
    """Generate the sets (cached), then convert each with each tool to each store."""
    rows = []
    for variant in bench.variants:
        rows += _run_variant(bench, variant)
    return rows


def _run_variant(bench: Bench, variant: str) -> list[Row]:
    paths, nbytes = nemo_set(bench.data_dir, bench.scale, variant)
    files = [str(p) for p in paths]
    spec = nemo_spec(bench.scale, variant)
    shape = (spec.months, spec.nz, spec.ny, spec.nx)
    fs = bench.server.s3fs()  # type: ignore[union-attr]
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    why = cli_has(bench, "convert")
    rows: list[Row] = []
    pairs = _pairs(bench, files, shape, variant)
    for case in dict.fromkeys(case for case, _, _ in pairs):
        group = [m for c, m, _ in pairs if c == case]
        for m in group:
            m.nbytes = nbytes
        if why:
            rows += [not_available(case, m.tool, why) for m in group if m.ours]
            group = [m for m in group if not m.ours]
        rows += measure_group(bench, case, group)
    for _, _, dest in pairs:
        dest.empty()  # nothing left behind
    ref = run_once(
        python_cmd(
            bench,
            "benchmarks.cases.convert:zstd3_reference",
            files=files,
            chunks=chunk_spec(bench.scale, variant),
        ),
        base_env({}, bench.work_dir / "home"),
    )
    bench.cache[f"zstd3_bytes:{variant}"] = ref.result.get("nbytes")
    bench.notes.append(
        f"convert input ({variant}): {len(files)} files of {spec.nx}x{spec.ny}x{spec.nz} "
        f"({sum(p.stat().st_size for p in paths) / 1e6:.0f} MB NetCDF, {nbytes / 1e6:.0f} MB "
        f"of float32 fields); chunks {chunk_spec(bench.scale, variant)}; zstd-3+shuffle reference "
        f"{(ref.result.get('nbytes') or 0) / 1e6:.2f} MB"
    )
    return rows


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """≥2x faster than the naive peer; stored bytes ≤ zstd-3+shuffle; peak RSS < 1 GB."""
    out = []
    for variant in bench.variants:
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
        stored = bench.cache.get(f"stored:s3:ours:{variant}")
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
