"""One resolver from what users type to a filesystem and a path.

``resolve("s3://bucket/run1")`` returns a :class:`Location`: an fsspec
filesystem, the path on it, and enough context (profile, kind, URL form) to
name it back to the user and to open it with zarr.

Forms accepted:

``s3://bucket/key``
    The bucket on the chosen profile.  With the built-in ``local`` profile
    (the default when nothing else is configured) this is the embedded store.
``local://bucket/key``
    Always the embedded store (a directory used as a flat keyspace).
``https://host/bucket/key`` (and ``http://``)
    A public object URL, path-style; read anonymously and read-only, unless an
    explicitly chosen profile has that host as its endpoint.
anything else
    A local path.
"""

from __future__ import annotations

import atexit
import logging
import os
import uuid
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import fsspec
import s3fs

from . import paths
from .config import Config, Profile, get_profile
from .errors import InvalidInput, ReadOnly, WrongEndpoint
from .localstore import TMP_PREFIX, LocalObjectFileSystem

__all__ = [
    "TMP_PREFIX",
    "JasminS3FileSystem",
    "LocalObjectFileSystem",
    "Location",
    "resolve",
    "s3_config_kwargs",
    "s3_filesystem",
]

log = logging.getLogger(__name__)


def _quiet_exit_time_sessions() -> None:
    """Silence aiohttp's "Unclosed client session" reports at interpreter exit.

    Async S3 clients handed to zarr live for the whole process; their sockets are
    closed by the OS at exit, and aiohttp's complaint about it (through the
    ``asyncio`` logger, during teardown) is noise, not a problem to report.
    """
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


atexit.register(_quiet_exit_time_sessions)

Kind = Literal["s3", "store", "local", "https"]


# --------------------------------------------------------------------------- S3


class JasminS3FileSystem(s3fs.S3FileSystem):
    """s3fs with a profile attached; pickles by profile name, never by secret.

    A worker that unpickles it re-reads the credentials from its own config
    file or environment, so task graphs sent to a cluster carry no secret.
    """

    def __init__(self, *args: Any, jasmin_profile: Profile | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jasmin_profile = jasmin_profile

    async def set_session(self, refresh: bool = False, kwargs: dict[str, Any] | None = None) -> Any:
        """Create the botocore client and attach the answer check to it."""
        client = await super().set_session(refresh=refresh, kwargs=kwargs or {})
        if getattr(client, "_jasmin_checked", False) is not True:
            client.meta.events.register("after-call.s3", self._check_answer)
            client.meta.events.register_first("needs-retry.s3", _fail_fast)
            client._jasmin_checked = True
        return client

    def _check_answer(
        self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any
    ) -> None:
        """Raise :class:`WrongEndpoint` when the endpoint is not an S3 store.

        A web server (or a captive portal) answers listings with HTML: a 200
        whose body has none of the listing fields, or an error without an S3
        error code.  Object reads are not checked (objects can be HTML).
        """
        status = int(http_response.status_code)
        name = str(model.name)
        content_type = str(http_response.headers.get("content-type", "no content type"))
        if status < 300:
            expected = _LIST_FIELDS.get(name)
            if expected is None or any(k in parsed for k in expected) or "xml" in content_type:
                return  # an empty XML listing may omit every optional field
        elif name.startswith("Head") or status in (401, 403) or status >= 500:
            return
        else:
            code = str((parsed.get("Error") or {}).get("Code") or "")
            if code and not code.isdigit():
                return
        prof = self.jasmin_profile
        raise WrongEndpoint(
            f"{self.endpoint_url} did not answer like an S3 store "
            f"({name}: HTTP {status}, {content_type})",
            f"check endpoint_url in profile '{prof.name}' (`jasmin-access config show {prof.name}`)"
            if prof
            else "check the endpoint URL",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        if self.jasmin_profile is None:
            return super().__reduce__()
        # Profile pickles without credentials and re-reads them when unpickled
        return (_rebuild_s3, (self.jasmin_profile, bool(self.asynchronous)))


def _rebuild_s3(profile: Profile, asynchronous: bool) -> JasminS3FileSystem:
    return s3_filesystem(profile, asynchronous=asynchronous)


def _fail_fast(caught_exception: BaseException | None = None, attempts: int = 0, **_: Any) -> None:
    """Stop retrying a refused connection or an unknown host after a few attempts.

    botocore retries connection errors like 5xx answers, with growing sleeps:
    with ``retries = 10`` a mistyped port would take a minute to report.
    Timeouts and 5xx answers keep the profile's full retry budget.
    """
    if caught_exception is None or attempts < FAST_FAIL_ATTEMPTS:
        return
    err = getattr(caught_exception, "kwargs", {}).get("error")
    os_err = getattr(err, "os_error", None)
    refused = isinstance(os_err, ConnectionRefusedError) or isinstance(err, ConnectionRefusedError)
    if refused or type(err).__name__ == "ClientConnectorDNSError":
        raise caught_exception


_LIST_FIELDS = {
    "ListBuckets": ("Buckets", "Owner"),
    "ListObjectsV2": ("Name", "IsTruncated", "KeyCount", "Contents", "CommonPrefixes"),
    "ListObjects": ("Name", "IsTruncated", "Marker", "Contents", "CommonPrefixes"),
}
S3FS_RETRIES = 3
FAST_FAIL_ATTEMPTS = 2


def s3_config_kwargs(profile: Profile) -> dict[str, Any]:
    """botocore ``Config`` settings for a profile (retries, timeouts, addressing)."""
    config: dict[str, Any] = {
        "retries": {"max_attempts": profile.retries, "mode": "standard"},
        "connect_timeout": profile.connect_timeout,
        "read_timeout": profile.read_timeout,
        "max_pool_connections": max(profile.max_concurrency, 10),
    }
    endpoint = profile.resolved_endpoint
    if endpoint and "amazonaws.com" not in endpoint:
        config["s3"] = {"addressing_style": "path"}
        config["request_checksum_calculation"] = "when_required"
        config["response_checksum_validation"] = "when_required"
    if profile.anon:
        from botocore import UNSIGNED

        config["signature_version"] = UNSIGNED
    return config


def s3_filesystem(profile: Profile, *, asynchronous: bool = False) -> JasminS3FileSystem:
    """Build (or reuse) the s3fs filesystem for an S3 profile.

    Parameters
    ----------
    profile
        An S3 profile.
    asynchronous
        Build a new instance for use from the caller's own event loop (zarr's
        ``FsspecStore``); synchronous instances are cached and shared.
    """
    creds = tuple(sorted(profile.credentials().items()))
    if asynchronous:
        return _new_s3(profile, creds, asynchronous=True)
    return _cached_s3(profile, creds)


@lru_cache(maxsize=32)
def _cached_s3(profile: Profile, creds: tuple[tuple[str, str], ...]) -> JasminS3FileSystem:
    return _new_s3(profile, creds)


def _new_s3(
    profile: Profile, creds: tuple[tuple[str, str], ...], asynchronous: bool = False
) -> JasminS3FileSystem:
    kwargs: dict[str, Any] = dict(creds)
    fs = JasminS3FileSystem(
        anon=profile.anon,
        endpoint_url=profile.resolved_endpoint,
        client_kwargs={"region_name": profile.region} if profile.region else {},
        config_kwargs=s3_config_kwargs(profile),
        # zarr issues many requests at once itself; with max_concurrency > 1 s3fs would
        # add a HEAD before every whole-object GET to split it into ranges
        max_concurrency=1 if asynchronous else profile.max_concurrency,
        skip_instance_cache=True,
        asynchronous=asynchronous,
        jasmin_profile=profile,
        **kwargs,
    )
    # botocore retries each request ``profile.retries`` times (5xx, SlowDown, resets);
    # s3fs wraps every call in a second loop, mainly for truncated bodies.  Multiplying
    # the two would turn a dead endpoint into minutes of retrying: keep the outer small.
    fs.retries = min(max(profile.retries, 1), S3FS_RETRIES)
    return fs


@lru_cache(maxsize=8)
def _local_store_fs(root: str) -> LocalObjectFileSystem:
    return LocalObjectFileSystem(root)


@lru_cache(maxsize=1)
def _plain_local_fs() -> LocalObjectFileSystem:
    return LocalObjectFileSystem("/")


# --------------------------------------------------------------------------- Location


@dataclass(frozen=True)
class Location:
    """A resolved place: filesystem, path on it, and how to show it.

    Attributes
    ----------
    url
        Canonical URL shown to users (``s3://b/k``, ``local://b/k``, ``https://…``
        or an absolute local path).
    fs
        The fsspec filesystem.
    path
        The path on ``fs`` (``bucket/key`` on S3, absolute on local backends).
    kind
        ``"s3"``, ``"store"`` (embedded local store), ``"local"`` or ``"https"``.
    profile
        The profile used, if any.
    read_only
        True for anonymous https URLs.
    """

    url: str
    fs: Any
    path: str
    kind: Kind
    profile: Profile | None = None
    read_only: bool = False
    fs_root: str = ""
    url_root: str = "s3://"

    @property
    def profile_name(self) -> str | None:
        """Name of the profile, for messages."""
        return self.profile.name if self.profile else None

    @property
    def base(self) -> tuple[str, str]:
        """``(fs_root, url_root)``: the fs path and URL of the keyspace root."""
        return self.fs_root, self.url_root

    def to_url(self, fs_path: str) -> str:
        """Map a path on :attr:`fs` back to a URL in this location's form."""
        fs_root, url_root = self.base
        if self.kind == "local":
            return fs_path
        rel = fs_path[len(fs_root) :].lstrip("/") if fs_root else fs_path.lstrip("/")
        if self.kind == "https":  # a usable object URL: percent-encode the key
            bucket, key = paths.split_bucket(rel)
            return url_root + paths.join(bucket, quote(key, safe="/")) if key else url_root + rel
        return url_root + rel

    def child(self, relative_key: str) -> Location:
        """The location of ``relative_key`` below this one."""
        paths.validate_key(relative_key)
        if self.kind == "local":
            new_path = str(Path(self.path) / relative_key)
        elif self.kind == "store":  # absolute directory path: keep the leading /
            new_path = "/" + paths.join(self.path, relative_key)
        else:
            new_path = paths.join(self.path, relative_key)
        return replace(self, path=new_path, url=self.to_url(new_path))

    def require_writable(self) -> None:
        """Raise :class:`ReadOnly` for read-only locations."""
        if self.read_only:
            raise ReadOnly(
                f"{self.url} is a read-only public URL",
                "write through an s3:// URL with a profile that has credentials",
            )

    @property
    def bucket(self) -> str:
        """Bucket name (``""`` for plain local paths)."""
        if self.kind == "local":
            return ""
        fs_root, _ = self.base
        rel = self.path[len(fs_root) :].lstrip("/") if fs_root else self.path
        return paths.split_bucket(rel)[0]

    @property
    def key(self) -> str:
        """Key within the bucket (``""`` at the bucket root)."""
        if self.kind == "local":
            return self.path
        fs_root, _ = self.base
        rel = self.path[len(fs_root) :].lstrip("/") if fs_root else self.path
        return paths.split_bucket(rel)[1]

    def zarr_store(self, *, read_only: bool = False) -> Any:
        """A zarr v3 store over this location."""
        import zarr.storage

        if self.kind in ("store", "local"):
            return zarr.storage.LocalStore(self.path, read_only=read_only)
        # zarr drives the filesystem from its own event loop: give it an async instance
        fs = s3_filesystem(self.profile, asynchronous=True) if self.profile else self.fs
        return zarr.storage.FsspecStore(
            fs=fs, path=self.path, read_only=read_only or self.read_only
        )

    def __repr__(self) -> str:
        return f"Location({self.url!r}, kind={self.kind!r}, profile={self.profile_name!r})"


def _split_scheme(url: str) -> tuple[str, str]:
    if "://" in url:
        scheme, rest = url.split("://", 1)
        return scheme.lower(), rest
    return "", url


def resolve(
    url: str | os.PathLike[str],
    *,
    profile: str | Profile | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    write: bool = False,
    config: Config | None = None,
) -> Location:
    """Resolve a URL or path to a :class:`Location`.

    Parameters
    ----------
    url
        ``s3://bucket/key``, ``local://bucket/key``, ``https://host/bucket/key``
        or a local path.
    profile
        Profile name (or object) for ``s3://`` URLs; defaults as in
        :func:`jasmin_access.config.get_profile`.
    endpoint_url, anon
        Command-line overrides.
    write
        Raise :class:`ReadOnly` now if the location cannot be written.

    Raises
    ------
    InvalidInput
        For unsupported schemes or keys that try to escape a store.
    """
    text = os.fspath(url)
    if not text:
        raise InvalidInput("empty URL", "give s3://bucket/key, a local path or an https:// URL")
    scheme, rest = _split_scheme(text)
    if scheme == "s3":
        prof = (
            profile
            if isinstance(profile, Profile)
            else get_profile(profile, endpoint_url=endpoint_url, anon=anon, config=config)
        )
        loc = _resolve_keyspace(rest, prof)
    elif scheme == "local":
        prof = get_profile("local", config=config)
        loc = _resolve_keyspace(rest, prof)
    elif scheme in ("http", "https"):
        loc = _resolve_http(text, profile, config)
    elif scheme in ("", "file"):
        path = str(Path(rest).expanduser().resolve())
        loc = Location(url=path, fs=_plain_local_fs(), path=path, kind="local", url_root="")
    else:
        raise InvalidInput(
            f"unsupported URL scheme '{scheme}://' in {text}",
            "use s3://bucket/key, local://bucket/key, https://… or a local path",
        )
    if write:
        loc.require_writable()
    return loc


def _resolve_keyspace(rest: str, prof: Profile) -> Location:
    trailing = rest.endswith("/") and rest.strip("/") != ""
    rest = rest.strip("/")
    bucket, key = paths.split_bucket(rest)
    paths.validate_key(rest)  # the bucket too: no "..", NUL or backslash anywhere
    paths.validate_key(key)
    if bucket in ("..", "."):
        raise InvalidInput(f"invalid bucket name '{bucket}'", "name a bucket, e.g. s3://mybucket/")
    if prof.is_local:
        root = str(prof.local_root())
        fs = _local_store_fs(root)
        path = str(Path(root, rest)) if rest else root
        url = "local://" + rest + ("/" if trailing else "")
        return Location(
            url=url, fs=fs, path=path, kind="store", profile=prof, fs_root=root, url_root="local://"
        )
    fs = s3_filesystem(prof)
    url = "s3://" + rest + ("/" if trailing else "")
    return Location(url=url, fs=fs, path=rest, kind="s3", profile=prof)


def _resolve_http(text: str, profile: str | Profile | None, config: Config | None) -> Location:
    parts = urlsplit(text)
    endpoint = f"{parts.scheme}://{parts.netloc}"
    rest = unquote(parts.path).strip("/")  # object URLs are percent-encoded
    paths.validate_key(rest)
    if profile is not None:
        prof = profile if isinstance(profile, Profile) else get_profile(profile, config=config)
        if prof.resolved_endpoint and urlsplit(prof.resolved_endpoint).netloc == parts.netloc:
            fs = s3_filesystem(prof)
            return Location(url="s3://" + rest, fs=fs, path=rest, kind="s3", profile=prof)
    prof = Profile(name="public", endpoint_url=endpoint, anon=True, source="env")
    fs = s3_filesystem(prof)
    return Location(
        url=text,
        fs=fs,
        path=rest,
        kind="https",
        profile=prof,
        read_only=True,
        url_root=endpoint + "/",
    )


def new_run_id() -> str:
    """A short unique identifier for one run of a writing command."""
    return uuid.uuid4().hex[:12]


def open_fsspec(location: Location, mode: str = "rb") -> Any:
    """Open the object at ``location`` as a file object."""
    if "r" not in mode:
        location.require_writable()
    return location.fs.open(location.path, mode)


def fsspec_version() -> str:
    """Installed fsspec version (for provenance)."""
    return str(fsspec.__version__)
