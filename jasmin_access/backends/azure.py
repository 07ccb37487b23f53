"""Azure Blob Storage (and Azurite) through ``adlfs``.

``az://container/key`` on the profile's storage ``account``, with its account
key (``secret``) or a ``connection_string``; ``endpoint_url`` names a
non-default blob endpoint (an emulator, a sovereign cloud)::

    jasmin-access config add blob --type azure --account myaccount --secret-stdin
    jasmin-access ls az://container/run1/ -p blob

Containers play the part of buckets.  Blob ETags are opaque: transfers are
verified by size, and by MD5 where the other side offers one.  The client lives
on fsspec's event loop; zarr reaches it through a thread wrapper.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

from adlfs import AzureBlobFileSystem

from ..errors import (
    AccessDenied,
    BucketNotFound,
    ConfigError,
    EndpointUnreachable,
    register_translator,
)
from .base import Backend, Capabilities, Request, choose_profile, instance
from .generic import FsspecBackend, PicklesByBackend

__all__ = ["AzureBackend", "JasminAzureFileSystem"]

# the SDK logs every request and response at INFO: keep -v output about our own work
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)


class JasminAzureFileSystem(PicklesByBackend, AzureBlobFileSystem):
    """adlfs's filesystem, pickled by profile (never by key)."""

    protocol = ("az", "abfs")


class AzureBackend(FsspecBackend):
    """An Azure storage account reached with one profile (``type = "azure"``)."""

    scheme = "az"
    name = "azure"
    protocol = "az"
    url_root = "az://"
    caps = Capabilities(buckets=True, multipart=True)

    @classmethod
    def resolve(cls, scheme: str, text: str, rest: str, request: Request) -> tuple[Backend, str]:
        """``az://container/key`` on the chosen ``azure`` profile."""
        prof = choose_profile(request, ("azure",), scheme)
        if not (prof.account or prof.connection_string or prof.azure_connection_string()):
            raise ConfigError(
                f"profile '{prof.name}' names no storage account",
                f"jasmin-access config add {prof.name} --type azure --account NAME --secret-stdin",
            )
        return instance(cls, prof), rest.strip("/")

    def _account_endpoint(self) -> tuple[str, str]:
        prof = self.profile
        assert prof is not None
        conn = prof.azure_connection_string() or ""
        fields = dict(p.split("=", 1) for p in conn.split(";") if "=" in p)
        account = prof.account or fields.get("AccountName", "")
        endpoint = prof.endpoint_url or fields.get("BlobEndpoint", "")
        return account, endpoint or f"https://{account}.blob.core.windows.net"

    @property
    def identity(self) -> str:
        """Account and endpoint (no key)."""
        account, endpoint = self._account_endpoint()
        return f"az:{account}@{endpoint}"

    def _reachable(self) -> None:
        """Fail at once on a refused or unknown endpoint (the SDK retries it for a minute)."""
        prof = self.profile
        assert prof is not None
        _, endpoint = self._account_endpoint()
        parts = urlsplit(endpoint)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or "", port), prof.connect_timeout).close()
        except OSError as exc:
            raise EndpointUnreachable(
                f"cannot reach the Azure blob endpoint {endpoint} ({exc.strerror or exc})",
                f"check account/endpoint_url in profile '{prof.name}' and your network",
            ) from None

    def filesystem(self, asynchronous: bool = False) -> JasminAzureFileSystem:
        """An adlfs filesystem with the profile's account and key or connection string."""
        prof = self.profile
        assert prof is not None
        self._reachable()
        options: dict[str, Any] = {}
        conn = prof.azure_connection_string()
        key = None if conn else prof.password()
        if not conn and key and prof.endpoint_url:  # a custom endpoint: say it in full
            protocol = prof.endpoint_url.split("://", 1)[0]
            conn = (
                f"DefaultEndpointsProtocol={protocol};AccountName={prof.account};"
                f"AccountKey={key};BlobEndpoint={prof.endpoint_url.rstrip('/')};"
            )
        if conn:
            options["connection_string"] = conn
        else:
            options["account_name"] = prof.account
            if key:
                options["account_key"] = key
            else:
                options["anon"] = True
        return JasminAzureFileSystem(
            skip_instance_cache=True,
            connection_timeout=prof.connect_timeout,
            read_timeout=prof.read_timeout,
            jasmin_backend=self,
            **options,
        )

    def async_filesystem(self) -> Any:
        """A thread wrapper: the client belongs to fsspec's loop."""
        from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

        return AsyncFileSystemWrapper(self.fs, asynchronous=True)

    def fs_path(self, rest: str) -> str:
        """``container/key``."""
        return rest.strip("/")

    def to_url(self, fs_path: str) -> str:
        """``az://container/key``."""
        return self.url_root + fs_path.strip("/")

    def list_buckets(self) -> list[str]:
        """Container names."""
        return sorted(str(p).rstrip("/") for p in self.fs.ls("", detail=False))

    def bucket_exists(self, bucket: str) -> bool:
        """True when the container can be listed (adlfs's ``exists`` assumes so on errors)."""
        self.fs.invalidate_cache(bucket)
        try:
            self.fs.ls(bucket, detail=False)
        except FileNotFoundError:
            return False
        return True

    def make_bucket(self, bucket: str) -> None:
        """Create the container."""
        self.fs.mkdir(bucket)

    def rmdir(self, fs_dir: str) -> None:
        """Remove an empty "directory": its marker blob (``dir/``, or ``dir`` flagged as one)."""
        base = fs_dir.rstrip("/")
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(base + "/")
        self.fs.invalidate_cache()
        try:
            flagged = self.fs.info(base).get("type") == "directory" and not self.fs.ls(base)
        except FileNotFoundError:
            flagged = False
        if flagged:  # adlfs's own form: a blob named like the directory, flagged as one
            self.fs.rm_file(base)
            self.fs.invalidate_cache()

    def describe(self, fs_path: str) -> dict[str, Any]:
        """Content type and user metadata of a blob."""
        info = self.fs.info(fs_path)
        settings = info.get("content_settings") or {}
        return {
            "content_type": settings.get("content_type") if isinstance(settings, dict) else None,
            "metadata": dict(info.get("metadata") or {}),
        }


@register_translator
def _translate(exc: BaseException, profile: str | None) -> BaseException | None:
    """azure-core errors as the package's errors."""
    name = type(exc).__name__
    if not (type(exc).__module__ or "").startswith("azure"):
        return None
    fix = f"`jasmin-access config show {profile}`" if profile else "the profile"
    raw = getattr(exc, "error_code", None)
    code = str(getattr(raw, "value", raw) or "")
    denied = name == "ClientAuthenticationError" or getattr(exc, "status_code", 0) in (401, 403)
    if denied or code in ("AuthenticationFailed", "AuthorizationFailure"):
        return AccessDenied(
            f"the Azure storage account refused the key of profile '{profile}'",
            f"check account and secret (or connection_string); {fix}",
        )
    if code == "ContainerNotFound":
        return BucketNotFound(
            "the Azure container does not exist", "list containers with `jasmin-access ls az://`"
        )
    if name in ("ServiceRequestError", "ServiceRequestTimeoutError"):
        return EndpointUnreachable(
            "cannot reach the Azure blob endpoint",
            f"check account/endpoint_url in profile '{profile}' and your network ({fix})",
        )
    return None
