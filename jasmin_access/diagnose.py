"""Checks behind ``jasmin-access config test``: endpoint, credentials, listing."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .backends import PROFILE_SCHEMES
from .config import Profile
from .errors import (
    AccessDenied,
    EndpointUnreachable,
    JasminAccessError,
    WrongEndpoint,
    translate,
)
from .stores import resolve, s3_filesystem

__all__ = ["Check", "test_profile"]


@dataclass
class Check:
    """Outcome of one check."""

    name: str
    ok: bool
    detail: str
    error: JasminAccessError | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def _check_endpoint(endpoint: str, timeout: float) -> Check:
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            pass
    except OSError as exc:
        detail = f"cannot connect to {endpoint} ({exc.strerror or exc})"
        return Check("endpoint", False, detail, EndpointUnreachable(detail))
    return Check("endpoint", True, f"{endpoint} accepts connections")


def test_profile(profile: Profile, bucket: str | None = None, timeout: float = 5.0) -> list[Check]:
    """Check that a profile's endpoint, credentials and listing rights work.

    Parameters
    ----------
    profile
        The profile to test.
    bucket
        Optional bucket whose listing right to test.
    timeout
        Seconds to wait for the endpoint.

    Returns
    -------
    list of Check
        Stops at the first failing check; later checks are not run.
    """
    if profile.type in PROFILE_SCHEMES:
        return _test_own_storage(profile, bucket)
    if profile.is_local:
        root = profile.local_root()
        ok = root.exists() or not root.parent.exists() or root.parent.is_dir()
        return [Check("local store", ok, f"embedded store at {root}")]
    endpoint = profile.resolved_endpoint or "https://s3.amazonaws.com"
    checks = [_check_endpoint(endpoint, timeout)]
    if not checks[-1].ok:
        return checks
    try:
        fs = s3_filesystem(profile)
    except JasminAccessError as exc:
        return [*checks, _failed("credentials", exc)]
    if profile.anon:
        checks.append(Check("credentials", True, "anonymous profile: no credentials sent"))
    else:
        try:
            fs.ls("", refresh=True)
            checks.append(Check("credentials", True, "the store accepted the access key"))
        except Exception as exc:
            err = translate(exc, action="listing buckets", url=endpoint, profile=profile.name)
            checks.append(_failed("credentials", err))
            return checks
    if bucket:
        url = f"s3://{bucket.removeprefix('s3://').strip('/')}/"
        try:
            loc = resolve(url, profile=profile)
            loc.fs.ls(loc.path, refresh=True)
            checks.append(Check("listing", True, f"can list {url}"))
        except Exception as exc:
            err = translate(exc, action="listing", url=url, profile=profile.name)
            checks.append(_failed("listing", err))
    return checks


def _test_own_storage(profile: Profile, directory: str | None) -> list[Check]:
    """WebDAV, SFTP, Azure: one listing of the root (or of ``directory``) with the profile."""
    url = f"{PROFILE_SCHEMES[profile.type]}://{(directory or '').strip('/')}"
    try:
        loc = resolve(url, profile=profile)
        loc.backend.list_level(loc.path)
    except Exception as exc:
        return [_failed("listing", translate(exc, action="listing", url=url, profile=profile.name))]
    return [Check("listing", True, f"{loc.backend.identity}: can list {url}")]


def _failed(name: str, err: BaseException) -> Check:
    """A failed check carrying a :class:`JasminAccessError` (the endpoint's if it is not S3)."""
    if isinstance(err, WrongEndpoint):
        name = "endpoint"
    if not isinstance(err, JasminAccessError):
        err = AccessDenied(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    return Check(name, False, str(err), err)
