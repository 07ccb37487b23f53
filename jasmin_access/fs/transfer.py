"""``cp``, ``mv`` and ``sync`` across S3, https (read-only), the embedded store and local paths.

Files move in parallel (bounded), big files in parallel multipart parts;
every upload and download is verified against the ETag (MD5, or the
multipart ETag); downloads land in a temporary file renamed into place; files
already present with the same size and checksum are skipped, so re-running an
interrupted copy resumes it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from .. import paths
from ..errors import InvalidInput
from ..stores import Location
from ._backend import locate, rel_key
from ._plan import Decide, Pair, Plan, compare, finish, plan, run_plan
from .records import TransferItem, TransferReport
from .remove import delete_paths, is_root, refuse_root

__all__ = ["cp", "finish", "mv", "plan", "run_plan", "sync"]

log = logging.getLogger(__name__)

WORKERS = 16


def _locations(src: str, dst: str, kw: dict[str, Any]) -> tuple[Location, Location]:
    src_loc = locate(src, **kw)
    dst_loc = locate(dst, write=True, **kw)
    return src_loc, dst_loc


Sources = str | Sequence[str]


def _plans(
    srcs: Sources,
    dst: str,
    kw: dict[str, Any],
    recursive: bool,
    filters: tuple[Sequence[str], Sequence[str]],
    *,
    moving: bool = False,
) -> list[Plan]:
    """One plan per source; with several sources ``dst`` is a directory they go into."""
    sources = [srcs] if isinstance(srcs, str) else list(srcs)
    if not sources:
        raise InvalidInput("no source given", "name at least one file, prefix or quoted glob")
    several = len(sources) > 1
    into_dir = several or dst.endswith(("/", os.sep))
    plans = []
    for one in sources:
        src_loc, dst_loc = _locations(one, dst, kw)
        if moving:
            src_loc.require_writable()
        p = plan(src_loc, dst_loc, recursive, into_dir=into_dir)
        p.pairs = [pair for pair in p.pairs if paths.keep(pair.rel, *filters)]
        p.single = p.single and not several
        plans.append(p)
    _refuse_collisions(plans)
    return plans


def _refuse_collisions(plans: list[Plan]) -> None:
    """Several sources must not land on one destination (the last would silently win)."""
    seen: dict[str, str] = {}
    for p in plans:
        for pair in p.pairs:
            first = seen.setdefault(pair.dst, p.src.to_url(pair.src.path))
            if first != p.src.to_url(pair.src.path):
                raise InvalidInput(
                    f"{first} and {p.src.to_url(pair.src.path)} would both be copied to "
                    f"{p.dst.to_url(pair.dst)}",
                    "copy them one at a time to different names, or copy their prefix with -r",
                )


def _run_all(
    plans: list[Plan],
    decision: Callable[[Plan], Decide],
    *,
    dry_run: bool,
    workers: int,
    progress: bool,
    label: str,
    scheduler: str | None = None,
) -> TransferReport:
    report = TransferReport(dry_run=dry_run)
    for p in plans:
        one = run_plan(
            p, decision(p), dry_run=dry_run, workers=workers, progress=progress, label=label,
            scheduler=scheduler,
        )  # fmt: skip
        report.items.extend(one.items)
    return report


def _copy_decision(no_clobber: bool) -> Callable[[Plan], Decide]:
    """What cp/mv do with a pair whose destination may exist: copy (None), keep, or skip."""

    def for_plan(p: Plan) -> Decide:
        def decide(pair: Pair) -> str | None:
            found = p.existing.get(pair.dst)
            if found is None:
                return None
            if no_clobber:
                return "exists"
            return compare(pair, found, checksum=True)

        return decide

    return for_plan


def cp(
    src: Sources,
    dst: str,
    *,
    recursive: bool = False,
    no_clobber: bool = False,
    dry_run: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    workers: int = WORKERS,
    progress: bool = False,
    scheduler: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> TransferReport:
    """Copy a file/object, a glob's matches, or (``recursive``) a prefix.

    ``cp -r SRC DST`` copies the contents of ``SRC`` into ``DST`` (``SRC/a/b``
    lands at ``DST/a/b``), so re-running it resumes rather than nesting.  A
    single file copied to a directory (existing, or ending in ``/``, which is
    made if needed) keeps its name.

    Parameters
    ----------
    src
        One source, or several (then ``dst`` is a directory they all go into).
    no_clobber
        Never overwrite: existing destination files are left alone.
    dry_run
        Only report what would be copied (``would-copy``).
    include, exclude
        Patterns on the path relative to the source (see :func:`jasmin_access.paths.keep`).
    workers
        Files transferred at once.
    progress
        Show a rich progress bar on stderr.
    scheduler
        ``threads`` (default: this process), ``processes`` (local worker
        processes) or a Dask scheduler address (``tcp://host:port``): files, or
        groups of small files, are copied by the workers (see
        :mod:`jasmin_access.execution`).

    Returns
    -------
    TransferReport
        One item per file: copied, skipped (same size and checksum already
        there) or exists (kept, ``no_clobber``).

    Raises
    ------
    NotFound
        When a source does not exist or a glob matches nothing.
    PartialFailure
        When some files failed (``.report`` holds the report); a single file's
        own error is raised as is.
    """
    kw = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    plans = _plans(src, dst, kw, recursive, (include, exclude))
    report = _run_all(
        plans,
        _copy_decision(no_clobber),
        dry_run=dry_run,
        workers=workers,
        progress=progress,
        label="cp",
        scheduler=scheduler,
    )
    return finish(report, plans[0].single, "copy")


def mv(
    src: Sources,
    dst: str,
    *,
    recursive: bool = False,
    no_clobber: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    workers: int = WORKERS,
    progress: bool = False,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> TransferReport:
    """Move: copy (verified), then delete each source whose copy verified.

    Sources that failed to copy, or were kept because the destination exists
    (``no_clobber``), are not deleted.  Several sources go into the directory ``dst``.
    """
    kw = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    plans = _plans(src, dst, kw, recursive, (include, exclude), moving=True)
    report = _run_all(
        plans,
        _copy_decision(no_clobber),
        dry_run=False,
        workers=workers,
        progress=progress,
        label="mv",
    )
    done = {i.src for i in report.items if i.status in ("copied", "skipped")}
    all_failures: list[tuple[str, str]] = []
    for p in plans:
        gone = [pair.src.path for pair in p.pairs if p.src.to_url(pair.src.path) in done]
        failures, _ = delete_paths(p.src, gone)
        if not p.single:
            p.src.backend.remove_empty_dirs(p.src.path)
        all_failures += failures
    for url, message in all_failures:
        report.items.append(TransferItem(url, "", 0, "failed", f"source not deleted: {message}"))
    return finish(report, plans[0].single and not all_failures, "move")


def sync(
    src: str,
    dst: str,
    *,
    delete: bool = False,
    dry_run: bool = False,
    checksum: bool = False,
    force: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    workers: int = WORKERS,
    progress: bool = False,
    scheduler: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> TransferReport:
    """Make ``dst`` hold what ``src`` holds: copy new and changed files.

    Parameters
    ----------
    delete
        Also delete destination files that are not in ``src`` (opt-in); files
        left out by ``include``/``exclude`` are never deleted.
    dry_run
        Report what would be copied (``would-copy``) and deleted (``would-delete``).
    checksum
        Compare checksums too when sizes are equal (default: size only).
    force
        Allow ``delete`` on a bucket root.
    include, exclude
        Patterns on the path relative to ``src`` (see :func:`jasmin_access.paths.keep`).
    scheduler
        Where the files are copied, as for :func:`cp`.
    """
    kw = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    src_loc, dst_loc = _locations(src, dst, kw)
    if delete and is_root(dst_loc) and not force:
        refuse_root(dst_loc, "sync --delete into")
    p = plan(src_loc, dst_loc, recursive=True)
    p.pairs = [pair for pair in p.pairs if paths.keep(pair.rel, include, exclude)]

    def decide(pair: Pair) -> str | None:
        found = p.existing.get(pair.dst)
        return None if found is None else compare(pair, found, checksum)

    report = run_plan(
        p, decide, dry_run=dry_run, workers=workers, progress=progress, label="sync",
        scheduler=scheduler,
    )  # fmt: skip
    if delete:
        _sync_delete(p, report, dry_run, (include, exclude))
    return finish(report, False, "sync")


def _sync_delete(
    p: Plan, report: TransferReport, dry_run: bool, filters: tuple[Sequence[str], Sequence[str]]
) -> None:
    wanted = {pair.dst for pair in p.pairs}
    extra = [
        o
        for o in p.existing.values()
        if o.path not in wanted
        and paths.is_within(p.dst_base, o.path)
        and paths.keep(rel_key(p.dst, p.dst_base, o.path), *filters)
    ]
    status = "would-delete" if dry_run else "deleted"
    failed: dict[str, str] = {}
    if not dry_run:
        failed = dict(delete_paths(p.dst, [o.path for o in extra])[0])
    for o in extra:
        url = p.dst.to_url(o.path)
        error = failed.get(url)
        report.items.append(TransferItem("", url, o.size, "failed" if error else status, error))
