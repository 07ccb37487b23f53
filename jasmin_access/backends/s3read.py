"""S3 reads and listings through obstore (the Rust ``object_store`` crate).

The read path of an S3 backend (whole and ranged GETs, HEADs, listings and the
zarr store handed to the readers) goes through a compiled client: no botocore,
aiobotocore or aiohttp is imported, each request costs a few microseconds of
Python instead of a millisecond of signing, hooks and XML parsing, and 1,000
listed keys are parsed in Rust.  Writes, multipart uploads and server-side
copies stay on the botocore/s3fs client (:mod:`.s3client`).

One :class:`S3Reader` per ``(profile, credentials, process)`` holds one
obstore ``S3Store`` per bucket.  It pickles by profile (which pickles without
secrets), never by its settings.  When obstore is not installed, or the profile
takes its credentials from an AWS profile (which obstore cannot read),
:func:`reader` returns None and the backend keeps its botocore path.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

from .. import paths
from ..caches import BoundedCache
from ..config import Profile
from ..errors import WrongEndpoint, register_translator
from .capabilities import Obj

try:
    import obstore
    from obstore.store import S3Store
except ImportError:  # pragma: no cover - obstore is a dependency; the botocore path remains
    obstore = None
    S3Store = None

T = TypeVar("T")

__all__ = ["PathNotListable", "S3Reader", "nameable", "reader"]

PAGE_SIZE = 1000
ONCE = {"max_retries": 0}  # the first listing: a refusal of ListObjectsV2 is not retried
STORES_KEPT = 256  # stores (each with its connection pool) kept per reader
WHOLE_REQUEST = timedelta(hours=1)  # a large object on a slow link; stalls end sooner
_CA_VARIABLES = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE")


class PathNotListable(Exception):
    """A listing obstore cannot represent: a key with an empty or ``.`` segment, or a
    zero-byte object that may be a directory marker (``prefix/``, whose slash it drops).

    ``after`` is the last key listed exactly (the botocore path resumes after it).
    """

    def __init__(self, after: str | None) -> None:
        super().__init__(after)
        self.after = after


def _client_options(profile: Profile) -> dict[str, Any]:
    options: dict[str, Any] = {
        "connect_timeout": timedelta(seconds=profile.connect_timeout),
        "read_timeout": timedelta(seconds=profile.read_timeout),  # a stall, as botocore's
        "timeout": WHOLE_REQUEST,
        "pool_max_idle_per_host": str(max(profile.max_concurrency, 64)),
    }
    endpoint = str(profile.resolved_endpoint or "")
    if endpoint.startswith("http://"):
        options["allow_http"] = True
    for var in _CA_VARIABLES:  # botocore's CA bundle variables, read the same way
        bundle = os.environ.get(var)
        if bundle and os.path.isfile(bundle) and endpoint.startswith("https://"):
            with open(bundle, "rb") as fh:
                options["root_certificate"] = fh.read()
            break
    return options


_AWS_HOST = re.compile(r"^https?://s3[.-]([a-z0-9-]+)\.amazonaws\.com")


def _aws_region(endpoint: str) -> str | None:
    """The region an ``s3.<region>.amazonaws.com`` endpoint names."""
    found = _AWS_HOST.match(endpoint)
    return found.group(1) if found and found.group(1) != "external-1" else None


def _settings(profile: Profile, creds: dict[str, str]) -> dict[str, Any]:
    """``S3Store`` settings matching what the botocore client does for the profile."""
    endpoint = str(profile.resolved_endpoint)
    # path style everywhere (AWS still answers it): the bucket is always in the path
    config: dict[str, Any] = {
        "endpoint": endpoint,
        "region": profile.region or _aws_region(endpoint) or "us-east-1",
        "virtual_hosted_style_request": False,
        "skip_signature": bool(profile.anon),
    }
    if not profile.anon:
        config["access_key_id"] = creds["key"]
        config["secret_access_key"] = creds["secret"]
        if creds.get("token"):
            config["session_token"] = creds["token"]
    retry = {
        # botocore's max_attempts counts the first attempt, object_store's retries do not
        "max_retries": max(profile.retries - 1, 0),
        # short sleeps, as botocore's: a refused connection is reported within seconds
        "backoff": {
            "init_backoff": timedelta(milliseconds=50),
            "max_backoff": timedelta(seconds=1),
            "base": 2,
        },
        "retry_timeout": timedelta(seconds=max(180.0, profile.retries * profile.read_timeout)),
    }
    return {"config": config, "client_options": _client_options(profile), "retry_config": retry}


class S3Reader:
    """Reads and listings on one S3 profile, one ``S3Store`` per bucket.

    Pickles by profile name, never by secret: an unpickled reader re-reads the
    credentials from its own config file or environment.
    """

    def __init__(self, profile: Profile, creds: dict[str, str]) -> None:
        self.profile = profile
        self._settings = _settings(profile, creds)
        self._listed = False  # a listing has worked: ListObjectsV2 is answered
        self.v2_refused = False  # 501 to ListObjectsV2: the botocore path lists with v1
        self._stores: BoundedCache[tuple[str, str], Any] = BoundedCache(STORES_KEPT)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpickle, (self.profile,))

    def __repr__(self) -> str:
        return f"S3Reader({self.profile.name}, {self.profile.resolved_endpoint or 'aws'})"

    def store(self, bucket: str, prefix: str = "") -> Any:
        """The obstore ``S3Store`` of ``bucket`` (keys relative to ``prefix``)."""
        return self._stores.get_or_make(
            (bucket, prefix), lambda: S3Store(bucket, prefix=prefix or None, **self._settings)
        )

    # ------------------------------------------------------------------ reads

    def get(self, fs_path: str) -> bytes:
        """The whole object (one GET)."""
        bucket, key = paths.split_bucket(fs_path)
        return bytes(_again(lambda: obstore.get(self.store(bucket), key).bytes()))

    def get_range(self, fs_path: str, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` (one ranged GET)."""
        if stop <= start:
            return b""
        bucket, key = paths.split_bucket(fs_path)
        store = self.store(bucket)
        return bytes(_again(lambda: obstore.get_range(store, key, start=start, end=stop)))

    def tail(self, fs_path: str, length: int) -> tuple[int, bytes]:
        """The object's size and its last ``length`` bytes (one suffix-range GET)."""
        bucket, key = paths.split_bucket(fs_path)

        def read() -> tuple[int, bytes]:
            got = obstore.get(self.store(bucket), key, options={"range": {"suffix": length}})
            return int(got.meta["size"]), bytes(got.bytes())

        return tuple(_again(read))  # type: ignore[return-value]

    def head(self, fs_path: str) -> Obj:
        """The object's size, time and ETag (one HEAD)."""
        bucket, key = paths.split_bucket(fs_path)
        meta = obstore.head(self.store(bucket), key)
        return Obj(fs_path, int(meta["size"]), meta.get("last_modified"), _etag(meta))

    # ------------------------------------------------------------------ listings

    def _listing(self, bucket: str, call: Callable[[Any], T]) -> T:
        """``call(store)`` for a listing; :class:`PathNotListable` where only v1 lists.

        Some gateways answer ListObjectsV2 with 501 NotImplemented (botocore
        then lists with v1).  Until one listing has worked, listings go to a
        store that does not retry, so such a server costs one refused request.
        """
        if self.v2_refused:
            raise PathNotListable(None)
        if self._listed:
            return call(self.store(bucket))
        probe = self._stores.get_or_make(
            (bucket, "\0once"), lambda: S3Store(bucket, **{**self._settings, "retry_config": ONCE})
        )
        try:
            found = call(probe)
        except obstore.exceptions.InvalidPathError:
            raise
        except Exception as exc:
            if "<Code>NotImplemented</Code>" in str(exc):
                self.v2_refused = True
                raise PathNotListable(None) from None
            found = call(self.store(bucket))  # any other failure: again, with retries
        self._listed = True
        return found

    def level(
        self, bucket: str, prefix: str, markers: bool = False
    ) -> tuple[list[Obj], list[str]] | None:
        """Objects and sub-prefixes one level below ``prefix`` (which ends in ``/``).

        The prefix's own directory marker comes back (as ``prefix/``) only with
        ``markers``: obstore names it without its slash, the prefix itself.
        None when a key there has a name obstore cannot represent.
        """
        try:
            found = self._listing(
                bucket, lambda st: obstore.list_with_delimiter(st, prefix or None)
            )
        except (obstore.exceptions.InvalidPathError, PathNotListable):
            return None
        if not found["objects"] and not found["common_prefixes"]:
            return None  # botocore confirms it: obstore reads a web page as an empty listing
        own = prefix.rstrip("/")
        objs = []
        for meta in found["objects"]:
            if meta["path"] == own:
                if markers:
                    objs.append(Obj(f"{bucket}/{own}/", 0, meta.get("last_modified"), None))
                continue
            objs.append(_obj(bucket, meta))
        return objs, [f"{bucket}/{p}" for p in found["common_prefixes"]]

    def exists(self, bucket: str, prefix: str) -> bool | None:
        """True when an object is stored below ``prefix``; None when botocore must tell."""
        try:
            return True if next(self.flat(bucket, prefix), []) else None
        except PathNotListable:
            return None

    def flat(self, bucket: str, prefix: str) -> Iterator[list[Obj]]:
        """Every object below ``prefix``, a page at a time (no delimiter).

        Raises
        ------
        PathNotListable
            At the first page obstore cannot represent exactly; ``after`` is
            the last key of the pages already yielded.  Also for an empty
            listing, which the botocore path confirms (obstore reads a web
            page as an empty listing).
        """
        last: str | None = None

        def first_page(store: Any) -> list[Any]:
            return next(obstore.list(store, prefix or None, chunk_size=PAGE_SIZE), [])

        try:
            page = self._listing(bucket, first_page)
        except obstore.exceptions.InvalidPathError:
            raise PathNotListable(None) from None
        stream = iter([page])
        if len(page) == PAGE_SIZE:  # more: on the store that retries, after the first page
            rest = obstore.list(
                self.store(bucket), prefix or None, offset=page[-1]["path"], chunk_size=PAGE_SIZE
            )
            stream = itertools.chain(stream, rest)
        elif not page:
            raise PathNotListable(None)
        while True:
            try:
                page = next(stream)
            except StopIteration:
                if last is None:
                    raise PathNotListable(None) from None
                return
            except obstore.exceptions.InvalidPathError:
                raise PathNotListable(last) from None
            if any(int(meta["size"]) == 0 for meta in page):
                raise PathNotListable(last)
            if page:
                last = page[-1]["path"]
                yield [_obj(bucket, meta) for meta in page]


BODY_RETRIES = 3  # as s3fs's outer loop: object_store retries requests, not cut bodies


def cut_body(exc: BaseException) -> bool:
    """True for an answer whose body was cut off (object_store does not retry those)."""
    text = str(exc)
    return "body error" in text or "IncompleteBody" in text or "kind: Interrupted" in text


def _again(read: Any) -> Any:
    """``read()``, repeated when the answer's body is cut off."""
    for attempt in range(BODY_RETRIES + 1):
        try:
            return read()
        except Exception as exc:
            if attempt == BODY_RETRIES or not cut_body(exc):
                raise
    raise AssertionError("unreachable")


def nameable(key: str) -> bool:
    """True when obstore can name ``key`` exactly (no empty, ``.`` or ``..`` segment)."""
    return all(part not in ("", ".", "..") for part in key.split("/"))


def _etag(meta: Any) -> str | None:
    raw = meta.get("e_tag")
    return raw.strip('"') if raw else None


def _obj(bucket: str, meta: Any) -> Obj:
    path, mtime = f"{bucket}/{meta['path']}", meta.get("last_modified")
    return Obj(path, int(meta["size"]), mtime, _etag(meta))


def credential_key(profile: Profile | None) -> tuple[Any, ...]:
    """The profile's resolved credentials (environment variables may change them)."""
    return tuple(sorted(profile.credentials().items())) if profile else ()


def _unpickle(profile: Profile) -> S3Reader | None:
    return reader(profile, credential_key(profile))


_readers: BoundedCache[tuple[Any, ...], S3Reader] = BoundedCache(32)
_started_in: int | None = None  # the process in which obstore's runtime may have started


def reader(profile: Profile, creds: tuple[Any, ...]) -> S3Reader | None:
    """The reader of ``profile`` in this process; None where the botocore path must serve.

    ``creds`` is the backend's credential key (the resolved credentials), so
    a change of environment variables gives a new reader.  obstore's runtime
    does not survive ``fork``: a process forked after its parent used obstore
    reads through botocore (as ``multiprocessing``'s fork workers do); one
    forked before keeps obstore.
    """
    global _started_in
    found, pid = dict(creds), os.getpid()
    if obstore is None or "profile" in found:  # an AWS profile: only botocore reads those
        return None
    if not profile.resolved_endpoint:
        return None  # AWS itself: botocore follows a bucket's region redirect, obstore does not
    if not found.get("token") and (
        os.environ.get("AWS_SESSION_TOKEN") or os.environ.get("AWS_TOKEN")
    ):
        return None  # obstore would add a token left in the environment to the profile's keys
    if not profile.anon and not (found.get("key") and found.get("secret")):
        return None
    if _started_in not in (None, pid):
        return None  # forked after obstore started: its runtime's threads are not in this copy
    _started_in = pid
    return _readers.get_or_make((profile, creds, pid), lambda: S3Reader(profile, found))


# --------------------------------------------------------------------------- errors

_CODE = re.compile(r"<Code>([^<]+)</Code>")
_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")
_STATUS = re.compile(r"non-2xx status code: (\d{3})")
_URI = re.compile(r"Error performing ([A-Z]+) (https?://\S+)")


class S3Answer(Exception):
    """An S3 error answer read by obstore, in the form the common error rules read."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.response = {"Error": {"Code": code, "Message": message}}


class Unreachable(OSError):
    """A connection obstore could not make, naming the endpoint."""

    def __init__(self, endpoint: str | None) -> None:
        super().__init__(errno.ECONNREFUSED, f"cannot connect to {endpoint or 'the endpoint'}")
        self.kwargs = {"endpoint_url": endpoint}


def _endpoint(text: str) -> tuple[str | None, str | None]:
    """The method and ``scheme://host:port`` of the request an obstore error names."""
    found = _URI.search(text)
    if found is None:
        return None, None
    method, url = found.groups()
    parts = url.split("/", 3)
    return method, "/".join(parts[:3]) if len(parts) >= 3 else url


@register_translator
def _translate(exc: BaseException, profile: str | None) -> BaseException | None:
    """obstore's errors as S3 answers, builtin errors or :class:`WrongEndpoint`."""
    if obstore is None or not isinstance(exc, (obstore.exceptions.BaseError, OSError)):
        return None
    text = str(exc)
    if "Error performing" not in text and "Generic S3 error" not in text:
        return None
    code = _CODE.search(text)
    if code is not None:
        message = _MESSAGE.search(text)
        return S3Answer(code.group(1), message.group(1) if message else "")
    method, endpoint = _endpoint(text)
    status = _STATUS.search(text)
    if status is None:
        lowered = text.lower()
        if "kind: connect" in lowered or "dns error" in lowered or "connection refused" in lowered:
            return Unreachable(endpoint)
        if "timed out" in lowered or "kind: timeout" in lowered:
            return TimeoutError(f"timed out talking to {endpoint or 'the endpoint'}")
        if "pars" in lowered or "deserializ" in lowered or "xml" in lowered:
            return _wrong_endpoint(endpoint, profile, "its answer is not S3 XML")
        return None
    value = int(status.group(1))
    if value in (401, 403):
        return PermissionError(errno.EACCES, f"HTTP {value}")
    if value >= 500:
        return S3Answer(str(value), f"HTTP {value}")
    if value == 404 and method == "HEAD":
        return FileNotFoundError(errno.ENOENT, "HTTP 404")
    return _wrong_endpoint(endpoint, profile, f"HTTP {value} without an S3 error code")


def _wrong_endpoint(endpoint: str | None, profile: str | None, why: str) -> WrongEndpoint:
    return WrongEndpoint(
        f"{endpoint or 'the endpoint'} did not answer like an S3 store ({why})",
        f"check endpoint_url in profile '{profile}' (`jasmin-access config show {profile}`)"
        if profile
        else "check the endpoint URL",
    )
