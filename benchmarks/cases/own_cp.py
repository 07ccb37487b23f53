"""``cp -r`` up and down on users' own storage: WebDAV, SFTP, Azure Blob, beside rclone.

The servers are the ones the tests start (WsgiDAV in a thread of this process,
an asyncssh SFTP server in a thread, Azurite as a child process), on loopback.
Ours: ``jasmin-access cp -r`` with a profile of each type.  Peer: ``rclone
copy`` with the same server, user and secret.  Before each run the destination
is emptied (not measured); after each run the bytes that arrived are checked.
Requests are not counted here (the request log belongs to the S3 server).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from ..datasets import MiB, Tree, mixed_files
from ..harness import Bench, Check, Measured, Row, measure, skipped
from ._common import arrived

__all__ = ["NAME", "checks", "run"]

NAME = "own-cp"

KINDS = ("webdav", "sftp", "az")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _servers(bench: Bench) -> Iterator[dict[str, Any]]:
    """Start the three servers; yield ``{kind: server}``."""
    from tests.backends.servers import AzuriteServer, SftpServer, WebdavServer

    root = bench.work_dir / "own"
    for sub in ("dav", "sftp", "keys", "azurite"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    made = {
        "webdav": WebdavServer(root / "dav", _free_port()),
        "sftp": SftpServer(root / "sftp", _free_port(), root / "keys"),
        "az": AzuriteServer(root / "azurite", _free_port()),
    }
    with ExitStack() as stack:
        for server in made.values():
            server.start()
            stack.callback(server.stop)
        yield made


def _profiles(bench: Bench, servers: dict[str, Any]) -> None:
    from jasmin_access.config import add_profile

    for kind, server in servers.items():
        add_profile(f"bench-{kind}", server.profile_settings(), path=bench.config_path)


def _rclone_env(bench: Bench, kind: str, server: Any) -> dict[str, str]:
    from tests.backends.servers import SFTP_USER, WEBDAV_PASSWORD

    exe = bench.peers.exes["rclone"]
    empty = bench.work_dir / "rclone-own.conf"
    empty.touch()
    env = {"RCLONE_CONFIG": str(empty)}
    if kind == "webdav":
        obscured = subprocess.run(
            [exe, "obscure", WEBDAV_PASSWORD], capture_output=True, text=True, check=True
        ).stdout.strip()
        settings = {"TYPE": "webdav", "URL": server.url, "VENDOR": "other",
                    "USER": "scientist", "PASS": obscured}  # fmt: skip
    elif kind == "sftp":  # with fstat: asyncssh's server refuses pkg/sftp's other stat form
        settings = {"TYPE": "sftp", "HOST": "127.0.0.1", "PORT": str(server.port),
                    "USER": SFTP_USER, "KEY_FILE": str(server.client_key),
                    "SHELL_TYPE": "none", "USE_FSTAT": "true", "SET_MODTIME": "false",
                    "DISABLE_CONCURRENT_WRITES": "true"}  # fmt: skip
    else:  # rclone reaches an emulator on a free port only through a SAS URL
        settings = {"TYPE": "azureblob", "SAS_URL": _sas_url(server.endpoint)}
    env.update({f"RCLONE_CONFIG_OWN_{k}": v for k, v in settings.items()})
    return env


def _sas_url(endpoint: str) -> str:
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    from tests.backends.servers import AZURITE_ACCOUNT, AZURITE_KEY

    token = generate_account_sas(
        AZURITE_ACCOUNT,
        AZURITE_KEY,
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(
            read=True, write=True, delete=True, list=True, add=True, create=True
        ),
        expiry=datetime.now(UTC) + timedelta(hours=12),
    )
    return f"{endpoint}?{token}"


def _loc(bench: Bench, url: str) -> Any:
    from jasmin_access.config import load_config
    from jasmin_access.stores import resolve

    kind = url.split("://", 1)[0]
    profile = load_config(bench.config_path).profiles[f"bench-{kind}"]
    return resolve(url, profile=profile)


def _remote_bytes(bench: Bench, url: str) -> int:
    loc = _loc(bench, url)
    return sum(o.size for page in loc.backend.walk_pages(loc.path) for o in page)


def _empty(bench: Bench, url: str) -> None:
    loc = _loc(bench, url)
    paths = [o.path for page in loc.backend.walk_pages(loc.path) for o in page]
    loc.backend.delete_many(paths)
    loc.backend.remove_empty_dirs(loc.path)


def _label(tree: Tree, kind: str, way: str) -> str:
    size = f"{tree.nbytes / MiB / 1024:.0f} GiB" if tree.nbytes >= 1024 * MiB else (
        f"{tree.nbytes / MiB:.0f} MiB")  # fmt: skip
    return f"cp -r {way} {size} ({tree.count} files) on {kind}"


def _measured(bench: Bench, tree: Tree, kind: str, way: str, ours: bool, env: dict) -> Measured:
    base = "az://bench" if kind == "az" else f"{kind}://bench"
    remote = f"{base}/up-{'ours' if ours else 'rclone'}"
    peer_path = remote.split("://", 1)[1]
    if way == "up":
        cmd = (
            [bench.cli, "cp", "-r", tree.url, remote, "--profile", f"bench-{kind}"]
            if ours
            else [bench.peers.exes["rclone"], "copy", tree.url, f"own:{peer_path}"]
        )

        def before() -> None:
            _empty(bench, remote)

        def size() -> int:
            return _remote_bytes(bench, remote)

    else:
        dest = bench.work_dir / f"own-down-{kind}-{int(ours)}"
        cmd = (
            [bench.cli, "cp", "-r", f"{base}/mixed", str(dest), "--profile", f"bench-{kind}"]
            if ours
            else [
                bench.peers.exes["rclone"],
                "copy",
                f"own:{base.split('://')[1]}/mixed",
                str(dest),
            ]
        )

        def before() -> None:
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)

        def size() -> int:
            return sum(p.stat().st_size for p in Path(dest).rglob("*") if p.is_file())

    return Measured(
        "jasmin-access cp -r" if ours else "rclone copy",
        cmd,
        env={**bench.ours_env(), **env},
        ours=ours,
        nbytes=tree.nbytes,
        before=before,
        check=arrived(size, tree.nbytes),
    )


def run(bench: Bench) -> list[Row]:
    """Upload then download the mixed file set on each kind, ours then rclone."""
    total = (100 if bench.quick else 1024) * MiB
    tree = mixed_files(bench.data_dir, total)
    rows: list[Row] = []
    with _servers(bench) as servers:
        _profiles(bench, servers)
        for kind in KINDS:
            if kind == "az":
                from jasmin_access.fs import mb

                mb("az://bench", exist_ok=True, profile=_loc(bench, "az://bench").profile)
            source = _loc(bench, f"{'az' if kind == 'az' else kind}://bench/mixed")
            for path in Path(tree.url).rglob("*"):
                if path.is_file():
                    rel = path.relative_to(tree.url).as_posix()
                    target = source.child(rel)
                    source.backend.upload(str(path), target.path, rel)
            peer_env = _rclone_env(bench, kind, servers[kind]) if bench.peers.have("rclone") else {}
            for way in ("up", "down"):
                case = _label(tree, kind, way)
                rows.append(measure(bench, case, _measured(bench, tree, kind, way, True, {})))
                if not peer_env:
                    rows.append(skipped(case, "rclone copy", bench.peers.missing("rclone")))
                    continue
                rows.append(
                    measure(bench, case, _measured(bench, tree, kind, way, False, peer_env))
                )
    return rows


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """No target is set for these: the table shows the ratios to rclone."""
    return []
