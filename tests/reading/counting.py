"""A second moto S3 server, in this process, that records every request it serves.

Used to prove how many requests an opener makes and that anonymous reads carry
no credentials.  It is a real HTTP server (the moto WSGI app behind werkzeug);
only a recording middleware is added around the app.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True)
class Request:
    """One request seen by the server."""

    method: str
    path: str
    query: str
    signed: bool
    range: str = ""  # the Range header, if any

    @property
    def key(self) -> str:
        """The object key (path without the bucket)."""
        parts = self.path.lstrip("/").split("/", 1)
        return parts[1] if len(parts) > 1 else ""


@dataclass
class RequestLog:
    """Requests recorded by :class:`CountingServer`, with in-flight tracking."""

    requests: list[Request] = field(default_factory=list)
    delay: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.max_in_flight = 0

    def gets(self, bucket: str) -> list[Request]:
        """GET requests on objects of ``bucket`` (listings excluded)."""
        return [
            r
            for r in self.requests
            if r.method == "GET" and r.path.startswith(f"/{bucket}/") and r.key
        ]


class _Recorder:
    def __init__(self, app: Any, log: RequestLog) -> None:
        self.app, self.log = app, log

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(
            method=environ["REQUEST_METHOD"],
            path=unquote(environ.get("PATH_INFO", "")),
            query=environ.get("QUERY_STRING", ""),
            signed="HTTP_AUTHORIZATION" in environ
            or "X-Amz-Signature" in environ.get("QUERY_STRING", ""),
            range=environ.get("HTTP_RANGE", ""),
        )
        with self.log.lock:
            self.log.requests.append(req)
            self.log.in_flight += 1
            self.log.max_in_flight = max(self.log.max_in_flight, self.log.in_flight)
        try:
            if self.log.delay and req.method == "GET" and req.key:
                time.sleep(self.log.delay)
            return list(self.app(environ, start_response))
        finally:
            with self.log.lock:
                self.log.in_flight -= 1


class CountingServer:
    """moto S3 on a free loopback port, recording requests into :attr:`log`."""

    def __init__(self) -> None:
        self.log = RequestLog()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    url: str = ""

    def start(self) -> str:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        app = _Recorder(DomainDispatcherApplication(create_backend_app), self.log)
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
