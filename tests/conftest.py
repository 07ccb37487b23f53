"""Shared fixtures: a real S3 server (moto, server mode) and a fresh local store.

Every test runs with its own config file, embedded-store directory and no AWS
variables from the environment, so nothing outside the test can leak in.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import settings

from tests.s3proxy import S3Proxy

# property tests check results, never time: no per-example deadline, which a
# loaded machine would break
settings.register_profile("untimed", deadline=None)
settings.load_profile("untimed")

TEST_KEY = "AKIATESTKEY00000000"
TEST_SECRET = "test-secret-Zq8v9Nw3Xy2Lk5Pm7Rt"
TEST_PROFILE = "moto"


@contextlib.contextmanager
def serve_http(handler: type, **attrs: object) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port in a thread; yield its URL.

    ``attrs`` are set on the server, where the handler reads them as ``self.server.NAME``.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    for name, value in attrs.items():
        setattr(server, name, value)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Endpoint URL of a moto S3 server started once per test session."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _forget_clients() -> Iterator[None]:
    """Backends, S3 clients, open stores and files of a test go with it.

    The package's per-process caches would otherwise carry them into every
    later test: hundreds of clients, and the suite's memory growing to GBs.
    """
    yield
    from jasmin_access import caches

    caches.clear_all(close=True)


@pytest.fixture(autouse=True, scope="module")
def _collect_garbage() -> Iterator[None]:
    """Free the reference cycles of a module's clients (s3fs, aiohttp) once it is done.

    Their sessions are closed as they are freed, in the module that made them,
    rather than all at once by the collections that end the run.
    """
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """A CLI run with ``-v`` reconfigures logging in-process: undo it after every test."""
    root, ours = logging.getLogger(), logging.getLogger("jasmin_access")
    saved = (list(root.handlers), root.level, ours.level)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    ours.setLevel(saved[2])


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config file and embedded store for each test."""
    home = tmp_path_factory.mktemp("jasmin-home")
    for var in list(os.environ):
        if var.startswith("AWS_") or var.startswith("JASMIN_ACCESS_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JASMIN_ACCESS_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("JASMIN_ACCESS_HOME", str(home / "store"))
    monkeypatch.setenv("JASMIN_ACCESS_HASH_CACHE", str(home / "hashes"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return home


@pytest.fixture
def s3_profile(s3_endpoint: str, isolated_env: Path) -> str:
    """Name of a profile in the test config pointing at the S3 server."""
    from jasmin_access.config import add_profile

    add_profile(
        TEST_PROFILE,
        {"endpoint_url": s3_endpoint, "key": TEST_KEY, "secret": TEST_SECRET, "retries": 3},
    )
    return TEST_PROFILE


def _bucket_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_bucket(s3_profile: str) -> str:
    """URL of a fresh, empty bucket on the S3 server (``s3://test-…``)."""
    from jasmin_access.stores import resolve

    name = _bucket_name()
    loc = resolve(f"s3://{name}", profile=s3_profile)
    loc.fs.mkdir(name)
    return f"s3://{name}"


@pytest.fixture
def local_bucket(isolated_env: Path) -> str:
    """URL of a fresh, empty bucket in the embedded local store (``local://test-…``)."""
    name = _bucket_name()
    (isolated_env / "store" / name).mkdir(parents=True)
    return f"local://{name}"


@pytest.fixture(params=["local", "s3"])
def bucket(request: pytest.FixtureRequest) -> str:
    """A fresh bucket on each backend in turn: the embedded store and the S3 server."""
    fixture = "s3_bucket" if request.param == "s3" else "local_bucket"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def profile_for(s3_profile: str) -> object:
    """``profile_for(url)`` → the profile name to pass for that URL."""

    def choose(url: str) -> str | None:
        return s3_profile if url.startswith("s3://") else None

    return choose


@pytest.fixture(scope="session")
def nemo_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three small monthly NEMO-like files (shared, read-only)."""
    from jasmin_access.samples import NemoSpec, write_nemo_set

    return write_nemo_set(tmp_path_factory.mktemp("nemo"), NemoSpec(months=3))


@pytest.fixture(scope="session")
def nemo_daily_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three small daily NEMO-like files with uneven step counts (31, 29, 31)."""
    from jasmin_access.samples import NemoSpec, write_nemo_set

    spec = NemoSpec(months=3, frequency="1d", nx=24, ny=20, nz=4)
    return write_nemo_set(tmp_path_factory.mktemp("nemo-daily"), spec)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Multipart uploads in 5 MiB parts and ranged downloads in 1 MiB ranges, for small files."""
    from jasmin_access.backends import _s3_transfer as engine
    from jasmin_access.backends import checksums

    mib = 1 << 20
    monkeypatch.setattr(checksums, "part_size", lambda size: 5 * mib)
    monkeypatch.setattr(checksums, "SINGLE_MAX", 10 * mib)
    monkeypatch.setattr(engine, "RANGE_MIN", 2 * mib)
    monkeypatch.setattr(engine, "RANGE", mib)


PROXIED_PROFILE = "proxied"


@pytest.fixture
def s3_proxy(s3_endpoint: str) -> Iterator[S3Proxy]:
    """A fault-injecting proxy in front of the S3 server (see ``tests/s3proxy.py``)."""
    proxy = S3Proxy(s3_endpoint).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def proxied_profile(s3_proxy: S3Proxy, isolated_env: Path) -> str:
    """Name of a profile ("proxied") reaching the S3 server through ``s3_proxy``.

    Retries are generous so that a few percent of injected faults are survived.
    """
    from jasmin_access.config import add_profile

    add_profile(
        PROXIED_PROFILE,
        {
            "endpoint_url": s3_proxy.url,
            "key": TEST_KEY,
            "secret": TEST_SECRET,
            "retries": 8,
            "connect_timeout": 5.0,
            "read_timeout": 10.0,
        },
    )
    return PROXIED_PROFILE


@pytest.fixture
def closed_endpoint() -> str:
    """URL of a loopback port where nothing listens (an unreachable host)."""
    return f"http://127.0.0.1:{_free_port()}"


@pytest.fixture
def html_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a web server that is not S3: every request gets an HTML page.

    It answers with HTTP 200, or with the status given by indirect parametrisation.
    """
    from http.server import BaseHTTPRequestHandler

    page = b"<!DOCTYPE html><html><body><h1>Welcome</h1><p>Not an object store</p></body></html>"

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self.send_response(int(self.server.status))  # type: ignore[attr-defined]
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(page)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            return

    with serve_http(Handler, status=getattr(request, "param", 200)) as url:
        yield url
