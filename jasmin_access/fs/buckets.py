"""Making buckets: ``mb``."""

from __future__ import annotations

import logging
from typing import Any

from ..errors import AlreadyExists, InvalidInput, translating
from ..stores import resolve
from ._backend import bucket_exists

__all__ = ["mb"]

log = logging.getLogger(__name__)


def mb(url: str, *, exist_ok: bool = False, **resolve_kwargs: Any) -> str:
    """Make a bucket.

    Parameters
    ----------
    url
        ``s3://bucket`` (or ``local://bucket`` for the embedded store).
    exist_ok
        Do not fail when the bucket already exists.
    **resolve_kwargs
        ``profile``, ``endpoint_url``, ``anon`` for :func:`jasmin_access.stores.resolve`.

    Returns
    -------
    str
        The bucket's URL.

    Raises
    ------
    AlreadyExists
        When the bucket exists and ``exist_ok`` is false.
    InvalidInput
        When ``url`` names a key inside a bucket or a local path.
    """
    loc = resolve(url, write=True, **resolve_kwargs)
    if not loc.caps.buckets or not loc.bucket or loc.key:
        raise InvalidInput(
            f"{url} is not a bucket URL",
            f"give just the bucket, e.g. {loc.backend.hint_url('my-bucket')}"
            if loc.caps.buckets
            else f"{loc.url} has no buckets: write to a directory instead",
        )
    bucket_url = loc.to_url(loc.path).rstrip("/")
    with translating("making bucket", bucket_url, loc.profile_name):
        if bucket_exists(loc):
            if exist_ok:
                return bucket_url
            raise AlreadyExists(
                f"bucket {bucket_url} already exists", "pass --exist-ok to accept an existing one"
            )
        loc.backend.make_bucket(loc.bucket)
    log.info("made bucket %s", bucket_url)
    return bucket_url
