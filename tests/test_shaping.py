"""The shaping relay really delays requests and caps bandwidth as configured.

Measured on loopback against a tiny HTTP server, with a fixed seed; bounds are
generous (the machine may be loaded) but each could fail if shaping were off.
"""

from __future__ import annotations

import http.client
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from benchmarks.server import count_requests
from benchmarks.shaping import PROFILES, Profile, Shaper
from tests.conftest import serve_http
from tests.s3proxy import S3Proxy

MB = 1_000_000


class _Bytes(BaseHTTPRequestHandler):
    """``GET /N`` answers N bytes; ``PUT`` reads the body and answers 200."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        size = int(self.path.rsplit("/", 1)[-1] or 0)
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.write(b"x" * size)

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def upstream() -> Iterator[str]:
    with serve_http(_Bytes) as url:
        yield url


def _get(url: str, path: str, conn: http.client.HTTPConnection | None = None) -> float:
    own = conn is None
    host, port = url.removeprefix("http://").split(":")
    conn = conn or http.client.HTTPConnection(host, int(port), timeout=30)
    start = time.perf_counter()
    conn.request("GET", path)
    conn.getresponse().read()
    took = time.perf_counter() - start
    if own:
        conn.close()
    return took


def test_each_request_waits_its_seeded_round_trip(upstream: str, tmp_path: Path) -> None:
    profile = Profile("test", median_ms=40.0, sigma=0.3, mb_s=None, source="test")
    log = tmp_path / "requests.log"
    with Shaper(upstream, profile, seed=7, log_path=log) as shaper:
        host, port = shaper.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        took = [_get(shaper.url, "/b/k/100", conn) for _ in range(12)]
        conn.close()
        drawn = shaper.delays
    # one draw for the connection, then one per request
    assert len(drawn) == 13
    per_request = drawn[1:]
    for seconds, delay in zip(took[1:], per_request[1:], strict=True):
        assert seconds >= delay - 0.003, (seconds, delay)
        assert seconds <= delay + 0.25, (seconds, delay)
    assert 0.025 <= statistics.median(per_request) <= 0.065
    assert 0.025 <= statistics.median(took[1:]) <= 0.3
    assert len(set(per_request)) > 6  # drawn, not a constant
    # the same seed draws the same round trips
    again = Shaper(upstream, profile, seed=7).relay.dist
    assert [again.draw_s() for _ in range(13)] == drawn
    counts = count_requests(log.read_text())
    assert counts.total == 12  # GETs of keys that look like chunk keys
    assert counts.errors == 0


def test_bandwidth_is_shared_by_concurrent_connections(upstream: str) -> None:
    profile = Profile("test", median_ms=0.0, sigma=0.0, mb_s=4.0, source="test")
    with Shaper(upstream, profile) as shaper:
        alone = _get(shaper.url, f"/b/k/{MB}")
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: _get(shaper.url, f"/b/k/{MB}"), range(4)))
        together = time.perf_counter() - start
    # 1 MB at 4 MB/s is 0.25 s; four at once share the cap: 1 s, not 0.25 s
    assert 0.22 <= alone <= 2.0
    assert 0.9 <= together <= 5.0


def test_profiles_are_named_as_documented() -> None:
    assert {"jasmin-internal", "campus", "home"} <= set(PROFILES)
    assert 1.0 <= PROFILES["jasmin-internal"].median_ms <= 2.0
    assert PROFILES["campus"].median_ms == 15 and PROFILES["campus"].mb_s == 100
    assert PROFILES["home"].median_ms == 40 and PROFILES["home"].mb_s == 10


def test_the_fault_proxy_applies_a_profile(upstream: str) -> None:
    profile = Profile("test", median_ms=30.0, sigma=0.2, mb_s=2.0, source="test")
    with S3Proxy(upstream, shaping=profile, shaping_seed=3) as proxy:
        small = [_get(proxy.url, "/b/k/10") for _ in range(5)]
        big = _get(proxy.url, f"/b/k/{MB}")
    assert statistics.median(small) >= 0.018
    assert big >= 0.45  # 1 MB through a 2 MB/s pipe
