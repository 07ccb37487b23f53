"""``rm``: bounded deletes with bulk requests and a single-delete fallback.

Only keys inside the named prefix are ever deleted (``rm -r s3://b/run1``
never touches ``run10/``); a bucket root needs ``force=True``.  Bulk deletes
(DeleteObjects, 1,000 keys a request) fall back to one DELETE per key when the
store refuses them, as over-quota stores do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from .. import paths
from ..errors import InvalidInput, PartialFailure, translating
from ..stores import Location
from ._backend import Obj, head, locate, prefix_exists, rel_key, walk_pages
from .listing import _missing, _split_glob, no_match
from .records import RemoveReport

__all__ = ["delete_paths", "is_root", "rm"]

log = logging.getLogger(__name__)

BATCH = 1000
WORKERS = 16


def is_root(loc: Location) -> bool:
    """True for a bucket root (or ``/`` and the home directory locally)."""
    return loc.backend.is_root(loc.path)


def refuse_root(loc: Location, what: str) -> None:
    """Raise :class:`InvalidInput` for a root location (callers check ``force`` first)."""
    raise InvalidInput(
        f"refusing to {what} the whole of {loc.url}",
        "name a prefix inside it, or pass --force if you really mean the whole bucket",
    )


def _targets(loc: Location, recursive: bool) -> tuple[str, list[Obj]]:
    if paths.has_magic(loc.key):
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
    if recursive:
        loc.backend.remove_empty_dirs(base)
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
    """Delete objects (and directory markers) by fs path; returns ``(failures, bulk_refused)``.

    Backends with bulk deletes fall back to one request per object when the
    store refuses them (as over-quota stores do).
    """
    if not fs_paths:
        return [], False
    return loc.backend.delete_many(fs_paths)
