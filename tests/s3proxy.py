"""A fault-injecting HTTP proxy between an S3 client and the moto server.

The proxy listens on loopback, forwards every request to the upstream S3
endpoint and relays the answer, counting what it sees.  It can fail requests
on purpose, either at random with a seeded generator (:class:`FaultPlan`) or by
targeted rules (:meth:`S3Proxy.fail`)::

    proxy = S3Proxy(upstream).start()
    proxy.plan = FaultPlan(rate=0.05, seed=1)            # 5 % random faults
    proxy.fail(method="PUT", status=403, code="QuotaExceeded")
    ...
    proxy.count(kind="bulk-delete"), proxy.faults_injected
    proxy.stop()

Fault kinds: ``"503"`` (SlowDown), ``"500"`` (InternalError), ``"reset"``
(the socket is closed without an answer, the request is not forwarded),
``"reset-after"`` (forwarded, then closed without an answer: the write
happened but the client cannot know), ``"truncate"`` (headers with the full
Content-Length, half the body, then close) and ``"latency"`` (sleep, then
forward normally).

Network conditions: ``S3Proxy(upstream, shaping=PROFILES["campus"])`` adds a
seeded log-normal round trip to every request and meters bodies through one
bandwidth pipe per direction shared by all connections (the models of
:mod:`benchmarks.shaping`, which shapes any client in front of any server for
the benchmarks).

Like the JASMIN object store, the proxy can refuse conditional writes: with
``reject_conditional = True`` any PUT carrying ``If-None-Match`` or
``If-Match`` gets ``501 NotImplemented`` (counted in ``conditional_refused``).
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from snailmail import SharedPipe

from benchmarks.shaping import Profile

__all__ = ["FAULT_KINDS", "FaultPlan", "Rule", "S3Proxy", "classify"]

FAULT_KINDS = ("503", "500", "reset", "reset-after", "truncate", "latency")
_HOP_BY_HOP = {
    "server",
    "date",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "expect",
}
_ERROR_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
    "<Message>{message}</Message><Resource>{path}</Resource>"
    "<RequestId>{rid}</RequestId></Error>"
)
_DEFAULT_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "AccessDenied": "Access Denied",
    "InvalidAccessKeyId": "The AWS Access Key Id you provided does not exist in our records.",
    "QuotaExceeded": "The tenancy quota has been exceeded.",
    "NotImplemented": "A header you provided implies functionality that is not implemented",
}
_CONDITIONAL = ("if-none-match", "if-match")


@dataclass
class FaultPlan:
    """Random faults injected by the proxy.

    Attributes
    ----------
    rate
        Probability in ``[0, 1]`` that an eligible request is failed.
    kinds
        Fault kinds drawn from uniformly (see :data:`FAULT_KINDS`).
    seed
        Seed of the proxy's private random generator: same seed, same faults
        for the same request sequence.
    only_methods
        Only requests with these HTTP methods are eligible (all when ``None``).
    only_kinds
        Only these S3 call kinds (see :func:`classify`) are eligible.
    latency_ms
        Sleep of a ``"latency"`` fault, in milliseconds.
    max_faults
        Stop injecting after this many faults (unbounded when ``None``).
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = ("503", "500", "reset", "truncate")
    seed: int = 0
    only_methods: tuple[str, ...] | None = None
    only_kinds: tuple[str, ...] | None = None
    latency_ms: int = 50
    max_faults: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {self.rate}")
        self.kinds = tuple(self.kinds)
        if self.only_methods is not None:
            self.only_methods = tuple(m.upper() for m in self.only_methods)


@dataclass
class Rule:
    """A targeted failure: requests matching every given field get an S3 error.

    ``query`` matches when that query parameter is present (``"delete"``
    matches ``POST /bucket?delete``).  ``times`` limits how often the rule
    fires (``None`` = always); ``hits`` counts how often it did.
    """

    method: str | None = None
    path: str | None = None
    query: str | None = None
    kind: str | None = None
    status: int = 403
    code: str = "AccessDenied"
    message: str | None = None
    times: int | None = None
    hits: int = 0

    def matches(self, method: str, path: str, params: dict[str, Any], kind: str) -> bool:
        """True when this rule applies to the request and has firings left."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path is not None and not path.startswith(self.path):
            return False
        if self.query is not None and self.query not in params:
            return False
        return self.kind is None or self.kind == kind


def classify(method: str, path: str, query: str) -> str:
    """Name the S3 call behind a path-style request.

    Returns
    -------
    str
        ``"bulk-delete"`` (POST ?delete), ``"multipart"`` (?uploads / ?uploadId),
        ``"list"`` (GET with ``list-type`` or on a bucket root / the service
        root), ``"get"``, ``"head"``, ``"put"``, ``"delete"``, else the
        lower-cased method.
    """
    params = parse_qs(query, keep_blank_values=True)
    method = method.upper()
    if method == "POST" and "delete" in params:
        return "bulk-delete"
    if "uploads" in params or "uploadId" in params:
        return "multipart"
    if method == "GET":
        at_root = "/" not in path.strip("/")
        return "list" if ("list-type" in params or at_root) else "get"
    return {"HEAD": "head", "PUT": "put", "DELETE": "delete"}.get(method, method.lower())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _read_body(self) -> bytes | None:
        """The request body, or None when the client went away before sending all of it."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                if not line:
                    return None
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunk = self.rfile.read(size)
                if len(chunk) < size:
                    return None
                chunks.append(chunk)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        # like a real server: a request cut short is dropped, never stored shortened
        return body if len(body) == length else None

    def _handle(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        if body is None:
            self.close_connection = True
            return None
        split = urlsplit(self.path)
        method = self.command.upper()
        kind = classify(method, split.path, split.query)
        authorized = "authorization" in {k.lower() for k in self.headers} or (
            "X-Amz-Credential" in split.query
        )
        action = proxy._record(method, split.path, split.query, kind, authorized)
        conditional = any(h.lower() in _CONDITIONAL for h in self.headers)
        if method == "PUT" and proxy.reject_conditional and conditional:
            with proxy._lock:
                proxy.conditional_refused.append(split.path)
            return self._send_error(501, "NotImplemented", None, split.path)
        if isinstance(action, Rule):
            return self._send_error(action.status, action.code, action.message, split.path)
        if action == "503":
            return self._send_error(503, "SlowDown", None, split.path)
        if action == "500":
            return self._send_error(500, "InternalError", None, split.path)
        if action == "reset":
            return self._reset()
        if action == "latency":
            time.sleep(proxy.plan.latency_ms / 1000)
        proxy._shape(len(body), up=True)
        status, reason, headers, payload = proxy._forward(method, self.path, self.headers, body)
        proxy._shape(len(payload), up=False)
        if action == "reset-after":
            return self._reset()
        truncate = action == "truncate" and len(payload) > 1
        if action == "truncate" and not truncate:
            return self._reset()
        self.send_response(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if method != "HEAD" and payload:
            self.wfile.write(payload[: len(payload) // 2] if truncate else payload)
        if truncate:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_error(self, status: int, code: str, message: str | None, path: str) -> None:
        text = message or _DEFAULT_MESSAGES.get(code, code)
        payload = _ERROR_XML.format(code=code, message=text, path=path, rid=uuid.uuid4().hex)
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", uuid.uuid4().hex[:16])
        self.send_header("Content-Length", str(len(data) if self.command != "HEAD" else 0))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _reset(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: S3Proxy

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.proxy._lock:
            self.proxy._sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.proxy._lock:
            self.proxy._sockets.discard(request)
        super().shutdown_request(request)


@dataclass
class S3Proxy:
    """A threaded fault-injecting HTTP proxy on ``127.0.0.1`` in front of ``upstream``.

    Attributes
    ----------
    requests
        ``(method, path, query)`` of every request received, in order.
    kinds
        The S3 call kind of each request (parallel to ``requests``).
    authorized_requests
        The ``(method, path, query)`` of requests that carried credentials
        (an ``Authorization`` header or a presigned ``X-Amz-Credential``).
    faults
        ``(fault, method, path)`` of every fault injected (random or rule).
    lifetime
        Seconds after which the proxy stops by itself, whatever happens.
    shaping
        Network profile applied to every forwarded request (none: no shaping).
    shaping_seed
        Seed of the profile's latency distribution.
    reject_conditional
        Answer PUTs with ``If-None-Match``/``If-Match`` with 501 NotImplemented
        (as JASMIN does); their paths go to ``conditional_refused``.
    """

    upstream: str
    plan: FaultPlan = field(default_factory=FaultPlan)
    lifetime: float = 300.0
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    authorized_requests: list[tuple[str, str, str]] = field(default_factory=list)
    faults: list[tuple[str, str, str]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    shaping: Profile | None = None
    shaping_seed: int = 0
    reject_conditional: bool = False
    conditional_refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._latency = self.shaping.latency(self.shaping_seed) if self.shaping else None
        cap = self.shaping.mb_s * 1e6 if self.shaping and self.shaping.mb_s else None
        self._pipes = {True: SharedPipe(cap), False: SharedPipe(cap)}
        parts = urlsplit(self.upstream)
        self._upstream_host = parts.hostname or "127.0.0.1"
        self._upstream_port = parts.port or 80
        self._lock = threading.Lock()
        self._sockets: set[Any] = set()
        self._rng = random.Random(self.plan.seed)
        self._seeded_plan: FaultPlan | None = self.plan
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the proxy (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("proxy not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> S3Proxy:
        """Listen on a free loopback port and serve in a daemon thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="s3proxy", daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open client connection (idempotent)."""
        server, self._server = self._server, None
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> S3Proxy:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ configuration

    def fail(
        self,
        method: str | None = None,
        *,
        path: str | None = None,
        query: str | None = None,
        kind: str | None = None,
        status: int = 403,
        code: str = "AccessDenied",
        message: str | None = None,
        times: int | None = None,
    ) -> Rule:
        """Answer matching requests with an S3 error instead of forwarding them.

        Examples
        --------
        >>> proxy.fail(method="PUT", status=403, code="QuotaExceeded")  # doctest: +SKIP
        >>> proxy.fail(method="POST", query="delete", code="AccessDenied")  # doctest: +SKIP
        >>> proxy.fail(status=403, code="InvalidAccessKeyId")  # doctest: +SKIP
        """
        rule = Rule(method, path, query, kind, status, code, message, times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        """Remove every targeted rule."""
        with self._lock:
            self.rules.clear()

    def reset(self) -> None:
        """Forget the recorded requests and faults (rules and plan are kept)."""
        with self._lock:
            self.requests.clear()
            self.kinds.clear()
            self.authorized_requests.clear()
            self.faults.clear()
            self.conditional_refused.clear()

    # ------------------------------------------------------------------ statistics

    @property
    def faults_injected(self) -> int:
        """Number of faults injected since the last :meth:`reset`."""
        return len(self.faults)

    def count(self, method: str | None = None, kind: str | None = None) -> int:
        """Requests seen with that HTTP method and/or S3 call kind."""
        with self._lock:
            pairs = list(zip(self.requests, self.kinds, strict=True))
        return sum(
            1
            for (m, _p, _q), k in pairs
            if (method is None or m == method.upper()) and (kind is None or k == kind)
        )

    def count_faults(self, fault: str | None = None) -> int:
        """Faults injected, optionally of one kind (``"503"``, ``"rule"``, ...)."""
        with self._lock:
            return sum(1 for f, _m, _p in self.faults if fault is None or f == fault)

    # ------------------------------------------------------------------ internals

    def _eligible(self, method: str, kind: str) -> bool:
        plan = self.plan
        if plan.rate <= 0 or not plan.kinds:
            return False
        if plan.max_faults is not None and self._random_faults() >= plan.max_faults:
            return False
        if plan.only_methods is not None and method not in plan.only_methods:
            return False
        return plan.only_kinds is None or kind in plan.only_kinds

    def _random_faults(self) -> int:
        return sum(1 for f, _m, _p in self.faults if f != "rule")

    def _record(
        self, method: str, path: str, query: str, kind: str, authorized: bool
    ) -> Rule | str | None:
        params = parse_qs(query, keep_blank_values=True)
        with self._lock:
            self.requests.append((method, path, query))
            self.kinds.append(kind)
            if authorized:
                self.authorized_requests.append((method, path, query))
            for rule in self.rules:
                if rule.matches(method, path, params, kind):
                    rule.hits += 1
                    self.faults.append(("rule", method, path))
                    return rule
            if self.plan is not self._seeded_plan:  # a new plan restarts its sequence
                self._seeded_plan = self.plan
                self._rng = random.Random(self.plan.seed)
            if self._eligible(method, kind) and self._rng.random() < self.plan.rate:
                fault = self._rng.choice(self.plan.kinds)
                self.faults.append((fault, method, path))
                return fault
        return None

    def _shape(self, nbytes: int, *, up: bool) -> None:
        """One round trip before a request goes up; bytes through the shared pipe."""
        if self._latency is not None and up:
            with self._lock:  # the draw advances a shared index
                delay = self._latency.draw_s()
            time.sleep(delay)
        self._pipes[up].transfer(nbytes)

    def _forward(
        self, method: str, target: str, headers: Iterable[tuple[str, str]] | Any, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=60)
        try:
            out = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            out["Content-Length"] = str(len(body))
            conn.request(method, target, body=body, headers=out)
            resp = conn.getresponse()
            payload = resp.read()
            relay = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
            if method != "HEAD":
                relay = [(k, v) for k, v in relay if k.lower() != "content-length"]
                relay.append(("Content-Length", str(len(payload))))
            return resp.status, resp.reason, relay, payload
        finally:
            conn.close()
