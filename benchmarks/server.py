"""The local S3 servers for benchmarks, and counting the HTTP requests they served.

:class:`S3Server` is ``moto_server`` run as a separate process, so it does not
share a GIL with the client being measured.  Its request log (werkzeug writes
one line per request to stderr) goes to a file; a case notes the file size
before it starts and counts the lines written until it ends.  SeaweedFS
(:mod:`benchmarks.seaweed`) writes no such log: behind the shaping relay
(:mod:`benchmarks.shaping`) the relay writes it, in the same format.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "BENCH_KEY",
    "BENCH_PROFILE",
    "BENCH_SECRET",
    "RequestCounts",
    "S3Endpoint",
    "S3Server",
    "classify",
    "count_requests",
    "free_port",
    "start_process",
    "stop_process",
]

log = logging.getLogger(__name__)

BENCH_KEY = "BENCHKEY0000000000000"
BENCH_SECRET = "bench-secret-not-a-real-one"
BENCH_PROFILE = "bench"

_CHUNK = re.compile(r"/c(/\d+)+$|/\d+(\.\d+)*$")  # Zarr v3 and v2 chunk keys
_LINE = re.compile(r'"(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_process(
    cmd: list[str],
    port: int,
    name: str,
    *,
    stderr: Any = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> subprocess.Popen[bytes]:
    """Start a server process and wait until it accepts connections on ``port``."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL, env=env
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited early (exit {proc.returncode})")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return proc
        time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError(f"{name} did not start within {timeout:.0f} s")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """Terminate a process started by :func:`start_process` (kill it after 10 s)."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def classify(method: str, target: str) -> str:
    """The kind of an S3 request from its method and request target.

    Parameters
    ----------
    method
        HTTP method.
    target
        Request target (path and query), e.g. ``/bucket?list-type=2&prefix=a/``.

    Returns
    -------
    str
        One of ``LIST``, ``GET``, ``CHUNK`` (a GET of a Zarr chunk key), ``HEAD``,
        ``PUT``, ``PART``, ``MPU`` (create or
        complete a multipart upload), ``DELETE``, ``BULKDEL``, ``BUCKET`` or ``OTHER``.
    """
    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    path = parts.path.strip("/")
    is_bucket = "/" not in path
    if method == "GET":
        if is_bucket and ("list-type" in query or "prefix" in query or "delimiter" in query):
            return "LIST"
        if is_bucket and not query:
            return "LIST"
        if is_bucket:
            return "BUCKET"
        return "CHUNK" if _CHUNK.search(path) else "GET"
    if method == "HEAD":
        return "BUCKET" if is_bucket else "HEAD"
    if method == "PUT":
        if is_bucket:
            return "BUCKET"
        return "PART" if "partNumber" in query else "PUT"
    if method == "POST":
        if "delete" in query:
            return "BULKDEL"
        if "uploads" in query or "uploadId" in query:
            return "MPU"
        return "OTHER"
    if method == "DELETE":
        return "BUCKET" if is_bucket else "DELETE"
    return "OTHER"


@dataclass
class RequestCounts:
    """Requests served in a window: by kind, failures (status >= 400), chunk GETs by array."""

    kinds: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    chunks: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """All requests."""
        return sum(self.kinds.values())

    def summary(self) -> str:
        """``"123 (LIST 20, GET 100, HEAD 3)"``: the total and its biggest kinds."""
        if not self.total:
            return "0"
        detail = ", ".join(f"{k} {n}" for k, n in self.kinds.most_common())
        errors = f"; {self.errors} errors" if self.errors else ""
        return f"{self.total} ({detail}{errors})"


def count_requests(text: str) -> RequestCounts:
    """Count the S3 requests in a chunk of werkzeug request log.

    Parameters
    ----------
    text
        Log lines such as ``127.0.0.1 - - [..] "GET /b?list-type=2 HTTP/1.1" 200 -``.
    """
    counts = RequestCounts()
    for match in _LINE.finditer(text):
        method, target, status = match.groups()
        if target.startswith("/moto-api"):
            continue
        kind = classify(method, target)
        counts.kinds[kind] += 1
        if kind == "CHUNK":
            counts.chunks[_array_of(target)] += 1
        if int(status) >= 400:
            counts.errors += 1
    return counts


def _array_of(target: str) -> str:
    """Name of the Zarr array a chunk key belongs to (``.../thetao/c/0/0`` → ``thetao``)."""
    path = urlsplit(target).path
    head = path.split("/c/", 1)[0] if "/c/" in path else path.rsplit("/", 1)[0]
    return head.rsplit("/", 1)[-1]


class S3Endpoint:
    """An S3 endpoint the benchmarks talk to, with a request log to count from.

    ``endpoint`` is what the measured clients are given; ``setup_endpoint`` is
    what the harness's own set-up and checking work uses (the same, except
    behind a :class:`ShapedServer`, whose set-up work skips the shaping).
    Subclasses start and stop a server.
    """

    kind = "s3"

    def __init__(self, workdir: str | Path, endpoint: str, log_path: str | Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.endpoint = endpoint
        self.log_path = Path(log_path)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh: Any = None

    @property
    def setup_endpoint(self) -> str:
        """The endpoint of the unmeasured set-up work."""
        return self.endpoint

    def start(self, timeout: float = 30.0) -> S3Endpoint:
        """Start the server (nothing to do for an attached one)."""
        return self

    def stop(self) -> None:
        """Stop the process :meth:`start` started, if any, and close its log."""
        stop_process(self._proc)
        self._proc = None
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def __enter__(self) -> S3Endpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType
    ) -> None:
        self.stop()

    def pids(self) -> list[int]:
        """Processes of the server itself (not the shaping relay)."""
        return [self._proc.pid] if self._proc is not None else []

    def relay_pids(self) -> list[int]:
        """Processes between the clients and the server (none unless shaped)."""
        return []

    def cpu_seconds(self, relay: bool = False) -> float:
        """CPU seconds (user + system) used so far by the server's processes (or the relay's)."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in self.relay_pids() if relay else self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total

    # ------------------------------------------------------------------ request counting
    def mark(self) -> int:
        """Current end of the request log, to count from."""
        self._settle()
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def count_since(self, offset: int) -> RequestCounts:
        """Requests logged since ``offset`` (from :meth:`mark`)."""
        self._settle()
        with open(self.log_path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", "replace")
        return count_requests(text)

    def _settle(self, quiet: float = 0.15, limit: float = 3.0) -> None:
        """Wait until the log stops growing: lines are written after responses."""
        if not self.log_path.exists():
            return
        deadline = time.monotonic() + limit
        size = self.log_path.stat().st_size
        while time.monotonic() < deadline:
            time.sleep(quiet)
            new = self.log_path.stat().st_size
            if new == size:
                return
            size = new

    # ------------------------------------------------------------------ clients
    def client_env(self) -> dict[str, str]:
        """Environment variables for any AWS-style client of this server."""
        return {
            "AWS_ACCESS_KEY_ID": BENCH_KEY,
            "AWS_SECRET_ACCESS_KEY": BENCH_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
            "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def s3fs(self, **kwargs: Any) -> Any:
        """An s3fs filesystem for the harness's own set-up work (not measured)."""
        import s3fs

        return s3fs.S3FileSystem(
            key=BENCH_KEY,
            secret=BENCH_SECRET,
            client_kwargs={"endpoint_url": self.setup_endpoint},
            config_kwargs={
                "request_checksum_calculation": "when_required",
                "response_checksum_validation": "when_required",
            },
            skip_instance_cache=True,
            **kwargs,
        )

    def write_profile(self, config_path: Path) -> Path:
        """Write a jasmin-access config file with a ``bench`` profile for this server."""
        text = (
            f"[profiles.{BENCH_PROFILE}]\n"
            f'endpoint_url = "{self.endpoint}"\n'
            f'key = "{BENCH_KEY}"\n'
            f'secret = "{BENCH_SECRET}"\n'
            "retries = 3\n"
        )
        config_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return config_path


class S3Server(S3Endpoint):
    """A ``moto_server`` process on the loopback interface with a request log.

    Parameters
    ----------
    workdir
        Directory for the request log.
    port
        TCP port; a free one when not given.
    endpoint, log_path
        Attach to a server that is already running and writes its request log to
        ``log_path`` instead of starting one (used by tests).
    """

    kind = "moto"

    def __init__(
        self,
        workdir: str | Path,
        port: int | None = None,
        *,
        endpoint: str | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        self.port = port or free_port()
        super().__init__(
            workdir,
            endpoint or f"http://127.0.0.1:{self.port}",
            log_path or Path(workdir) / "moto-requests.log",
        )
        self._attached = endpoint is not None

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> S3Server:
        """Start the server and wait until it answers."""
        if self._attached:
            return self
        exe = Path(sys.executable).with_name("moto_server")
        cmd = [str(exe), "-H", "127.0.0.1", "-p", str(self.port)]
        self._log_fh = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the server
        self._proc = start_process(
            cmd, self.port, "moto_server", stderr=self._log_fh, timeout=timeout
        )
        log.info("S3 server at %s (pid %d)", self.endpoint, self._proc.pid)
        return self

    @property
    def pid(self) -> int | None:
        """Process id of the server, when this object started it."""
        return self._proc.pid if self._proc else None
