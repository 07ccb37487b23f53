"""The tools users would otherwise use, found, installed and pointed at the local server.

``aws`` (awscli) and ``s3cmd`` live in their own virtualenv,
``benchmarks/.peers``: awscli pins botocore and would break s3fs/aiobotocore in
the project's environment.  ``rclone`` comes from the system packages.  Each is
configured with environment variables and temporary files only; nothing is
written to the user's home.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .server import BENCH_KEY, BENCH_SECRET, S3Server

__all__ = ["PEERS_DIR", "Peers", "install_peers"]

log = logging.getLogger(__name__)

PEERS_DIR = Path(__file__).resolve().parent / ".peers"

INSTALL_HINT = {
    "aws": "python -m benchmarks --install-peers (pip install awscli into benchmarks/.peers)",
    "s3cmd": "python -m benchmarks --install-peers (pip install s3cmd into benchmarks/.peers)",
    "rclone": "apt-get install -y rclone (or python -m benchmarks --install-peers as root)",
}


def _find(tool: str) -> str | None:
    local = PEERS_DIR / "bin" / tool
    if local.exists():
        return str(local)
    return shutil.which(tool)


def _version(exe: str, *args: str) -> str:
    try:
        out = subprocess.run(
            [exe, *args], capture_output=True, text=True, timeout=30, env=_clean_env()
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "?"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}


@dataclass
class Peers:
    """Peer tools available on this machine and their settings for one server.

    Parameters
    ----------
    server
        The benchmark S3 server.
    work_dir
        Where to write the temporary s3cmd and rclone configuration.
    """

    server: S3Server
    work_dir: Path

    def __post_init__(self) -> None:
        self.exes = {tool: _find(tool) for tool in ("aws", "s3cmd", "rclone")}

    def have(self, tool: str) -> bool:
        """True when ``tool`` is installed."""
        return self.exes.get(tool) is not None

    def missing(self, tool: str) -> str:
        """The 'not installed' note for a table row."""
        return f"{tool} not installed (install with: {INSTALL_HINT[tool]})"

    def versions(self) -> dict[str, str]:
        """Version line of each installed peer."""
        args = {"aws": ("--version",), "s3cmd": ("--version",), "rclone": ("version",)}
        return {t: _version(exe, *args[t]) for t, exe in self.exes.items() if exe}

    # ------------------------------------------------------------------ aws
    def aws(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """``aws s3 ...`` command and environment."""
        env = self.server.client_env()
        env["AWS_CONFIG_FILE"] = str(self.work_dir / "aws-config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.work_dir / "aws-credentials")
        env["AWS_PAGER"] = ""
        return [str(self.exes["aws"]), "s3", *args], env

    # ------------------------------------------------------------------ s3cmd
    def s3cmd(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """``s3cmd ...`` command (with a temporary ``.s3cfg``) and environment."""
        host = self.server.endpoint.split("://", 1)[1]
        cfg = self.work_dir / "s3cfg"
        cfg.write_text(
            "[default]\n"
            f"access_key = {BENCH_KEY}\n"
            f"secret_key = {BENCH_SECRET}\n"
            f"host_base = {host}\n"
            f"host_bucket = {host}\n"
            "use_https = False\n"
            "signature_v2 = False\n"
            "bucket_location = us-east-1\n"
            "check_ssl_certificate = False\n"
            "progress_meter = False\n"
        )
        return [str(self.exes["s3cmd"]), "-c", str(cfg), *args], {}

    # ------------------------------------------------------------------ rclone
    def rclone(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """``rclone ...`` command and environment (remote ``bench:``)."""
        empty = self.work_dir / "rclone.conf"
        empty.touch()
        env = {
            "RCLONE_CONFIG": str(empty),
            "RCLONE_CONFIG_BENCH_TYPE": "s3",
            "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
            "RCLONE_CONFIG_BENCH_ENDPOINT": self.server.endpoint,
            "RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE": "true",
            "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": BENCH_KEY,
            "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": BENCH_SECRET,
            "RCLONE_CONFIG_BENCH_REGION": "us-east-1",
        }
        return [str(self.exes["rclone"]), *args], env


def install_peers(echo: object = print) -> int:
    """Install the peers: awscli and s3cmd into ``benchmarks/.peers``, rclone via apt.

    Parameters
    ----------
    echo
        Where progress lines go (the CLI passes ``print``).

    Returns
    -------
    int
        0 when all three are installed afterwards.
    """
    say = echo if callable(echo) else print
    if not (PEERS_DIR / "bin" / "python").exists():
        say(f"creating {PEERS_DIR}")
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_DIR)], check=True)
    pip = [str(PEERS_DIR / "bin" / "python"), "-m", "pip", "install", "-q"]
    say("installing awscli and s3cmd into benchmarks/.peers")
    subprocess.run([*pip, "awscli", "s3cmd"], check=True, env=_clean_env())
    if shutil.which("rclone") is None:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            say("installing rclone with apt-get")
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "rclone"], check=True)
        else:
            say(f"rclone: install it yourself: {INSTALL_HINT['rclone']}")
    found = {t: _find(t) for t in ("aws", "s3cmd", "rclone")}
    for tool, exe in found.items():
        say(f"{tool}: {exe or 'NOT installed'}")
    return 0 if all(found.values()) else 1
