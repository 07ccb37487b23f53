"""SFTP servers (HPC login nodes, group servers) through ``sshfs`` (asyncssh).

``sftp://dir/file`` is ``dir/file`` below the profile's ``root`` (default:
the login directory), on ``host:port`` as ``user`` with ``key_file`` or a
password (``secret``)::

    jasmin-access config add hpc --type sftp --host login.example.org --user me \\
        --key-file ~/.ssh/id_ed25519
    jasmin-access convert 'sftp://scratch/run1/*_grid_T.nc' s3://bucket/run1.zarr

The SSH connection lives on fsspec's event loop, so zarr reaches it through
a thread wrapper.  SFTP has no content checksums and (without a shell) no
server-side copy: copies stream, verified by size and MD5 where the other side
offers one.
"""

from __future__ import annotations

import os
from typing import Any

from sshfs import SSHFileSystem

from ..errors import AccessDenied, ConfigError, EndpointUnreachable, JasminAccessError
from .base import Backend, Capabilities, Request, choose_profile, instance
from .generic import FsspecBackend, PicklesByBackend

__all__ = ["JasminSSHFileSystem", "SftpBackend"]


class JasminSSHFileSystem(PicklesByBackend, SSHFileSystem):
    """sshfs's filesystem, pickled by profile (never by password)."""

    protocol = ("sftp", "ssh")


class SftpBackend(FsspecBackend):
    """An SFTP server reached with one profile (``type = "sftp"``)."""

    scheme = "sftp"
    protocol = "sftp"
    url_root = "sftp://"
    caps = Capabilities(directories=True)

    def __init__(self, profile: Any = None, *args: Any) -> None:
        super().__init__(profile, *args)
        self.fs_root = (profile.root or "").rstrip("/") if profile is not None else ""

    @classmethod
    def resolve(cls, scheme: str, text: str, rest: str, request: Request) -> tuple[Backend, str]:
        """``sftp://dir/file`` on the chosen ``sftp`` profile."""
        prof = choose_profile(request, ("sftp",), scheme)
        if not prof.host:
            raise ConfigError(
                f"profile '{prof.name}' has no host",
                f"set it: jasmin-access config add {prof.name} --type sftp --host HOST --user U",
            )
        backend = instance(cls, prof)
        return backend, backend.fs_path(rest)

    @property
    def identity(self) -> str:
        """User, host, port and root (no secret)."""
        prof = self.profile
        assert prof is not None
        return f"sftp:{prof.user or ''}@{prof.host}:{prof.port or 22}/{self.fs_root}"

    def filesystem(self, asynchronous: bool = False) -> JasminSSHFileSystem:
        """One SSH connection (on fsspec's loop) with the profile's key or password."""
        prof = self.profile
        assert prof is not None
        options: dict[str, Any] = {"port": prof.port or 22, "known_hosts": None}
        if prof.user:
            options["username"] = prof.user
        if prof.key_file:
            options["client_keys"] = [os.path.expanduser(prof.key_file)]
        password = prof.password()
        if password:
            options["password"] = password
        where = f"{prof.host}:{prof.port or 22}"
        try:
            return JasminSSHFileSystem(
                prof.host,
                timeout=prof.connect_timeout,
                skip_instance_cache=True,
                jasmin_backend=self,
                **options,
            )
        except PermissionError:
            raise AccessDenied(
                f"the SFTP server {where} refused user '{prof.user}' of profile '{prof.name}'",
                f"check user, key_file or secret (`jasmin-access config show {prof.name}`)",
            ) from None
        except (OSError, TimeoutError) as exc:
            if isinstance(exc, JasminAccessError):
                raise
            raise EndpointUnreachable(
                f"cannot reach the SFTP server {where} ({exc.strerror or exc})",
                f"check host and port in profile '{prof.name}' and your network",
            ) from None

    def async_filesystem(self) -> Any:
        """A thread wrapper: the SSH connection belongs to fsspec's loop."""
        from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

        return AsyncFileSystemWrapper(self.fs, asynchronous=True)

    def rmdir(self, fs_dir: str) -> None:
        """sshfs has no synchronous ``rmdir``: run its coroutine on its loop."""
        from fsspec.asyn import sync

        sync(self.fs.loop, self.fs._rmdir, fs_dir)

    def read_range(self, fs_path: str, start: int, stop: int) -> bytes:
        """Seek and read (sshfs's ``cat_file`` ignores ranges)."""
        with self.fs.open(fs_path, "rb") as f:
            f.seek(start)
            return bytes(f.read(max(stop - start, 0)))

    def fs_path(self, rest: str) -> str:
        """Below ``root`` (absolute), else relative to the login directory."""
        return Backend.fs_path(self, rest.strip("/"))

    def to_url(self, fs_path: str) -> str:
        """``sftp://dir/file`` (relative to ``root``)."""
        return Backend.to_url(self, fs_path)
