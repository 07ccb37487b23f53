"""Planning and running one transfer: source objects paired with destination paths.

:func:`plan` lists what to copy and what is already at the destination;
:func:`run_plan` moves the pairs (in bounded threads, or on other processes)
and :func:`finish` turns failures into errors.  ``cp``, ``mv`` and ``sync``
(:mod:`.transfer`) are built on these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import paths
from ..errors import InvalidInput, JasminAccessError, PartialFailure, translate, translating
from ..execution import status_sink
from ..stores import Location
from ._backend import Obj, bucket_exists, head, list_level, prefix_exists, walk_pages
from ._progress import Bar
from ._single import same_content, transfer_one
from ._spread import copy_items, spreads
from .listing import _missing, _split_glob, missing_bucket, no_match
from .records import TransferItem, TransferReport

__all__ = ["CHECK", "Decide", "Pair", "Plan", "compare", "finish", "plan", "run_plan"]

log = logging.getLogger(__name__)


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


#: A decision's answer "the sizes agree: compare checksums, then skip or copy".  Where the
#: files are copied by other processes, that comparison (which may read a local file
#: whole) runs there, in the copy task, not in this process.
CHECK = "check"


def compare(pair: Pair, found: Obj, checksum: bool) -> str | None:
    """What to do with ``pair`` when ``found`` is at its destination: copy (None), skip, or check.

    Only metadata (sizes) is compared here; ``checksum`` asks for :data:`CHECK`
    when the sizes agree.
    """
    if found.size != pair.src.size:
        return None
    return CHECK if checksum else "skipped"


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
    later: list[tuple[Pair, Obj | None, TransferItem]] = []

    def one(pair: Pair) -> TransferItem:
        item = TransferItem(p.src.to_url(pair.src.path), p.dst.to_url(pair.dst), pair.src.size, "")
        verdict, found = decide(pair), None
        if verdict == CHECK:
            found = p.existing[pair.dst]
            if not elsewhere:  # here: compare now (the workers do it in their tasks)
                same = same_content(p.src, pair.src, p.dst, found)
                verdict, found = ("skipped" if same else None), None
        if verdict is not None and verdict != CHECK:
            item.status = verdict
        elif dry_run:
            item.status = "would-copy"
        elif elsewhere:
            later.append((pair, found, item))
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
            todo = [(pair.src, pair.dst, found, item) for pair, found, item in later]
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
