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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .. import paths
from ..errors import (
    InvalidInput,
    JasminAccessError,
    PartialFailure,
    translate,
    translating,
)
from ..execution import status_sink
from ..stores import Location
from ._backend import (
    Obj,
    bucket_exists,
    head,
    list_level,
    locate,
    prefix_exists,
    rel_key,
    walk_pages,
)
from ._progress import Bar
from ._single import same_content, transfer_one
from ._spread import copy_items, spreads
from .listing import _missing, _split_glob, missing_bucket, no_match
from .records import TransferItem, TransferReport
from .remove import delete_paths, is_root, refuse_root

__all__ = ["cp", "mv", "sync"]

log = logging.getLogger(__name__)

WORKERS = 16


@dataclass
class Pair:
    """One planned file transfer: source object and destination path (fs paths)."""

    src: Obj
    dst: str
    rel: str


@dataclass
class Plan:
    """Everything a transfer needs: both locations, the pairs, what is already there."""

    src: Location
    dst: Location
    pairs: list[Pair]
    existing: dict[str, Obj]
    single: bool
    dst_base: str


def _is_glob(loc: Location) -> bool:
    return paths.has_magic(loc.key)


def _dst_is_dir(loc: Location, into_dir: bool = False) -> bool:
    if into_dir or loc.url.endswith("/") or (loc.caps.buckets and not loc.key):
        return True
    if loc.caps.directories:  # an existing directory, if an empty one
        return head(loc, loc.path) is None and prefix_exists(loc, loc.path)
    return list_level(loc, loc.path) != ([], [])


def _join(loc: Location, base: str, rel: str) -> str:
    if not rel:
        return base
    return loc.backend.join(base, rel)


def _sources(src: Location, recursive: bool) -> tuple[str, list[Obj], bool]:
    """``(base, objects, single)``: what to copy and the prefix it is relative to."""
    if _is_glob(src):
        base, _ = _split_glob(src)
        objs = [o for p in walk_pages(src, base) for o in p if paths.match_glob(src.path, o.path)]
        if not objs:
            raise no_match(src)
        return base, objs, False
    base = src.path.rstrip("/")
    obj = None if src.url.endswith("/") else head(src, base)
    if recursive:
        objs = [o for p in walk_pages(src, base) for o in p]
        if objs:
            return base, objs, False
    if obj is not None:
        return src.backend.parent(base), [obj], True
    if list_level(src, base) != ([], []) or prefix_exists(src, base):
        if recursive:  # only empty directories (markers) below: nothing to copy
            return base, [], False
        raise InvalidInput(f"{src.url} is a prefix (a directory)", "use -r to copy it")
    raise _missing(src)


def plan(src: Location, dst: Location, recursive: bool, into_dir: bool = False) -> Plan:
    """Work out the pairs and list what already exists at the destination.

    ``into_dir``: the destination was written with a trailing ``/``, so a single
    file lands inside it (the directory is made if needed), as with ``aws s3 cp``.
    """
    with translating("listing", src.url, src.profile_name):
        base, objs, single = _sources(src, recursive)
    if not bucket_exists(dst):
        raise missing_bucket(dst)
    cut = len(base.rstrip("/")) + 1 if base else 0
    with translating("listing", dst.url, dst.profile_name):
        if single:
            rel = paths.basename(objs[0].path)
            target = _join(dst, dst.path, rel) if _dst_is_dir(dst, into_dir) else dst.path
            pairs = [Pair(objs[0], target, rel)]
            found = head(dst, target)
            existing = {target: found} if found else {}
            return Plan(src, dst, pairs, existing, True, dst.path)
        dst_base = dst.path.rstrip("/") or dst.path
        pairs = [Pair(o, _join(dst, dst_base, o.path[cut:]), o.path[cut:]) for o in objs]
        existing = {o.path: o for page in walk_pages(dst, dst_base) for o in page}
    return Plan(src, dst, pairs, existing, False, dst_base)


def _same(src_loc: Location, pair: Pair, dst_loc: Location, found: Obj, checksum: bool) -> bool:
    """True when the destination already holds the source's content."""
    if found.size != pair.src.size:
        return False
    if not checksum:
        return True
    return same_content(src_loc, pair.src, dst_loc, found)


# --------------------------------------------------------------------------- running a plan

Decide = Callable[[Pair], str | None]


def run_plan(
    p: Plan,
    decide: Decide,
    *,
    dry_run: bool,
    workers: int,
    progress: bool,
    label: str,
    scheduler: str | None = None,
) -> TransferReport:
    """Run ``transfer_one`` for each pair that ``decide`` does not settle.

    In bounded threads here, or (``scheduler`` ``processes`` or a Dask
    address) as tasks on other processes: see :mod:`._spread`.
    """
    report = TransferReport(dry_run=dry_run)
    total = sum(pair.src.size for pair in p.pairs)
    bar = Bar(progress and not dry_run, total, label)
    elsewhere = spreads(scheduler) and not dry_run and not p.single
    later: list[tuple[Pair, TransferItem]] = []

    def one(pair: Pair) -> TransferItem:
        item = TransferItem(p.src.to_url(pair.src.path), p.dst.to_url(pair.dst), pair.src.size, "")
        verdict = decide(pair)
        if verdict is not None:
            item.status = verdict
        elif dry_run:
            item.status = "would-copy"
        elif elsewhere:
            later.append((pair, item))
            return item
        else:
            moved = _copy(p, pair, item, bar)
            bar.advance(item.size - moved)  # the rest (skipped, failed, not streamed)
            return item
        bar.advance(item.size)
        return item

    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(p.pairs) or 1)))
    with bar, pool:
        report.items.extend(pool.map(one, p.pairs))
        if later:
            todo = [(pair.src, pair.dst, item) for pair, item in later]
            with status_sink(bar.note):  # the dashboard link shows above the bar
                copy_items(p.src, p.dst, todo, str(scheduler), bar.advance, workers)
    return report


def _copy(p: Plan, pair: Pair, item: TransferItem, bar: Bar) -> int:
    """Transfer one pair, recording the outcome in ``item``; the bytes reported to ``bar``."""
    moved = 0

    def tick(n: int) -> None:
        nonlocal moved
        moved += n
        bar.advance(n)

    try:
        transfer_one(p.src, p.dst, pair.src, pair.dst, tick)
        item.status = "copied"
    except Exception as exc:
        err = translate(exc, action="copying", url=item.src, profile=p.src.profile_name)
        if not isinstance(err, JasminAccessError):
            raise
        item.status, item.error = "failed", str(err)
        item.exc = err  # type: ignore[attr-defined]
    return min(moved, item.size)


def finish(report: TransferReport, single: bool, verb: str) -> TransferReport:
    """Raise for failures: the item's own error for one file, else :class:`PartialFailure`."""
    failures = report.failures
    if not failures:
        return report
    if single:
        raise failures[0].exc  # type: ignore[attr-defined]
    err = PartialFailure(
        f"{len(failures)} of {len(report.items)} files failed to {verb}",
        f"first: {failures[0].src}: {failures[0].error}; re-run the same command to resume",
        [(i.src, i.error) for i in failures],
    )
    err.report = report  # type: ignore[attr-defined]
    raise err


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
            return "skipped" if _same(p.src, pair, p.dst, found, checksum=True) else None

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
        if found is not None and _same(p.src, pair, p.dst, found, checksum=checksum):
            return "skipped"
        return None

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
