"""The S3 client: s3fs with a profile attached, and the one factory that builds it.

The client checks that an endpoint answers like an S3 store, stops retrying
refused connections early, and reads timestamps with the standard library;
it pickles by profile name, so tasks sent to workers carry no secret.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import s3fs

from ..config import Profile
from ..errors import WrongEndpoint

__all__ = ["JasminS3FileSystem", "parse_time", "s3_config_kwargs", "s3_filesystem"]

S3FS_RETRIES = 3
FAST_FAIL_ATTEMPTS = 2
_LIST_FIELDS = {
    "ListBuckets": ("Buckets", "Owner"),
    "ListObjectsV2": ("Name", "IsTruncated", "KeyCount", "Contents", "CommonPrefixes"),
    "ListObjects": ("Name", "IsTruncated", "Marker", "Contents", "CommonPrefixes"),
}


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
            # not a bound method: the client must not keep the filesystem alive (s3fs's
            # finalizer holds the client, so the filesystem would never be freed)
            check = functools.partial(_check_answer, self.endpoint_url, self.jasmin_profile)
            client.meta.events.register("after-call.s3", check)
            client.meta.events.register_first("needs-retry.s3", _fail_fast)
            client._jasmin_checked = True
        return client

    def __reduce__(self) -> tuple[Any, ...]:
        if self.jasmin_profile is None:
            return super().__reduce__()
        # Profile pickles without credentials and re-reads them when unpickled
        return (s3_filesystem, (self.jasmin_profile, bool(self.asynchronous)))


def _check_answer(
    endpoint_url: str | None,
    prof: Profile | None,
    http_response: Any,
    parsed: dict[str, Any],
    model: Any,
    **_: Any,
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
    raise WrongEndpoint(
        f"{endpoint_url} did not answer like an S3 store ({name}: HTTP {status}, {content_type})",
        f"check endpoint_url in profile '{prof.name}' (`jasmin-access config show {prof.name}`)"
        if prof
        else "check the endpoint URL",
    )


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


def s3_filesystem(
    profile: Profile, asynchronous: bool = False, md5_bodies: bool = False
) -> JasminS3FileSystem:
    """A new s3fs filesystem for an S3 profile (the one S3 client factory).

    Parameters
    ----------
    asynchronous
        For use from the caller's own event loop (zarr's ``FsspecStore``):
        zarr issues many requests at once itself, so the connection pool is
        larger and s3fs does not split whole-object GETs into ranges.
    md5_bodies
        For callers that send every request body with its ``Content-MD5`` (the
        transfer engine): the payload is then not SHA-256-signed, which over
        plain http is a second pass over every byte on the event loop.
    """
    config = s3_config_kwargs(profile)
    if asynchronous:
        config["max_pool_connections"] = max(profile.max_concurrency, 64)
    if md5_bodies:
        config["s3"] = {**config.get("s3", {}), "payload_signing_enabled": False}
    client: dict[str, Any] = {"region_name": profile.region} if profile.region else {}
    if str(profile.resolved_endpoint or "").startswith("http://"):
        client["verify"] = False  # plain HTTP has no certificate: skip loading the CA bundle
    fs = JasminS3FileSystem(
        anon=profile.anon,
        endpoint_url=profile.resolved_endpoint,
        client_kwargs=client,
        config_kwargs=config,
        # with max_concurrency > 1 s3fs adds a HEAD before every whole-object GET
        max_concurrency=1 if asynchronous else profile.max_concurrency,
        skip_instance_cache=True,
        asynchronous=asynchronous,
        jasmin_profile=profile,
        session=_aio_session(),
        **profile.credentials(),
    )
    # botocore retries each request ``profile.retries`` times (5xx, SlowDown, resets);
    # s3fs wraps every call in a second loop, mainly for truncated bodies.  Multiplying
    # the two would turn a dead endpoint into minutes of retrying: keep the outer small.
    fs.retries = min(max(profile.retries, 1), S3FS_RETRIES)
    return fs


_LOADER: list[Any] = []  # botocore's data loader, shared by every session of the process


def _aio_session() -> Any:
    """An aiobotocore session whose answers' timestamps are read by the standard library.

    botocore's default (dateutil) costs ~40 µs a timestamp: most of the client
    CPU of listing 20,000 keys (``du``, ``ls -R``, the plan of ``cp -r``).
    The sessions share one data loader: each would otherwise parse and keep its
    own copy of the S3 service model (~12 MB per client, and its CPU time).
    """
    from aiobotocore.session import AioSession

    session = AioSession()
    if not _LOADER:
        _LOADER.append(session.get_component("data_loader"))
    session.register_component("data_loader", _LOADER[0])
    factory = session.get_component("response_parser_factory")
    factory.set_parser_defaults(timestamp_parser=parse_time)
    return session


def parse_time(value: str) -> Any:
    """An S3 timestamp as a ``datetime`` (ISO 8601 fast; other forms as botocore reads them)."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is not None and parsed.tzinfo is not None:
        return parsed
    from botocore.utils import parse_timestamp

    return parse_timestamp(value)
