"""WebDAV servers (NextCloud, ownCloud, Apache mod_dav, WsgiDAV) through ``webdav4``.

``webdav://dir/file`` is ``dir/file`` below the profile's ``endpoint_url``
(for NextCloud: ``https://HOST/remote.php/dav/files/USER``), reached as
``user`` with ``secret`` (an app password), e.g.::

    jasmin-access config add nc --type webdav \\
        --endpoint-url https://cloud.example.org/remote.php/dav/files/me --user me --secret-stdin
    jasmin-access cp -r webdav://projects/run1 s3://bucket/run1 -p nc

Directories are real: they are made before writing below them.  Copies
inside one server use WebDAV's COPY.  WebDAV ETags are the server's own tags,
not content checksums: transfers are verified by size and by the MD5 of
what was streamed where the other side offers one.
"""

from __future__ import annotations

from typing import Any

from webdav4.fsspec import WebdavFileSystem

from ..errors import (
    AccessDenied,
    ConfigError,
    EndpointUnreachable,
    QuotaExceeded,
    register_translator,
)
from .base import Backend, Capabilities, Request, choose_profile, instance
from .generic import AutoMkdirMixin, FsspecBackend, PicklesByBackend

__all__ = ["JasminWebdavFileSystem", "WebdavBackend"]


class JasminWebdavFileSystem(PicklesByBackend, AutoMkdirMixin, WebdavFileSystem):
    """webdav4's filesystem that makes directories before writes and pickles by profile."""

    protocol = ("webdav",)


class WebdavBackend(FsspecBackend):
    """A WebDAV server reached with one profile (``type = "webdav"``)."""

    scheme = "webdav"
    protocol = "webdav"
    url_root = "webdav://"
    caps = Capabilities(directories=True, server_side_copy=True)

    @classmethod
    def resolve(cls, scheme: str, text: str, rest: str, request: Request) -> tuple[Backend, str]:
        """``webdav://dir/file`` on the chosen ``webdav`` profile."""
        prof = choose_profile(request, ("webdav",), scheme)
        if not prof.endpoint_url:
            raise ConfigError(
                f"profile '{prof.name}' has no endpoint_url",
                f"set it: jasmin-access config add {prof.name} --type webdav --endpoint-url URL",
            )
        return instance(cls, prof), rest.strip("/")

    @property
    def identity(self) -> str:
        """Server URL and user (no secret)."""
        prof = self.profile
        assert prof is not None
        return f"webdav:{prof.user or ''}@{(prof.endpoint_url or '').rstrip('/')}"

    def filesystem(self, asynchronous: bool = False) -> JasminWebdavFileSystem:
        """A webdav4 filesystem with the profile's user, secret and timeouts."""
        prof = self.profile
        assert prof is not None
        password = prof.password()
        auth = (prof.user or "", password or "") if prof.user or password else None
        return JasminWebdavFileSystem(
            prof.endpoint_url,
            auth=auth,
            timeout=prof.read_timeout,
            retry=True,
            skip_instance_cache=True,
            jasmin_backend=self,
        )

    def fs_path(self, rest: str) -> str:
        """Paths relative to the endpoint."""
        return rest.strip("/")

    def to_url(self, fs_path: str) -> str:
        """``webdav://dir/file``."""
        return self.url_root + fs_path.strip("/")

    def write_stream(self, target: str, reader: Any, size: int) -> None:
        """One streamed PUT from ``reader`` (webdav4's writable files spool to local disk)."""
        self.prepare_parent(target)
        self.fs.upload_fileobj(reader, target, overwrite=True, size=size if size >= 0 else None)

    def describe(self, fs_path: str) -> dict[str, Any]:
        """The content type the server reports."""
        info = self.fs.info(fs_path)
        return {"content_type": info.get("content_type")}


@register_translator
def _translate(exc: BaseException, profile: str | None) -> BaseException | None:
    """webdav4 and httpx errors as the package's errors."""
    name = type(exc).__name__
    module = type(exc).__module__ or ""
    fix = f"`jasmin-access config test {profile}`" if profile else "the profile"
    if name == "HTTPError" and module.startswith("webdav4"):
        status = int(getattr(exc, "status_code", 0))
        if status == 401:
            return AccessDenied(
                f"the WebDAV server refused the user name or password of profile '{profile}'",
                f"check user and secret (an app password on NextCloud); {fix}",
            )
        if status == 403:
            return AccessDenied("the WebDAV server forbids this", f"check your rights; {fix}")
        if status == 507:
            return QuotaExceeded("the WebDAV server is out of space or over quota")
        return None
    if name == "InsufficientStorage" and module.startswith("webdav4"):
        return QuotaExceeded("the WebDAV server is out of space or over quota")
    if module.startswith("httpx") and name in ("ConnectError", "ConnectTimeout"):
        return EndpointUnreachable(
            f"cannot reach the WebDAV server ({exc})",
            f"check endpoint_url in profile '{profile}' and your network ({fix})",
        )
    return None
