"""A standalone ``verify`` reuses the scan the conversion kept; only changed sources are reopened.

The sources are objects on the S3 test server behind the counting proxy: the
GETs on each source key show which sources the planning of ``verify`` opened.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

import jasmin_access as ja
from jasmin_access.conversion.plan import ConvertOptions, prepare
from jasmin_access.stores import resolve
from tests.s3proxy import S3Proxy

from .helpers import store_objects


def _source_gets(proxy: S3Proxy, bucket: str) -> set[str]:
    prefix = f"/{bucket}/src/"
    return {p[len(prefix) :] for m, p, _q in proxy.requests if m == "GET" and p.startswith(prefix)}


def _converted(bucket: str, files: list[Path], profile: str) -> tuple[Any, str, str]:
    """The files under ``s3://BUCKET/src/``, converted to ``s3://BUCKET/out.zarr``."""
    fs = resolve(f"s3://{bucket}", profile=profile).fs
    fs.mkdir(bucket)
    fs.put([str(f) for f in files], f"{bucket}/src/")
    glob, url = f"s3://{bucket}/src/*.nc", f"s3://{bucket}/out.zarr"
    ja.convert(glob, url, profile=profile)
    return fs, glob, url


def test_verify_reopens_only_changed_sources(
    nemo_files: list[Path], s3_proxy: S3Proxy, proxied_profile: str, tmp_path: Path
) -> None:
    bucket = "verify-kept-scan"
    fs, glob, url = _converted(bucket, nemo_files, proxied_profile)
    assert any(k.endswith(".jasmin-access/scan.json") for k in store_objects(url, proxied_profile))
    dest = resolve(url, profile=proxied_profile)
    names = [f.name for f in nemo_files]

    s3_proxy.reset()
    plan = prepare(glob, ConvertOptions(), {"profile": proxied_profile}, dest)
    assert plan.inventory.cached and _source_gets(s3_proxy, bucket) == set()

    changed = tmp_path / names[2]  # the last month, with one value changed
    shutil.copy(nemo_files[2], changed)
    with netCDF4.Dataset(changed, "r+") as ds:
        name = next(n for n, v in ds.variables.items() if v.ndim == 4)
        values = ds[name][0, 0]
        j, i = np.argwhere(np.abs(np.ma.filled(values, 1e20)) < 1e10)[0]  # an ocean point
        ds[name][0, 0, j, i] = values[j, i] + 1
    fs.put(str(changed), f"{bucket}/src/{names[2]}")
    fs.invalidate_cache()

    s3_proxy.reset()
    plan = prepare(glob, ConvertOptions(), {"profile": proxied_profile}, dest)
    assert not plan.inventory.cached and plan.inventory.reused == 1
    assert _source_gets(s3_proxy, bucket) == {names[0], names[2]}  # the first, the changed
    fresh = prepare(glob, ConvertOptions(), {"profile": proxied_profile})
    assert plan.inventory.groups[""].counts == fresh.inventory.groups[""].counts
    assert np.array_equal(
        plan.inventory.groups[""].time_values, fresh.inventory.groups[""].time_values
    )

    report = ja.verify(glob, url, profile=proxied_profile)
    assert not report.ok and any(d.startswith(name) for d in report.differences), report
    fs.rm_file(f"{dest.path}/.jasmin-access/scan.json")  # the same verify without the kept scan
    again = ja.verify(glob, url, profile=proxied_profile)
    assert again.differences == report.differences


def test_a_changed_first_source_rescans_all(
    nemo_files: list[Path], s3_proxy: S3Proxy, proxied_profile: str
) -> None:
    """The others were checked against the first file: when it changes, all are opened."""
    bucket = "verify-first-changed"
    fs, glob, url = _converted(bucket, nemo_files, proxied_profile)
    time.sleep(1.1)  # the store's times are in whole seconds: the put below is a newer one
    fs.put(str(nemo_files[0]), f"{bucket}/src/{nemo_files[0].name}")  # same bytes, newer time
    fs.invalidate_cache()
    s3_proxy.reset()
    plan = prepare(
        glob, ConvertOptions(), {"profile": proxied_profile}, resolve(url, profile=proxied_profile)
    )
    assert plan.inventory.reused == 0
    assert _source_gets(s3_proxy, bucket) == {f.name for f in nemo_files}
    assert ja.verify(glob, url, profile=proxied_profile).ok


def test_verify_after_append_opens_only_the_first_source(
    nemo_files: list[Path], s3_proxy: S3Proxy, proxied_profile: str
) -> None:
    """An append keeps the records of the store's earlier sources beside its own scan."""
    bucket = "verify-after-append"
    fs, _glob, url = _converted(bucket, nemo_files[:2], proxied_profile)
    fs.put(str(nemo_files[2]), f"{bucket}/src/")
    fs.invalidate_cache()
    glob = f"s3://{bucket}/src/*.nc"
    ja.append(f"s3://{bucket}/src/{nemo_files[2].name}", url, profile=proxied_profile)
    dest = resolve(url, profile=proxied_profile)

    s3_proxy.reset()
    plan = prepare(glob, ConvertOptions(), {"profile": proxied_profile}, dest)
    assert plan.inventory.reused == 2  # the second and the appended file: known
    assert _source_gets(s3_proxy, bucket) == {nemo_files[0].name}  # only the first is opened
    fresh = prepare(glob, ConvertOptions(), {"profile": proxied_profile})
    assert plan.inventory.groups[""].counts == fresh.inventory.groups[""].counts
    assert np.array_equal(
        plan.inventory.groups[""].time_values, fresh.inventory.groups[""].time_values
    )
    assert ja.verify(glob, url, profile=proxied_profile).ok
