"""Real servers for the backend tests, each on a free loopback port.

WebDAV: WsgiDAV served by cheroot in a thread of the test process, with
basic authentication, as webdav4's own tests do.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

WEBDAV_USER = "scientist"
WEBDAV_PASSWORD = "dav-pass-Hq7Wm2Zt9Lx4"


class WebdavServer:
    """WsgiDAV over a directory, basic auth, on ``127.0.0.1:port``."""

    def __init__(self, root: Path, port: int) -> None:
        from cheroot import wsgi
        from wsgidav.wsgidav_app import WsgiDAVApp

        logging.getLogger("wsgidav").setLevel(logging.ERROR)
        self.root, self.port = root, port
        config = {
            "host": "127.0.0.1",
            "port": port,
            "provider_mapping": {"/": str(root)},
            "http_authenticator": {
                "domain_controller": None,  # the simple one below
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
            },
            "simple_dc": {"user_mapping": {"*": {WEBDAV_USER: {"password": WEBDAV_PASSWORD}}}},
            "verbose": 0,
            "logging": {"enable": False},
            "dir_browser": {"enable": False},
            "lock_storage": True,
        }
        app = WsgiDAVApp(config)
        self.server = wsgi.Server(bind_addr=("127.0.0.1", port), wsgi_app=app, numthreads=16)
        self.thread = threading.Thread(target=self.server.safe_start, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def profile_settings(self) -> dict[str, Any]:
        """A ``webdav`` profile for this server."""
        return {"type": "webdav", "endpoint_url": self.url, "user": WEBDAV_USER,
                "secret": WEBDAV_PASSWORD}  # fmt: skip

    def start(self) -> WebdavServer:
        """Serve in a thread until the port answers."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.ready and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()
        self.thread.join(timeout=5)


SFTP_USER = "oceans"
SFTP_PASSWORD = "sftp-pass-Ue3Kd8Vb1Rp6"


class SftpServer:
    """An asyncssh SFTP server over a directory (chrooted), on ``127.0.0.1:port``.

    Accepts the password above, or the public key written to :attr:`client_key`.
    """

    def __init__(self, root: Path, port: int, key_dir: Path) -> None:
        import asyncssh

        self.root, self.port = root, port
        self.client_key = key_dir / "id_ed25519"
        client = asyncssh.generate_private_key("ssh-ed25519")
        client.write_private_key(str(self.client_key))
        self.client_key.chmod(0o600)
        self._authorized = client.export_public_key().decode()
        self._host_key = asyncssh.generate_private_key("ssh-ed25519")
        self._loop: Any = None
        self._server: Any = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def profile_settings(self) -> dict[str, Any]:
        """An ``sftp`` profile for this server, with the key file."""
        return {"type": "sftp", "host": "127.0.0.1", "port": self.port, "user": SFTP_USER,
                "key_file": str(self.client_key)}  # fmt: skip

    def _serve(self) -> None:
        import asyncio

        import asyncssh

        root, authorized = str(self.root), asyncssh.import_authorized_keys(self._authorized)

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return username == SFTP_USER and password == SFTP_PASSWORD

            def public_key_auth_supported(self) -> bool:
                return True

            def validate_public_key(self, username: str, key: Any) -> bool:
                found = authorized.validate(key, "127.0.0.1", "127.0.0.1")
                return username == SFTP_USER and found is not None

        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            asyncssh.listen(
                "127.0.0.1",
                self.port,
                server_host_keys=[self._host_key],
                server_factory=Server,
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=root),
            )
        )
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> SftpServer:
        """Serve in a thread until listening."""
        self.thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self.thread.join(timeout=5)


AZURITE_ACCOUNT = "devstoreaccount1"
# the emulator's published well-known key (not a secret: every Azurite install has it)
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class AzuriteServer:
    """Azurite's blob service (npm package ``azurite``) over a directory."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.proc: Any = None

    @property
    def endpoint(self) -> str:
        """The blob endpoint of the emulator's account."""
        return f"http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT}"

    def profile_settings(self) -> dict[str, Any]:
        """An ``azure`` profile for the emulator's account (key and endpoint)."""
        return {"type": "azure", "account": AZURITE_ACCOUNT, "secret": AZURITE_KEY,
                "endpoint_url": self.endpoint}  # fmt: skip

    def connection_string(self, key: str = AZURITE_KEY, port: int | None = None) -> str:
        """A connection string for the account (another key or port to test failures)."""
        endpoint = f"http://127.0.0.1:{port or self.port}/{AZURITE_ACCOUNT}"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={key};BlobEndpoint={endpoint};"
        )

    def start(self) -> AzuriteServer:
        """Start ``azurite-blob`` and wait until its port answers."""
        import shutil
        import socket

        exe = shutil.which("azurite-blob")
        if exe is None:
            raise RuntimeError("azurite-blob is not installed: run scripts/system-deps.sh")
        self.proc = subprocess.Popen(
            [exe, "--location", str(self.root), "--blobHost", "127.0.0.1",
             "--blobPort", str(self.port), "--skipApiVersionCheck", "--loose", "--silent"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("azurite-blob did not start")

    def stop(self) -> None:
        """Stop the emulator."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # node busy flushing its state: no need to wait
                self.proc.kill()
                self.proc.wait(timeout=10)
