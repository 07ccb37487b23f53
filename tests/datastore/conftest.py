"""Fixtures for the datastore suite: a JASMIN-like S3 server and converted runs.

Every datastore test that talks S3 goes through ``tests/s3proxy.py`` with
``reject_conditional`` on: a PUT carrying ``If-None-Match``/``If-Match`` gets
501 NotImplemented, as on the JASMIN object store.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from tests.s3proxy import S3Proxy


@pytest.fixture
def jasmin(proxied_profile: str, s3_proxy: S3Proxy) -> S3Proxy:
    """The proxy in front of moto, refusing conditional writes like JASMIN."""
    s3_proxy.reject_conditional = True
    return s3_proxy


@pytest.fixture
def jbucket(jasmin: S3Proxy, proxied_profile: str) -> str:
    """A fresh bucket reached through the JASMIN-like proxy (``s3://…``)."""
    from jasmin_access.stores import resolve

    name = f"ds-{uuid.uuid4().hex[:12]}"
    resolve(f"s3://{name}", profile=proxied_profile).fs.mkdir(name)
    jasmin.reset()
    return f"s3://{name}"


@pytest.fixture(scope="session")
def nemo4(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four small monthly NEMO-like files."""
    from jasmin_access.samples import NemoSpec, write_nemo_set

    spec = NemoSpec(months=4, nx=24, ny=20, nz=3)
    return write_nemo_set(tmp_path_factory.mktemp("ds-nemo"), spec)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory, nemo4: list[Path]) -> dict[str, Path]:
    """A run converted from three months (``three``) and the same run appended a
    fourth month (``four``): two local Zarr stores, read-only for tests."""
    import jasmin_access as ja

    base = tmp_path_factory.mktemp("ds-runs")
    three, four = base / "three.zarr", base / "four.zarr"
    ja.convert([str(p) for p in nemo4[:3]], str(three))
    shutil.copytree(three, four)
    ja.append([str(nemo4[3])], str(four))
    return {"three": three, "four": four}


@pytest.fixture
def run_copy(tmp_path: Path, runs: dict[str, Path]) -> Path:
    """A private, writable copy of the three-month run."""
    dst = tmp_path / "run.zarr"
    shutil.copytree(runs["three"], dst)
    return dst


@pytest.fixture
def staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private staging area for convert/append into datastores (also for subprocesses)."""
    monkeypatch.setenv("JASMIN_ACCESS_STAGING", str(tmp_path / "staging"))
    return tmp_path / "staging"
