"""Network shaping between any S3 client and any S3 server.

A TCP relay on loopback sits between the client (ours, s3fs, aws, rclone,
s3cmd, icechunk: anything that speaks HTTP to an endpoint URL) and the server
(moto, SeaweedFS).  It knows nothing of S3 and needs no client hook:

- **latency**: each time the client starts talking after the server has
  answered (a new request on a kept-alive connection, or the body after a
  ``100 Continue``), and once when a connection opens (the TCP handshake), the
  relay waits one round trip drawn from a seeded log-normal distribution
  (:class:`snailmail.LogNormal`: a hump with a long right tail);
- **bandwidth**: every byte crosses one FIFO pipe per direction shared by all
  connections (:class:`snailmail.AsyncSharedPipe`), so concurrent transfers
  share the cap as they would share a real link;
- **request log**: the request line of each request and the status of its
  answer are written one per line in the format of werkzeug's log, so
  :func:`benchmarks.server.count_requests` counts requests on any server.

The models are snailmail's (a maintained benchmarking library); its own
servers are not used, because the shaping must sit in front of any server.

``python -m benchmarks.shaping --upstream URL --profile campus`` runs it as a
process (what the harness does, so it shares no interpreter lock with anything
measured); :class:`Shaper` runs it in a thread (what the tests do).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from snailmail import AsyncSharedPipe, LogNormal

from .server import S3Endpoint, free_port, start_process

__all__ = ["PROFILES", "Profile", "ShapedServer", "Shaper", "main"]

CHUNK = 64 * 1024
_REQUEST = re.compile(rb"^(GET|PUT|POST|HEAD|DELETE|OPTIONS) (\S+) (HTTP/1\.[01])\r?\n")
_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})[^\n]*\n")


@dataclass(frozen=True)
class Profile:
    """A named network condition.

    Attributes
    ----------
    name
        Name used on the command line (``--profile campus``).
    median_ms
        Median round trip added per request, in milliseconds (0: none).
    sigma
        Shape of the log-normal: the 99th percentile is ``median * exp(2.33 sigma)``.
    mb_s
        Bandwidth cap in MB/s (1e6 bytes/s) each way, shared by all connections
        (``None``: no cap).
    source
        Where the numbers come from.
    """

    name: str
    median_ms: float
    sigma: float
    mb_s: float | None
    source: str

    def latency(self, seed: int) -> LogNormal:
        """The seeded round-trip distribution (snailmail's is set by its mode)."""
        mode = self.median_ms * math.exp(-(self.sigma**2)) if self.median_ms > 0 else 0.0
        return LogNormal(mode, sigma=self.sigma, seed=seed)

    def describe(self) -> str:
        """One line: median, 99th percentile and cap."""
        if self.median_ms <= 0 and self.mb_s is None:
            return f"{self.name}: no added latency, no bandwidth cap"
        p99 = self.median_ms * math.exp(2.326 * self.sigma)
        cap = "no cap" if self.mb_s is None else f"{self.mb_s:g} MB/s each way, shared"
        return (
            f"{self.name}: round trip median {self.median_ms:g} ms, p99 {p99:.0f} ms "
            f"(log-normal, sigma {self.sigma:g}), {cap}"
        )


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("none", 0.0, 0.0, None, "loopback, nothing added"),
        Profile(
            "jasmin-internal",
            1.5,
            0.4,
            1000.0,
            "JASMIN describes 'a few milliseconds' per request inside JASMIN; its hosts "
            "have 10 Gbit/s or more, so the cap (1 GB/s) is rarely what binds",
        ),
        Profile(
            "campus",
            15.0,
            0.4,
            100.0,
            "a university network to JASMIN's external endpoint: ~15 ms round trip, "
            "a shared gigabit link giving ~100 MB/s",
        ),
        Profile(
            "home",
            40.0,
            0.5,
            10.0,
            "home broadband: ~40 ms round trip (10-100 ms is the usual figure for "
            "cloud object stores from outside), ~80 Mbit/s = 10 MB/s",
        ),
    )
}


class _Relay:
    """The asyncio side: accept, delay, meter and log."""

    def __init__(
        self, upstream: str, profile: Profile, seed: int, log: IO[str] | None, record: bool
    ) -> None:
        parts = urlsplit(upstream)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.profile = profile
        self.dist = profile.latency(seed)
        cap = profile.mb_s * 1e6 if profile.mb_s else None
        self.up = AsyncSharedPipe(cap)
        self.down = AsyncSharedPipe(cap)
        self.log = log
        self.record = record
        self.delays: list[float] = []
        self.requests = 0

    async def _delay(self) -> None:
        seconds = self.dist.draw_s()
        if self.record:
            self.delays.append(seconds)
        if seconds > 0:
            await asyncio.sleep(seconds)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._delay()  # the TCP handshake costs one round trip
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return
        state: dict[str, Any] = {"answered": True, "pending": None}
        try:
            await asyncio.gather(
                self._pump_up(reader, up_writer, state), self._pump_down(up_reader, writer, state)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(OSError, RuntimeError):
                    w.close()

    async def _pump_up(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict[str, Any]
    ) -> None:
        while data := await reader.read(CHUNK):
            if state["answered"]:  # a new turn: one round trip
                state["answered"] = False
                match = _REQUEST.match(data)
                if match:
                    self.requests += 1
                    state["pending"] = match.groups()
                await self._delay()
            await self.up.transfer(len(data))
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    async def _pump_down(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict[str, Any]
    ) -> None:
        while data := await reader.read(CHUNK):
            if state["pending"] is not None:
                self._note_status(data, state)
            state["answered"] = True
            await self.down.transfer(len(data))
            writer.write(data)
            await writer.drain()
        if state["pending"] is not None:
            self._write_log(state["pending"], 0)
        writer.close()

    def _note_status(self, data: bytes, state: dict[str, Any]) -> None:
        """Log the pending request with its final status (1xx answers are skipped)."""
        while match := _STATUS.match(data):
            status = int(match.group(1))
            if status >= 200:
                self._write_log(state["pending"], status)
                state["pending"] = None
                return
            data = data[match.end() :].lstrip(b"\r\n")

    def _write_log(self, request: tuple[bytes, bytes, bytes], status: int) -> None:
        if self.log is None:
            return
        method, target, version = (part.decode("latin-1") for part in request)
        stamp = time.strftime("%d/%b/%Y %H:%M:%S")
        self.log.write(f'127.0.0.1 - - [{stamp}] "{method} {target} {version}" {status:03d} -\n')
        self.log.flush()


class Shaper:
    """The shaping relay in a background thread of this process (for tests and tools).

    Parameters
    ----------
    upstream
        ``http://host:port`` of the S3 server.
    profile
        A :class:`Profile` or the name of one in :data:`PROFILES`.
    seed
        Seed of the latency distribution.
    log_path
        Where to append the request log (none: no log).
    port
        Port to listen on (a free one when 0).

    Examples
    --------
    >>> with Shaper("http://127.0.0.1:9000", "campus", seed=1) as shaper:  # doctest: +SKIP
    ...     client(endpoint_url=shaper.url)
    """

    def __init__(
        self,
        upstream: str,
        profile: Profile | str,
        *,
        seed: int = 0,
        log_path: str | Path | None = None,
        port: int = 0,
    ) -> None:
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self._log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115
        self.relay = _Relay(upstream, self.profile, seed, self._log, record=True)
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` to give clients as their endpoint."""
        if self._server is None:
            raise RuntimeError("shaper not started")
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    @property
    def delays(self) -> list[float]:
        """Every round trip drawn so far, in seconds, in order."""
        return list(self.relay.delays)

    def start(self) -> Shaper:
        """Listen and serve in a daemon thread."""
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self.relay.handle, "127.0.0.1", self._port)
        )
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._thread is None:
            return

        async def _close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(_close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> Shaper:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ShapedServer(S3Endpoint):
    """A server seen through the shaping relay, run as its own process.

    Clients get the relay's endpoint; the harness's set-up work goes straight
    to the server.  Requests are counted from the relay's log.

    Parameters
    ----------
    inner
        The server (started and stopped with this object).
    profile
        Name of the network profile.
    seed
        Seed of the latency distribution.
    """

    def __init__(self, inner: S3Endpoint, profile: str, seed: int = 0) -> None:
        self.inner = inner
        self.profile = PROFILES[profile]
        self.seed = seed
        self.port = free_port()
        self.kind = inner.kind
        super().__init__(
            inner.workdir,
            f"http://127.0.0.1:{self.port}",
            inner.workdir / f"shaper-{profile}-requests.log",
        )

    @property
    def setup_endpoint(self) -> str:
        """Set-up work skips the shaping."""
        return self.inner.endpoint

    def pids(self) -> list[int]:
        """The server's processes (the relay's CPU is not the server's)."""
        return self.inner.pids()

    def relay_pids(self) -> list[int]:
        """The relay's process."""
        return [self._proc.pid] if self._proc is not None else []

    def start(self, timeout: float = 30.0) -> ShapedServer:
        """Start the server, then the relay in front of it."""
        import sys

        self.inner.start()
        self.log_path.touch()
        cmd = [sys.executable, "-m", "benchmarks.shaping", "--upstream", self.inner.endpoint]
        cmd += ["--port", str(self.port), "--profile", self.profile.name]
        cmd += ["--seed", str(self.seed), "--log", str(self.log_path)]
        self._proc = start_process(cmd, self.port, "shaping relay", timeout=timeout)
        return self

    def stop(self) -> None:
        """Stop the relay, then the server."""
        super().stop()
        self.inner.stop()


def serve(upstream: str, profile: Profile, seed: int, port: int, log_path: Path | None) -> None:
    """Run the relay in this process until killed."""
    log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115
    relay = _Relay(upstream, profile, seed, log, record=False)

    async def run() -> None:
        server = await asyncio.start_server(relay.handle, "127.0.0.1", port, backlog=256)
        async with server:
            await server.serve_forever()

    asyncio.run(run())


def profile_table() -> Iterator[str]:
    """Markdown rows describing the profiles (for the docs)."""
    for p in PROFILES.values():
        cap = "—" if p.mb_s is None else f"{p.mb_s:g}"
        p99 = p.median_ms * math.exp(2.326 * p.sigma)
        yield f"| `{p.name}` | {p.median_ms:g} | {p99:.0f} | {cap} | {p.source} |"


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.shaping --upstream URL --port P --profile NAME``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shaping", description=__doc__)
    parser.add_argument("--upstream", required=True, help="http://host:port of the S3 server")
    parser.add_argument("--port", type=int, required=True, help="port to listen on (loopback)")
    parser.add_argument("--profile", choices=list(PROFILES), default="campus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log", type=Path, default=None, help="request log to append to")
    args = parser.parse_args(argv)
    serve(args.upstream, PROFILES[args.profile], args.seed, args.port, args.log)


if __name__ == "__main__":
    main()
