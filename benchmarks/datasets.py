"""Generators of the benchmark data, cached under ``benchmarks/.data/``.

- the convert set: 12 NEMO-like eORCA1 monthly files, shrunk by ``scale``;
- small objects: thousands of tiny objects in nested prefixes on the S3 server;
- mixed files: 1-64 MB files of seeded random bytes, for ``cp -r``;
- key trees: 200k / 1M tiny objects in the embedded local store, made with os calls.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Tree",
    "key_tree",
    "mixed_files",
    "nemo_set",
    "nemo_spec",
    "small_objects",
]

log = logging.getLogger(__name__)

MiB = 1024 * 1024


@dataclass(frozen=True)
class Tree:
    """A generated set of objects: where it is, how many, how many bytes."""

    url: str
    count: int
    nbytes: int


def _marker(data_dir: Path, name: str) -> Path:
    return data_dir / "markers" / f"{name}.json"


def _cached(data_dir: Path, name: str) -> dict[str, Any] | None:
    path = _marker(data_dir, name)
    if path.exists():
        return dict(json.loads(path.read_text()))
    return None


def _remember(data_dir: Path, name: str, info: dict[str, Any]) -> None:
    path = _marker(data_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info))


# --------------------------------------------------------------------------- NEMO set


def nemo_spec(scale: float, variant: str = "smooth") -> Any:
    """The eORCA1 spec shrunk by ``scale`` (grid area times ``scale``; 12 files up to 1).

    Above 1 the grid stays eORCA1 and the number of monthly files grows.  The
    ``deep`` variants have another grid (:data:`DEEP_GRID`) scaled the same way.
    """
    from jasmin_access.samples import NemoSpec

    nx, ny, nz = DEEP_GRID if variant.startswith("deep") else (360, 331, 75)
    if scale >= 1:
        return NemoSpec(nx=nx, ny=ny, nz=nz, months=max(12, round(12 * scale)))
    side = math.sqrt(scale)
    return NemoSpec(nx=max(8, round(nx * side)), ny=max(8, round(ny * side)), nz=nz, months=12)


#: ``smooth``/``noisy``: the eORCA1 grid; ``deep``/``deep-noisy``: another grid with more
#: levels and smaller slabs, converted with the default chunks (not in the default run).
VARIANTS = ("smooth", "noisy", "deep", "deep-noisy")
DEFAULT_VARIANTS = ("smooth", "noisy")
DEEP_GRID = (270, 220, 120)  # nx, ny, nz
NOISY_BITS = 16  # random low mantissa bits of float32: up to 2**-7 relative


def nemo_set(data_dir: Path, scale: float, variant: str = "smooth") -> tuple[list[Path], int]:
    """The convert input: NEMO-like monthly files, generated once per scale and variant.

    Parameters
    ----------
    data_dir
        Cache directory.
    scale
        Size relative to 12 eORCA1 files.
    variant
        ``"smooth"``: the sample generator's fields.  ``"noisy"``: the same fields
        with the lowest :data:`NOISY_BITS` mantissa bits of every ocean value drawn
        at random, as real measurements and model output carry (their low bits
        compress far worse).  ``"deep"``, ``"deep-noisy"``: the same on the
        :data:`DEEP_GRID`.

    Returns
    -------
    (files, nbytes)
        The files in time order and the uncompressed size of their data variables.
    """
    from jasmin_access.samples import write_nemo_set

    if variant not in VARIANTS:
        raise ValueError(f"unknown data variant {variant!r}; known: {VARIANTS}")
    spec = nemo_spec(scale, variant)
    base = f"nemo-{spec.nx}x{spec.ny}x{spec.nz}x{spec.months}"
    noisy = variant.endswith("noisy")
    name = f"{base}-noisy" if noisy else base
    directory = data_dir / name
    info = _cached(data_dir, name)
    if info is None:
        shutil.rmtree(directory, ignore_errors=True)
        if not noisy:
            log.info("generating %d NEMO files %s", spec.months, name)
            files = write_nemo_set(directory, spec)
        else:
            smooth, _ = nemo_set(data_dir, scale, "deep" if variant == "deep-noisy" else "smooth")
            files = [add_low_bit_noise(p, directory / p.name, seed=i) for i, p in enumerate(smooth)]
        per_step = 4 * spec.nx * spec.ny * (2 * spec.nz + 2)
        info = {"files": [p.name for p in files], "nbytes": per_step * spec.months}
        _remember(data_dir, name, info)
    return [directory / f for f in info["files"]], int(info["nbytes"])


def add_low_bit_noise(src: Path, dest: Path, seed: int, bits: int = NOISY_BITS) -> Path:
    """Copy a NetCDF file with random low mantissa bits in its float32 fields.

    Fill values are kept; encoding (deflate, chunks, fill value) and attributes
    are those of the source.
    """
    import xarray as xr

    rng = np.random.default_rng(seed)
    mask = np.uint32((1 << bits) - 1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with xr.open_dataset(src, decode_cf=False) as ds:
        ds = ds.load()
        for var in ds.variables.values():
            if "_FillValue" not in var.attrs and "_FillValue" not in var.encoding:
                var.encoding["_FillValue"] = None  # xarray would add NaN to floats
        for var in ds.data_vars.values():
            if var.dtype != np.float32 or var.ndim < 3:
                continue
            raw = var.values
            fill = var.attrs.get("_FillValue", var.encoding.get("_FillValue"))
            ocean = raw != np.float32(fill) if fill is not None else np.ones(raw.shape, bool)
            bits_now = raw.view(np.uint32)
            noise = rng.integers(0, 1 << bits, size=raw.shape, dtype=np.uint32)
            noisy = ((bits_now & ~mask) | noise).view(np.float32)
            var.values = np.where(ocean, noisy, raw)
        ds.to_netcdf(dest, format="NETCDF4")
    return dest


# --------------------------------------------------------------------------- small objects


def small_layout(count: int, prefixes: int = 20, subdirs: int = 10) -> list[str]:
    """Keys of ``count`` small objects spread over ``prefixes`` x ``subdirs`` nested prefixes."""
    keys = []
    for i in range(count):
        top, rest = i % prefixes, i // prefixes
        keys.append(f"run{top:02d}/d{rest % subdirs:02d}/obj{rest:06d}.txt")
    return keys


def small_objects(server: Any, bucket: str, count: int, prefix: str = "tree") -> Tree:
    """Upload ``count`` tiny objects (100-2000 bytes) in 20 nested prefixes, in parallel.

    Parameters
    ----------
    server
        The :class:`~benchmarks.server.S3Server`.
    bucket
        Bucket to fill (created if needed).
    count
        Number of objects.
    prefix
        Top prefix under the bucket.
    """
    fs = server.s3fs()
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    rng = np.random.default_rng(20)
    sizes = rng.integers(100, 2000, size=count)
    blob = rng.bytes(2000)
    keys = small_layout(count)
    batch: dict[str, bytes] = {}
    for key, size in zip(keys, sizes, strict=True):
        batch[f"{bucket}/{prefix}/{key}"] = blob[: int(size)]
        if len(batch) >= 2000:
            fs.pipe(batch, batch_size=64)
            batch = {}
    if batch:
        fs.pipe(batch, batch_size=64)
    log.info("uploaded %d small objects to s3://%s/%s", count, bucket, prefix)
    return Tree(f"s3://{bucket}/{prefix}", count, int(sizes.sum()))


# --------------------------------------------------------------------------- mixed files


def mixed_files(data_dir: Path, total: int, seed: int = 64) -> Tree:
    """A local directory of 1-64 MB files of seeded random bytes adding up to ``total``.

    Files go into a few subdirectories, as a model run's output would.
    """
    name = f"mixed-{total // MiB}MiB"
    directory = data_dir / name
    info = _cached(data_dir, name)
    if info is not None:
        return Tree(str(directory), int(info["count"]), int(info["nbytes"]))
    shutil.rmtree(directory, ignore_errors=True)
    rng = np.random.default_rng(seed)
    written = count = 0
    while written < total:
        size = int(min(rng.integers(1 * MiB, 64 * MiB + 1), max(total - written, MiB)))
        sub = directory / ("restart" if count % 3 == 0 else f"output/y{count % 4}")
        sub.mkdir(parents=True, exist_ok=True)
        with open(sub / f"file{count:03d}.bin", "wb") as fh:
            fh.write(rng.bytes(size))
        written += size
        count += 1
    _remember(data_dir, name, {"count": count, "nbytes": written})
    log.info("wrote %d mixed files (%d bytes) to %s", count, written, directory)
    return Tree(str(directory), count, written)


# --------------------------------------------------------------------------- key trees


def key_tree(store_root: Path, data_dir: Path, count: int) -> Tree:
    """``count`` tiny objects in the embedded store (bucket ``keys-<count>``), via os calls.

    The layout is 20 prefixes of up to 1,000 objects per sub-prefix.
    """
    bucket = f"keys-{count}"
    info = _cached(data_dir, bucket)
    root = store_root / bucket
    if info is not None and root.is_dir():
        return Tree(f"local://{bucket}", int(info["count"]), int(info["nbytes"]))
    shutil.rmtree(root, ignore_errors=True)
    payload = b"x" * 16
    per_top = math.ceil(count / 20)
    made = 0
    for top in range(20):
        todo = min(per_top, count - made)
        for start in range(0, todo, 1000):
            sub = root / f"run{top:02d}" / f"d{start // 1000:04d}"
            os.makedirs(sub, exist_ok=True)
            for i in range(start, min(start + 1000, todo)):
                fd = os.open(sub / f"o{i:07d}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.write(fd, payload)
                os.close(fd)
            made += min(start + 1000, todo) - start
    _remember(data_dir, bucket, {"count": made, "nbytes": made * len(payload)})
    log.info("made %d objects under %s", made, root)
    return Tree(f"local://{bucket}", made, made * len(payload))
