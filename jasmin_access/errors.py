"""Errors raised by jasmin_access, and the one place backend errors are translated.

Every error has a one-line message naming the cause, and usually a ``hint``
naming the fix.  Each subclass also inherits the matching builtin so callers
can write ``except FileNotFoundError`` without knowing about this package.

Backend errors (botocore, aiohttp, s3fs's translated ``OSError``) are turned
into these classes by :func:`translate` and the :func:`translating` context
manager; nowhere else in the package inspects botocore error codes.
"""

from __future__ import annotations

import errno
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "BucketNotFound",
    "ConfigError",
    "CredentialsMissing",
    "EndpointUnreachable",
    "IntegrityError",
    "InvalidInput",
    "JasminAccessError",
    "NotFound",
    "NotSupported",
    "PartialFailure",
    "ProfileNotFound",
    "QuotaExceeded",
    "ReadOnly",
    "ServiceUnavailable",
    "WrongEndpoint",
    "redact",
    "register_translator",
    "translate",
    "translating",
]


class JasminAccessError(Exception):
    """Root of every error raised by jasmin_access.

    Parameters
    ----------
    message
        What went wrong, in one line.
    hint
        How to fix it, in one line (optional).
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = redact(message)
        self.hint = redact(hint) if hint else None
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.hint))


class NotFound(JasminAccessError, FileNotFoundError):
    """An object, prefix, file or store does not exist."""


class BucketNotFound(NotFound):
    """The bucket named in a URL does not exist."""


class AlreadyExists(JasminAccessError, FileExistsError):
    """The destination exists and overwriting was not asked for."""


class AccessDenied(JasminAccessError, PermissionError):
    """The store refused the request (bad or expired key, no rights)."""


class CredentialsMissing(AccessDenied):
    """No credentials could be found for a profile that needs them."""


class ReadOnly(JasminAccessError, PermissionError):
    """A write was attempted on a read-only location (https URLs)."""


class QuotaExceeded(JasminAccessError, OSError):
    """The tenancy is over its quota; writes are refused."""


class ConfigError(JasminAccessError, ValueError):
    """The configuration file or a profile is invalid."""


class ProfileNotFound(ConfigError, KeyError):
    """A profile name that is not in the configuration."""

    def __str__(self) -> str:  # KeyError would quote the message
        return JasminAccessError.__str__(self)


class InvalidInput(JasminAccessError, ValueError):
    """An input file, URL, option or dataset is not acceptable."""


class EndpointUnreachable(JasminAccessError, ConnectionError):
    """The endpoint could not be reached (DNS, refused, timeout)."""


class WrongEndpoint(JasminAccessError, ConnectionError):
    """The endpoint answered, but not like an S3 store (a web page, a proxy)."""


class ServiceUnavailable(JasminAccessError, ConnectionError):
    """The store kept answering 5xx / SlowDown after all retries."""


class IntegrityError(JasminAccessError, OSError):
    """Data read back does not match what was written (checksum, size)."""


class NotSupported(JasminAccessError, NotImplementedError):
    """A verb the storage kind in use does not offer (e.g. buckets on WebDAV)."""


class PartialFailure(JasminAccessError, OSError):
    """A bulk operation finished with some items failed (exit code 2)."""

    def __init__(self, message: str, hint: str | None = None, failures: Any = None) -> None:
        super().__init__(message, hint)
        self.failures = list(failures or [])


# --------------------------------------------------------------------------- redaction

_SECRET_PATTERNS = [
    re.compile(
        r"(?i)(aws_secret_access_key|secret(?:_key)?|token|password)(['\"]?\s*[:=]\s*['\"]?)([^\s'\",}]+)"
    ),
    re.compile(r"(?i)(Signature=|X-Amz-Signature=|X-Amz-Credential=)([^&\s'\"]+)"),
    re.compile(r"(?i)(Credential=)([^,\s/]+)"),
]
_registered_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value so that :func:`redact` always masks it."""
    if value and len(value) >= 4:
        _registered_secrets.add(value)


def redact(text: str) -> str:
    """Mask secrets (registered values, signatures, ``secret=...``) in ``text``."""
    if not text:
        return text
    for secret in _registered_secrets:
        if secret in text:
            text = text.replace(secret, "****")
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}****", text)
    for pattern in _SECRET_PATTERNS[1:]:
        text = pattern.sub(lambda m: f"{m.group(1)}****", text)
    return text


# --------------------------------------------------------------------------- translation

_ACCESS_CODES = {
    "AccessDenied",
    "Forbidden",
    "403",
    "AllAccessDisabled",
    "AccountProblem",
}
_BAD_KEY_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "TokenRefreshRequired",
    "InvalidToken",
    "AuthorizationHeaderMalformed",
}
_QUOTA_CODES = {
    "QuotaExceeded",
    "QuotaExceededException",
    "StorageQuotaExceeded",
    "InsufficientStorage",
}
_DROPPED = {
    "ConnectionClosedError",
    "ServerDisconnectedError",
    "ClientPayloadError",
    "IncompleteRead",
    "ResponseStreamingError",
    "ConnectionResetError",
}
_NAME_CODES = {
    "InvalidBucketName",
    "InvalidArgument",
    "InvalidObjectName",
    "KeyTooLongError",
    "EntityTooLarge",
}
_BUSY_CODES = {"SlowDown", "ServiceUnavailable", "503", "500", "InternalError", "RequestTimeout"}


def _walk_causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _client_error_code(exc: BaseException) -> tuple[str, str] | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        err = response.get("Error") or {}
        code = str(
            err.get("Code", "") or response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        )
        return code, str(err.get("Message", ""))
    return None


def _bucket_of(url: str) -> str:
    m = re.match(r"^[a-z0-9]+://([^/]+)", url)
    return m.group(1) if m else url


Translator = Callable[[BaseException, str | None], BaseException | None]
_translators: list[Translator] = []


def register_translator(fn: Translator) -> Translator:
    """Add a backend's error translation (its exceptions -> builtin or package errors).

    ``fn(exc, profile_name)`` returns ``None`` for exceptions it does not know.  Backends register
    theirs when they are imported.
    """
    if fn not in _translators:
        _translators.append(fn)
    return fn


def _from_backends(exc: BaseException, profile: str | None) -> BaseException | None:
    for cause in _walk_causes(exc):
        for fn in _translators:
            mapped = fn(cause, profile)
            if mapped is not None:
                return mapped
    return None


def translate(
    exc: BaseException,
    *,
    action: str = "accessing",
    url: str = "",
    profile: str | None = None,
) -> BaseException:
    """Turn a backend exception into a :class:`JasminAccessError`.

    Parameters
    ----------
    exc
        The exception raised by botocore, aiohttp, s3fs or the OS.
    action
        A gerund naming what was being done, e.g. ``"listing"``.
    url
        The URL the action was applied to.
    profile
        The profile name in use, named in hints.

    Returns
    -------
    BaseException
        A :class:`JasminAccessError` subclass, or ``exc`` itself when it is
        already one or is not an error this function knows (KeyboardInterrupt,
        programming errors).
    """
    if isinstance(exc, JasminAccessError) or not isinstance(exc, Exception):
        return exc
    where = f"{action} {url}".strip()
    test_hint = f"run `jasmin-access config test {profile}`" if profile else "check the profile"
    mapped = _from_backends(exc, profile)
    if mapped is not None:
        if isinstance(mapped, JasminAccessError):
            return mapped
        exc = mapped
    for cause in _walk_causes(exc):
        coded = _client_error_code(cause)
        result = _from_code(*coded, where, url, profile, test_hint) if coded else None
        result = result or _from_transport(cause, where, profile, test_hint)
        if result is not None:
            return result
    return _from_builtin(exc, where, url, profile, test_hint)


_UNREACHABLE = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ClientConnectorError",
    "ClientConnectorDNSError",
    "ConnectionRefusedError",
    "gaierror",
}


def _endpoint_of(exc: BaseException) -> str | None:
    """The URL (or host:port) a connection error was about, when it says."""
    for cause in _walk_causes(exc):
        url = (getattr(cause, "kwargs", None) or {}).get("endpoint_url")
        if url:  # botocore gives the request URL: keep scheme and host
            parts = urlsplit(str(url))
            return f"{parts.scheme}://{parts.netloc}" if parts.netloc else str(url)
        host, port = getattr(cause, "host", None), getattr(cause, "port", None)
        if isinstance(host, str) and port:
            return f"{host}:{port}"
    return None


def _from_transport(
    cause: BaseException, where: str, profile: str | None, test_hint: str
) -> BaseException | None:
    """Errors below HTTP: credentials lookup, connections, unparsable answers."""
    name = type(cause).__name__
    if name in {"NoCredentialsError", "PartialCredentialsError"}:
        return CredentialsMissing(
            f"no credentials for {where}",
            f"set key/secret in profile '{profile or 'default'}', export AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or use --anon for public data",
        )
    if name in _DROPPED or (isinstance(cause, OSError) and cause.errno == errno.ECONNRESET):
        return ServiceUnavailable(
            f"the store dropped the connection while {where} (after all retries)",
            "re-run the same command; if it persists raise `retries` in the profile "
            f"or {test_hint}",
        )
    if name in _UNREACHABLE or (
        isinstance(cause, OSError) and cause.errno in {errno.ECONNREFUSED, errno.EHOSTUNREACH}
    ):
        return EndpointUnreachable(
            f"cannot reach {_endpoint_of(cause) or 'the endpoint'} while {where}",
            f"check endpoint_url in profile '{profile}' and your network ({test_hint})"
            if profile
            else "check the endpoint URL and your network",
        )
    if name == "ResponseParserError":
        return WrongEndpoint(
            f"the endpoint did not answer like an S3 store while {where}",
            f"check endpoint_url in profile '{profile}' (`jasmin-access config show {profile}`)"
            if profile
            else "check the endpoint URL",
        )
    if name == "InvalidEndpointError" or name == "ParamValidationError":
        return ConfigError(f"invalid request while {where}: {cause}", "check endpoint_url")
    return None


def _from_code(
    code: str, message: str, where: str, url: str, profile: str | None, test_hint: str
) -> BaseException | None:
    if code == "NoSuchBucket":
        bucket = _bucket_of(url)
        used, flag = (f", profile '{profile}'", f" -p {profile}") if profile else ("", "")
        return BucketNotFound(
            f"bucket '{bucket}' does not exist ({where}{used})",
            f"check the name with `jasmin-access ls s3://{flag}`, or make it with "
            f"`jasmin-access mb s3://{bucket}{flag}`",
        )
    if code in _NAME_CODES:
        return InvalidInput(
            f"the store refused the request while {where} ({code}: {message})",
            "check the bucket and key names (bucket names: 3-63 lower-case letters, digits, -)",
        )
    if code in {"BucketAlreadyExists", "BucketAlreadyOwnedByYou"}:
        return AlreadyExists(f"bucket '{_bucket_of(url)}' already exists ({where})")
    if code in {"NoSuchKey", "404", "NotFound", "NoSuchUpload"}:
        return NotFound(f"not found: {url}" if url else f"not found ({where})")
    if code in _BAD_KEY_CODES:
        return AccessDenied(
            f"access denied {where}: the access key for profile '{profile}' was rejected ({code})",
            f"the key may have expired or be mistyped; {test_hint}",
        )
    if code in _QUOTA_CODES or "quota" in message.lower():
        return QuotaExceeded(
            f"the store is over quota while {where}",
            "free space (jasmin-access du / rm) or ask for more; re-run the same command to resume",
        )
    if code in _ACCESS_CODES:
        return AccessDenied(
            f"access denied {where}",
            f"the key for profile '{profile}' may have expired or lack rights; {test_hint}"
            if profile
            else "the data may not be public; use a profile with credentials",
        )
    if code in _BUSY_CODES:
        return ServiceUnavailable(
            f"the store is busy or failing ({code}) while {where}",
            "retry later, or raise `retries` in the profile",
        )
    return None


_NOT_HDF5 = ("unable to synchronously open file", "file signature not found", "unknown file format")


def _from_content(exc: BaseException, where: str, url: str) -> BaseException | None:
    """Damaged or unreadable content: corrupt JSON metadata, unknown codecs, non-HDF5 files."""
    for cause in _walk_causes(exc):
        if isinstance(cause, json.JSONDecodeError):
            return InvalidInput(
                f"corrupt metadata while {where}: not valid JSON ({cause.msg}, char {cause.pos})",
                "the store is damaged: re-run the command that wrote it with --overwrite, "
                "or restore its metadata",
            )
        if type(cause).__name__ == "UnknownCodecError":
            found = re.findall(r"'([^']+)'", str(cause))
            name = found[-1] if found else str(cause)
            return InvalidInput(
                f"{where} needs codec {name!r}, which is not installed here",
                "install the package providing it, or re-convert with a standard compressor",
            )
        text = str(cause).lower()
        if isinstance(cause, OSError) and any(k in text for k in _NOT_HDF5):
            detail = str(cause).split("(", 1)[-1].rstrip(")") if "(" in str(cause) else str(cause)
            return InvalidInput(
                f"{url or where} is not a readable NetCDF/HDF5 file ({detail})",
                "re-copy it, or remove it from the sources",
            )
    return None


def _from_builtin(
    exc: BaseException, where: str, url: str, profile: str | None, test_hint: str
) -> BaseException:
    content = _from_content(exc, where, url)
    if content is not None:
        return content
    text = str(exc)
    if isinstance(exc, FileNotFoundError):
        if "bucket" in text.lower() and "not" in text.lower():
            return BucketNotFound(f"bucket '{_bucket_of(url)}' does not exist ({where})")
        return NotFound(f"not found: {url}" if url else f"not found ({where})")
    if isinstance(exc, FileExistsError):
        return AlreadyExists(f"already exists: {url}", "use --overwrite to replace it")
    if isinstance(exc, PermissionError):
        return AccessDenied(
            f"access denied {where}",
            f"the key for profile '{profile}' may have expired; {test_hint}"
            if profile
            else "the data may not be public; use a profile with credentials",
        )
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return EndpointUnreachable(f"cannot reach the endpoint while {where}", test_hint)
    return exc


@contextmanager
def translating(action: str, url: str = "", profile: str | None = None) -> Iterator[None]:
    """Context manager that re-raises backend errors as :class:`JasminAccessError`.

    Examples
    --------
    >>> with translating("listing", "s3://bucket/run1/", "jasmin"):  # doctest: +SKIP
    ...     fs.ls("bucket/run1/")
    """
    try:
        yield
    except Exception as exc:
        new = translate(exc, action=action, url=url, profile=profile)
        if new is exc:
            raise
        raise new from exc
