"""One resolver from what users type to a backend and a path.

``resolve("s3://bucket/run1")`` returns a :class:`Location`: the backend that
serves the URL's scheme (see :mod:`jasmin_access.backends`), the path on its
filesystem, and the URL to name it back to the user.

Forms accepted (each scheme is a backend; others can be installed):

``s3://bucket/key``
    The bucket on the chosen profile.  With the built-in ``local`` profile
    (the default when nothing else is configured) this is the embedded store.
``local://bucket/key``
    Always the embedded store (a directory used as a flat keyspace).
``https://host/bucket/key`` (and ``http://``)
    A public object URL, path-style; read anonymously and read-only, unless an
    explicitly chosen profile has that host as its endpoint.
``webdav://path``, ``sftp://path``, ``az://container/key``
    Users' own storage, reached with a profile of that type.
``memory://path`` (any fsspec protocol)
    Through the generic fsspec backend.
anything else
    A local path.
"""

from __future__ import annotations

import atexit
import logging
import os
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from . import paths
from .backends import Backend, Capabilities, backend_class
from .backends.base import Request
from .config import Config, Profile
from .errors import InvalidInput

if TYPE_CHECKING:  # imported when first asked for (see __getattr__): fsspec is not needed
    from .localstore import TMP_PREFIX, LocalObjectFileSystem

__all__ = [
    "TMP_PREFIX",
    "LocalObjectFileSystem",
    "Location",
    "resolve",
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


def __getattr__(name: str) -> Any:
    """Names imported when first asked for: the botocore client's and the embedded store's.

    Reading an S3 store needs neither botocore nor fsspec, whose imports cost a
    tenth of a second and more.
    """
    if name in ("JasminS3FileSystem", "s3_config_kwargs", "s3_filesystem"):
        from .backends import s3client

        return getattr(s3client, name)
    if name in ("TMP_PREFIX", "LocalObjectFileSystem"):
        from . import localstore

        return getattr(localstore, name)
    raise AttributeError(name)


@dataclass(frozen=True)
class Location:
    """A resolved place: the backend serving it, the path on it, how to show it.

    Attributes
    ----------
    url
        Canonical URL shown to users (``s3://b/k``, ``local://b/k``,
        ``webdav://dir/f``, ``https://…`` or an absolute local path).
    path
        The path on the backend's filesystem (``bucket/key`` on S3, absolute
        on local backends).
    backend
        The :class:`~jasmin_access.backends.Backend` (capability flags, verbs).
    """

    url: str
    path: str
    backend: Backend

    @property
    def fs(self) -> Any:
        """The backend's shared fsspec filesystem."""
        return self.backend.fs

    @property
    def caps(self) -> Capabilities:
        """What the backend can do."""
        return self.backend.caps

    @property
    def kind(self) -> str:
        """The backend's scheme, for display (callers test :attr:`caps`, not this)."""
        return self.backend.name or self.backend.scheme

    @property
    def profile(self) -> Profile | None:
        """The profile used, if any."""
        return self.backend.profile

    @property
    def profile_name(self) -> str | None:
        """Name of the profile, for messages."""
        return self.backend.profile_name

    @property
    def read_only(self) -> bool:
        """True when nothing can be written here."""
        return self.backend.caps.read_only

    @property
    def fs_root(self) -> str:
        """The fs path of the keyspace root."""
        return self.backend.fs_root

    @property
    def url_root(self) -> str:
        """The URL of the keyspace root."""
        return self.backend.url_root

    @property
    def base(self) -> tuple[str, str]:
        """``(fs_root, url_root)``: the fs path and URL of the keyspace root."""
        return self.fs_root, self.url_root

    def to_url(self, fs_path: str) -> str:
        """Map a path on :attr:`fs` back to a URL in this location's form."""
        return self.backend.to_url(fs_path)

    def child(self, relative_key: str) -> Location:
        """The location of ``relative_key`` below this one."""
        paths.validate_key(relative_key)
        new_path = self.backend.join(self.path, relative_key)
        return replace(self, path=new_path, url=self.to_url(new_path))

    def require_writable(self) -> None:
        """Raise :class:`ReadOnly` for read-only locations."""
        self.backend.require_writable(self.url)

    @property
    def bucket(self) -> str:
        """Bucket name (``""`` on backends without buckets)."""
        return self.backend.split(self.path)[0]

    @property
    def key(self) -> str:
        """Key within the bucket (the whole path on backends without buckets)."""
        return self.backend.split(self.path)[1]

    def zarr_store(self, *, read_only: bool = False) -> Any:
        """A zarr v3 store over this location."""
        return self.backend.zarr_store(self.path, read_only=read_only)

    def __repr__(self) -> str:
        return f"Location({self.url!r}, backend={self.backend.identity!r})"


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
        ``s3://bucket/key``, ``local://bucket/key``, ``webdav://dir/file``,
        ``sftp://dir/file``, ``az://container/key``, ``https://host/bucket/key``
        or a local path.
    profile
        Profile name (or object); a profile of another type than the URL's
        scheme needs is left to the command's other URL, and this one takes
        the default (see :func:`jasmin_access.backends.base.choose_profile`).
    endpoint_url, anon
        Command-line overrides (S3).
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
    cls = backend_class(scheme)
    request = Request(
        profile=profile, endpoint_url=endpoint_url, anon=anon, config=config, write=write
    )
    trailing = rest.endswith("/") and rest.strip("/") != ""
    if cls.caps.local_path and not cls.caps.buckets:  # plain paths: anything the OS takes
        backend, path = cls.resolve(scheme, text, rest, request)
        loc = Location(url=path, path=path, backend=backend)
    else:
        stripped = rest.strip("/")
        if not scheme.startswith("http"):
            _validate(stripped, cls.caps.buckets, scheme)
        backend, path = cls.resolve(scheme, text, stripped, request)
        public = scheme.startswith("http") and backend.caps.read_only
        shown = text if public else backend.to_url(path) + ("/" if trailing else "")
        loc = Location(url=shown, path=path, backend=backend)
    if write:
        loc.require_writable()
    return loc


def _validate(rest: str, buckets: bool, scheme: str) -> None:
    paths.validate_key(rest)  # the bucket too: no "..", NUL or backslash anywhere
    if buckets:
        bucket, key = paths.split_bucket(rest)
        paths.validate_key(key)
        if bucket in ("..", "."):
            raise InvalidInput(
                f"invalid bucket name '{bucket}'", f"name a bucket, e.g. {scheme}://mybucket/"
            )


def new_run_id() -> str:
    """A short unique identifier for one run of a writing command."""
    return uuid.uuid4().hex[:12]


def open_fsspec(location: Location, mode: str = "rb") -> Any:
    """Open the object at ``location`` as a file object."""
    if "r" not in mode:
        location.require_writable()
        return location.backend.open_write(location.path)
    return location.backend.open_read(location.path)


def fsspec_version() -> str:
    """Installed fsspec version (for provenance)."""
    import fsspec

    return str(fsspec.__version__)
