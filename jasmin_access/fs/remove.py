"""``rm``: bounded deletes with bulk requests and a single-delete fallback.

Only keys inside the named prefix are ever deleted (``rm -r s3://b/run1``
never touches ``run10/``); a bucket root needs ``force=True``.  Bulk deletes
(DeleteObjects, 1,000 keys a request) fall back to one DELETE per key when the
store refuses them, as over-quota stores do.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import paths
from ..errors import InvalidInput, PartialFailure, translate, translating
from ..stores import Location
from ._backend import Obj, head, is_remote, locate, prefix_exists, rel_key, walk_pages
from .listing import _missing, _split_glob, no_match
from .records import RemoveReport

__all__ = ["delete_paths", "is_root", "rm"]

log = logging.getLogger(__name__)

BATCH = 1000
WORKERS = 16


def is_root(loc: Location) -> bool:
    """True for a bucket root (or ``/`` and the home directory locally)."""
    if loc.kind == "local":
        return loc.path.rstrip("/") in ("", str(Path.home()))
    return loc.key == ""


def refuse_root(loc: Location, what: str) -> None:
    """Raise :class:`InvalidInput` for a root location (callers check ``force`` first)."""
    raise InvalidInput(
        f"refusing to {what} the whole of {loc.url}",
        "name a prefix inside it, or pass --force if you really mean the whole bucket",
    )


def _targets(loc: Location, recursive: bool) -> tuple[str, list[Obj]]:
    if paths.has_magic(loc.key if loc.kind != "local" else loc.path):
        base, _ = _split_glob(loc)
        found = [
            o for page in walk_pages(loc, base) for o in page if paths.match_glob(loc.path, o.path)
        ]
        if not found:
            raise no_match(loc)
        return base, found
    base = loc.path.rstrip("/")
    obj = head(loc, base)
    found = [obj] if obj is not None and not loc.url.endswith("/") else []
    if recursive:  # directory markers too, or the emptied prefix would still be listed
        found += [o for page in walk_pages(loc, base, markers=True) for o in page]
    elif not found and prefix_exists(loc, base):
        raise InvalidInput(f"{loc.url} is a prefix", "use rm -r to delete it")
    if not found and obj is None and not prefix_exists(loc, base):
        raise _missing(loc)
    return base, found


def rm(
    url: str,
    *,
    recursive: bool = False,
    dry_run: bool = False,
    force: bool = False,
    confirm: Callable[[RemoveReport], bool] | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> RemoveReport:
    """Delete an object, the objects matching a glob, or (``recursive``) a prefix.

    Parameters
    ----------
    recursive
        Delete everything below the prefix ``url`` (and an object named ``url``).
    dry_run
        Only report what would be deleted.
    force
        Allow deleting a whole bucket.
    confirm
        Called with the preview report before anything is deleted; return
        False to cancel (nothing is deleted; the report returned has
        ``cancelled`` set).
    include, exclude
        Patterns on the path relative to ``url`` (see :func:`jasmin_access.paths.keep`).

    Returns
    -------
    RemoveReport
        What was deleted (or would be, with ``dry_run``).

    Raises
    ------
    NotFound
        When nothing exists at ``url`` or a glob matches nothing.
    InvalidInput
        For a prefix without ``recursive``.
    PartialFailure
        When some deletes failed (``.report`` holds the report).
    """
    loc = locate(url, profile=profile, endpoint_url=endpoint_url, anon=anon, write=True)
    if is_root(loc) and not force:
        refuse_root(loc, "delete")
    with translating("listing", loc.url, loc.profile_name):
        base, found = _targets(loc, recursive)
    found = [
        o
        for o in found
        if paths.is_within(base, o.path)
        and paths.keep(rel_key(loc, base, o.path.rstrip("/")), include, exclude)
    ]
    report = RemoveReport(
        url=loc.url,
        paths=[loc.to_url(o.path) for o in found],
        bytes=sum(o.size for o in found),
        dry_run=dry_run,
    )
    if dry_run:
        return report
    if confirm is not None and found and not confirm(report):
        return RemoveReport(url=loc.url, dry_run=True, cancelled=True)
    report.failures, report.bulk_refused = delete_paths(loc, [o.path for o in found])
    if loc.kind == "local" and recursive:
        remove_empty_dirs(base)
    if report.failures:
        failed = {p for p, _ in report.failures}
        report.paths = [p for o, p in zip(found, report.paths, strict=True) if o.path not in failed]
        err = PartialFailure(
            f"{len(report.failures)} of {len(found)} deletes failed under {loc.url}",
            f"first: {report.failures[0][1]}; re-run the same command to retry",
            report.failures,
        )
        err.report = report  # type: ignore[attr-defined]
        raise err
    return report


def delete_paths(loc: Location, fs_paths: list[str]) -> tuple[list[tuple[str, str]], bool]:
    """Delete objects by fs path; returns ``(failures, bulk_refused)``."""
    if not fs_paths:
        return [], False
    if not is_remote(loc):
        return _delete_local(loc, fs_paths), False
    failures: list[tuple[str, str]] = []
    bulk_refused = False
    bucket = loc.bucket
    for i in range(0, len(fs_paths), BATCH):
        batch = fs_paths[i : i + BATCH]
        if not bulk_refused:
            try:
                errors = _bulk(loc, bucket, batch)
            except Exception as exc:
                log.warning("bulk delete refused (%s); deleting one by one", translate(exc))
                bulk_refused = True
            else:
                retry = [f"{bucket}/{e['Key']}" for e in errors]
                failures += _delete_singly(loc, retry)
                continue
        failures += _delete_singly(loc, batch)
    return failures, bulk_refused


def _bulk(loc: Location, bucket: str, batch: list[str]) -> list[dict[str, str]]:
    keys = [{"Key": paths.split_bucket(p)[1]} for p in batch]
    resp = loc.fs.call_s3("delete_objects", Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    return list(resp.get("Errors", []))


def _delete_singly(loc: Location, fs_paths: list[str]) -> list[tuple[str, str]]:
    def one(fs_path: str) -> tuple[str, str] | None:
        bucket, key = paths.split_bucket(fs_path)
        try:
            loc.fs.call_s3("delete_object", Bucket=bucket, Key=key)
        except Exception as exc:
            err = translate(exc, action="deleting", url=loc.to_url(fs_path))
            return loc.to_url(fs_path), str(err)
        return None

    if not fs_paths:
        return []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(fs_paths))) as pool:
        return [r for r in pool.map(one, fs_paths) if r is not None]


def _delete_local(loc: Location, fs_paths: list[str]) -> list[tuple[str, str]]:
    failures = []
    for p in fs_paths:
        try:
            if p.endswith("/") and loc.kind == "store":  # an empty directory (marker)
                loc.fs.rm(p.rstrip("/"), recursive=True)
            elif p.endswith("/"):
                os.rmdir(p)
            elif loc.kind == "store":
                loc.fs.rm_file(p)
            else:
                os.unlink(p)
        except OSError as exc:
            failures.append((loc.to_url(p), str(translate(exc, action="deleting", url=p))))
    if loc.kind == "store" and loc.bucket:
        # the store prunes empty directories up to its root: keep the (now empty) bucket
        os.makedirs(os.path.join(loc.fs_root, loc.bucket), exist_ok=True)
    return failures


def remove_empty_dirs(base: str) -> None:
    """Remove ``base`` and the directories below it that are empty (plain local paths)."""
    if not os.path.isdir(base):
        return
    for current, _dirs, _files in os.walk(base, topdown=False):
        try:
            os.rmdir(current)
        except OSError:
            continue
