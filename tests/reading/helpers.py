"""Helpers for the reading tests: writing test stores and uploading files."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import xarray as xr

from tests.reading.counting import CountingServer

COUNTED_PROFILE = "counted"


def write_store(ds: xr.Dataset, url: str, profile: str | None, fmt: int = 3) -> str:
    """Write ``ds`` as a consolidated Zarr store at ``url`` (test helper)."""
    from jasmin_access.stores import resolve

    loc = resolve(url, profile=profile)
    ds = ds.copy()
    for var in ds.variables.values():  # keep the NetCDF chunking: one step, one level
        if var.encoding.get("chunksizes") and "chunks" not in var.encoding:
            var.encoding["chunks"] = tuple(
                min(c, n) for c, n in zip(var.encoding["chunksizes"], var.shape, strict=True)
            )
    if loc.kind != "s3":
        ds.to_zarr(loc.zarr_store(), zarr_format=fmt, consolidated=True, mode="w")
        return url
    with tempfile.TemporaryDirectory() as tmp:  # write locally, upload in one batch
        ds.to_zarr(tmp, zarr_format=fmt, consolidated=True, mode="w")
        files = [p for p in Path(tmp).rglob("*") if p.is_file()]
        targets = [f"{loc.path}/{p.relative_to(tmp).as_posix()}" for p in files]
        loc.fs.put([str(p) for p in files], targets)
    return url


def put_files(files: list[Path], prefix_url: str, profile: str | None) -> list[str]:
    """Upload local files under a prefix; returns their URLs."""
    from jasmin_access.stores import resolve

    urls = []
    for f in files:
        loc = resolve(f"{prefix_url}/{f.name}", profile=profile)
        loc.fs.put(str(f), loc.path)
        urls.append(loc.url)
    return urls


def counted_bucket_url(server: CountingServer) -> str:
    """Create a fresh bucket on the counting server and return its URL."""
    from jasmin_access.stores import resolve

    name = f"cnt-{uuid.uuid4().hex[:10]}"
    loc = resolve(f"s3://{name}", profile=COUNTED_PROFILE)
    loc.fs.mkdir(name)
    return f"s3://{name}"
