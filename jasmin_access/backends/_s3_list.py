"""S3 listings through botocore: ListObjectsV2 pages, with ListObjects v1 as the fallback.

The compiled client (:mod:`.s3read`) lists where it can; these pages serve
the rest: AWS without an endpoint, keys it cannot name, gateways that refuse
ListObjectsV2.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from typing import Any

from ..errors import JasminAccessError, translate
from .capabilities import Obj
from .s3read import PAGE_SIZE

__all__ = ["botocore_pages"]

log = logging.getLogger(__name__)

_V1_ONLY: weakref.WeakSet[Any] = weakref.WeakSet()  # filesystems whose server refused v2


def _etag(raw: str | None) -> str | None:
    return raw.strip('"') if raw else None


def botocore_pages(
    fs: Any, bucket: str, prefix: str, delimiter: bool, after: str | None, refused: bool
) -> Iterator[tuple[list[Obj], list[str]]]:
    """Pages of ``(objects, common prefixes)`` below ``prefix``, keys after ``after``.

    ``fs`` is the profile's s3fs filesystem.  ListObjectsV2 first, unless
    ``refused`` (the compiled client found the server refuses it) or the server
    refused it before; then ListObjects v1.
    """
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE_SIZE}
    if delimiter:
        kwargs["Delimiter"] = "/"
    version = 1 if refused or fs in _V1_ONLY else 2
    token: str | None = None if version == 2 else after
    while True:
        try:
            if version == 2:
                extra = {"ContinuationToken": token} if token else {}
                extra = extra or ({"StartAfter": after} if after else {})
                resp = fs.call_s3("list_objects_v2", **kwargs, **extra)
            else:
                extra = {"Marker": token} if token else {}
                resp = fs.call_s3("list_objects", **kwargs, **extra)
        except Exception as exc:
            if version == 2 and not isinstance(translate(exc), JasminAccessError):
                log.info("ListObjectsV2 refused (%s); using ListObjects v1", exc)
                version, token = 1, after
                _V1_ONLY.add(fs)
                continue
            raise
        contents = resp.get("Contents", [])
        objs = [
            Obj(
                f"{bucket}/{c['Key']}",
                int(c["Size"]),
                c.get("LastModified"),
                _etag(c.get("ETag")),
            )
            for c in contents
        ]
        prefixes = [f"{bucket}/{p['Prefix'].rstrip('/')}" for p in resp.get("CommonPrefixes", [])]
        yield objs, prefixes
        if version == 2:
            token = resp.get("NextContinuationToken")
            more = resp.get("IsTruncated") and token
        else:
            more = resp.get("IsTruncated")
            token = resp.get("NextMarker") or (contents[-1]["Key"] if contents else None)
        if not more or not token:
            return
