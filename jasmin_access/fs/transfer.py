"""``cp``, ``mv`` and ``sync`` across S3, https (read-only), the embedded store and local paths.

Files move in parallel (bounded), big files in parallel multipart parts;
every upload and download is verified against the ETag (MD5, or the
multipart ETag); downloads land in a temporary file renamed into place; files
already present with the same size and checksum are skipped, so re-running an
interrupted copy resumes it.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fsspec import asyn

from .. import paths
from ..errors import (
    BucketNotFound,
    IntegrityError,
    InvalidInput,
    JasminAccessError,
    PartialFailure,
    translate,
    translating,
)
from ..stores import TMP_PREFIX, Location
from . import _transfer_async as engine
from . import checksums
from ._backend import Obj, bucket_exists, head, is_remote, list_level, locate, walk_pages
from .listing import _missing, _split_glob
from .records import TransferItem, TransferReport
from .remove import delete_paths, is_root, refuse_root, remove_empty_dirs

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
    return paths.has_magic(loc.key if loc.kind != "local" else loc.path)


def _dst_is_dir(loc: Location) -> bool:
    if loc.url.endswith("/") or (loc.kind != "local" and not loc.key):
        return True
    if not is_remote(loc):
        return os.path.isdir(loc.path)
    return list_level(loc, loc.path) != ([], [])


def _join(loc: Location, base: str, rel: str) -> str:
    if not rel:
        return base
    return paths.join(base, rel) if is_remote(loc) else os.path.join(base, *rel.split("/"))


def _sources(src: Location, recursive: bool) -> tuple[str, list[Obj], bool]:
    """``(base, objects, single)``: what to copy and the prefix it is relative to."""
    if _is_glob(src):
        base, _ = _split_glob(src)
        objs = [o for p in walk_pages(src, base) for o in p if paths.match_glob(src.path, o.path)]
        return base, objs, False
    base = src.path.rstrip("/")
    obj = None if src.url.endswith("/") else head(src, base)
    if recursive:
        objs = [o for p in walk_pages(src, base) for o in p]
        if objs:
            return base, objs, False
    if obj is not None:
        return paths.parent(base) if is_remote(src) else os.path.dirname(base), [obj], True
    if list_level(src, base) != ([], []):
        raise InvalidInput(f"{src.url} is a prefix (a directory)", "use -r to copy it")
    raise _missing(src)


def plan(src: Location, dst: Location, recursive: bool) -> Plan:
    """Work out the pairs and list what already exists at the destination."""
    with translating("listing", src.url, src.profile_name):
        base, objs, single = _sources(src, recursive)
    if dst.kind != "local" and not bucket_exists(dst):
        raise BucketNotFound(f"bucket '{dst.bucket}' does not exist ({dst.url})")
    cut = len(base.rstrip("/")) + 1 if base else 0
    with translating("listing", dst.url, dst.profile_name):
        if single:
            rel = paths.basename(objs[0].path)
            target = _join(dst, dst.path, rel) if _dst_is_dir(dst) else dst.path
            pairs = [Pair(objs[0], target, rel)]
            found = head(dst, target)
            existing = {target: found} if found else {}
            return Plan(src, dst, pairs, existing, True, dst.path)
        dst_base = dst.path.rstrip("/") or dst.path
        pairs = [Pair(o, _join(dst, dst_base, o.path[cut:]), o.path[cut:]) for o in objs]
        existing = {o.path: o for page in walk_pages(dst, dst_base) for o in page}
    return Plan(src, dst, pairs, existing, False, dst_base)


# --------------------------------------------------------------------------- one file


def _same(src_loc: Location, pair: Pair, dst_loc: Location, found: Obj, checksum: bool) -> bool:
    """True when the destination already holds the source's content."""
    if found.size != pair.src.size:
        return False
    if not checksum:
        return True
    if is_remote(src_loc) and is_remote(dst_loc):
        return bool(pair.src.etag) and pair.src.etag == found.etag
    if is_remote(dst_loc):
        return checksums.etag_matches(pair.src.path, found.etag) is True
    if is_remote(src_loc):
        return checksums.etag_matches(found.path, pair.src.etag) is True
    return checksums.local_etag(pair.src.path) == checksums.local_etag(found.path)


def _content_type(local_path: str) -> dict[str, str]:
    content_type = mimetypes.guess_type(local_path)[0]
    return {"ContentType": content_type} if content_type else {}


def _noop(_: int) -> None:
    return None


Tick = Callable[[int], None]


def _put_small(local_path: str, dst: Location, target: str, what: str, tick: Tick) -> None:
    """One PUT from memory; the MD5 of those bytes must equal the ETag returned."""
    bucket, key = paths.split_bucket(target)
    extra = _content_type(local_path)
    expected, got = asyn.sync(
        dst.fs.loop, engine.upload_single, dst.fs, local_path, bucket, key, extra, tick
    )
    dst.fs.invalidate_cache(target)
    if got and got != expected:
        raise IntegrityError(
            f"upload of {what} did not verify: sent MD5 {expected}, store reports {got}",
            "re-run the same command to upload it again",
        )


def _upload(local_path: str, dst: Location, target: str, what: str, tick: Tick = _noop) -> None:
    size = os.path.getsize(local_path)
    chunk = checksums.part_size(size)
    if not checksums.is_multipart(size, chunk):
        return _put_small(local_path, dst, target, what, tick)
    bucket, key = paths.split_bucket(target)
    expected, got = asyn.sync(
        dst.fs.loop,
        engine.upload_multipart,
        dst.fs,
        local_path,
        bucket,
        key,
        chunk,
        _content_type(local_path),
        tick,
    )
    dst.fs.invalidate_cache(target)
    if not got:  # a store that does not report the ETag on completion
        landed = head(dst, target)
        got = (landed.etag or expected) if landed and landed.size == size else "nothing"
    if got != expected:
        raise IntegrityError(
            f"upload of {what} did not verify: expected ETag {expected}, store has {got}",
            "re-run the same command to upload it again",
        )


def _prepare_local(target: str) -> None:
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise _same_name(target)
    try:
        os.makedirs(directory, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise _same_name(target) from exc


def _same_name(target: str) -> InvalidInput:
    return InvalidInput(
        f"cannot write {target}: a local store cannot hold an object and a prefix "
        "with the same name",
        "choose another destination name",
    )


def _place(tmp: str, target: str) -> None:
    os.chmod(tmp, 0o644)
    try:
        os.replace(tmp, target)
    except (IsADirectoryError, NotADirectoryError) as exc:
        raise _same_name(target) from exc


@contextmanager
def _temp_beside(target: str) -> Iterator[str]:
    _prepare_local(target)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=os.path.dirname(target))
    os.close(fd)
    try:
        yield tmp
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _download(src: Location, obj: Obj, target: str, what: str, tick: Tick = _noop) -> None:
    """Stream ``obj`` into a temporary file beside ``target``, verified as it arrives."""
    bucket, key = paths.split_bucket(obj.path)
    with _temp_beside(target) as tmp:
        digest = asyn.sync(
            src.fs.loop, engine.download, src.fs, bucket, key, obj.size, obj.etag, tmp, tick
        )
        if digest.done != obj.size:
            raise IntegrityError(
                f"size mismatch for {what}: expected {obj.size} bytes, got {digest.done}",
                "re-run the same command to transfer it again",
            )
        if obj.etag and digest.etag() != obj.etag:
            if "-" not in obj.etag:
                raise IntegrityError(
                    f"checksum mismatch for {what}: content does not match ETag {obj.etag}",
                    "re-run the same command to transfer it again",
                )
            checksums.verify_file(tmp, obj.size, obj.etag, what)  # other part sizes
        _place(tmp, target)


def _local_copy(obj: Obj, target: str, what: str) -> None:
    with _temp_beside(target) as tmp:
        shutil.copyfile(obj.path, tmp)
        if checksums.local_etag(tmp) != checksums.local_etag(obj.path):
            raise IntegrityError(f"copy of {what} does not match its source", "re-run the copy")
        _place(tmp, target)


def _server_copy(loc: Location, obj: Obj, target: str, what: str) -> None:
    loc.fs.copy(obj.path, target)
    landed = head(loc, target)
    multipart = bool(obj.etag and "-" in obj.etag)
    if (
        landed is None
        or landed.size != obj.size
        or (not multipart and obj.etag and landed.etag != obj.etag)
    ):
        raise IntegrityError(f"server-side copy of {what} did not verify", "re-run the copy")


def transfer_one(src: Location, dst: Location, obj: Obj, target: str, tick: Tick = _noop) -> None:
    """Copy one object/file from ``src`` to the fs path ``target`` on ``dst``, verified.

    ``tick(n)`` is called as ``n`` more bytes have moved (uploads and downloads).
    """
    what = src.to_url(obj.path)
    if not is_remote(src) and not is_remote(dst):
        _local_copy(obj, target, what)
    elif not is_remote(src):
        _upload(obj.path, dst, target, what, tick)
    elif not is_remote(dst):
        _download(src, obj, target, what, tick)
    elif src.fs is dst.fs and src.kind == dst.kind:
        _server_copy(src, obj, target, what)
    else:
        with tempfile.TemporaryDirectory(prefix=TMP_PREFIX) as tmpdir:
            relay = os.path.join(tmpdir, "relay")
            _download(src, obj, relay, what)
            _upload(relay, dst, target, what)


# --------------------------------------------------------------------------- running a plan


class _Bar:
    """A rich progress bar on stderr (or nothing)."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self.progress: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )

            self.progress = Progress(
                TextColumn(label),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.task = self.progress.add_task(label, total=total)

    def __enter__(self) -> _Bar:
        if self.progress is not None:
            self.progress.start()
        return self

    def advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


Decide = Callable[[Pair], str | None]


def run_plan(
    p: Plan, decide: Decide, *, dry_run: bool, workers: int, progress: bool, label: str
) -> TransferReport:
    """Run ``transfer_one`` for each pair that ``decide`` does not settle (bounded threads)."""
    report = TransferReport(dry_run=dry_run)
    total = sum(pair.src.size for pair in p.pairs)
    bar = _Bar(progress and not dry_run, total, label)

    def one(pair: Pair) -> TransferItem:
        item = TransferItem(p.src.to_url(pair.src.path), p.dst.to_url(pair.dst), pair.src.size, "")
        verdict = decide(pair)
        if verdict is not None:
            item.status = verdict
        elif dry_run:
            item.status = "would-copy"
        else:
            moved = _copy(p, pair, item, bar)
            bar.advance(item.size - moved)  # the rest (skipped, failed, not streamed)
            return item
        bar.advance(item.size)
        return item

    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(p.pairs) or 1)))
    with bar, pool:
        report.items.extend(pool.map(one, p.pairs))
    return report


def _copy(p: Plan, pair: Pair, item: TransferItem, bar: _Bar) -> int:
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


def cp(
    src: str,
    dst: str,
    *,
    recursive: bool = False,
    no_clobber: bool = False,
    workers: int = WORKERS,
    progress: bool = False,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> TransferReport:
    """Copy a file/object, a glob's matches, or (``recursive``) a prefix.

    ``cp -r SRC DST`` copies the contents of ``SRC`` into ``DST`` (``SRC/a/b``
    lands at ``DST/a/b``), so re-running it resumes rather than nesting.  A
    single file copied to a directory (existing, or ending in ``/``) keeps its
    name.

    Parameters
    ----------
    no_clobber
        Never overwrite: existing destination files are left alone.
    workers
        Files transferred at once.
    progress
        Show a rich progress bar on stderr.

    Returns
    -------
    TransferReport
        One item per file: copied, skipped (same size and checksum already
        there) or exists (kept, ``no_clobber``).

    Raises
    ------
    PartialFailure
        When some files failed (``.report`` holds the report); a single file's
        own error is raised as is.
    """
    kw = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    p = plan(*_locations(src, dst, kw), recursive)

    def decide(pair: Pair) -> str | None:
        found = p.existing.get(pair.dst)
        if found is None:
            return None
        if no_clobber:
            return "exists"
        return "skipped" if _same(p.src, pair, p.dst, found, checksum=True) else None

    report = run_plan(p, decide, dry_run=False, workers=workers, progress=progress, label="cp")
    return finish(report, p.single, "copy")


def mv(
    src: str,
    dst: str,
    *,
    recursive: bool = False,
    no_clobber: bool = False,
    workers: int = WORKERS,
    progress: bool = False,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> TransferReport:
    """Move: copy (verified), then delete each source whose copy verified.

    Sources that failed to copy, or were kept because the destination exists
    (``no_clobber``), are not deleted.
    """
    kw = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    src_loc, dst_loc = _locations(src, dst, kw)
    src_loc.require_writable()
    p = plan(src_loc, dst_loc, recursive)

    def decide(pair: Pair) -> str | None:
        found = p.existing.get(pair.dst)
        if found is None:
            return None
        if no_clobber:
            return "exists"
        return "skipped" if _same(p.src, pair, p.dst, found, checksum=True) else None

    report = run_plan(p, decide, dry_run=False, workers=workers, progress=progress, label="mv")
    done = {i.src for i in report.items if i.status in ("copied", "skipped")}
    gone = [pair.src.path for pair in p.pairs if src_loc.to_url(pair.src.path) in done]
    failures, _ = delete_paths(src_loc, gone)
    if src_loc.kind == "local" and not p.single:
        remove_empty_dirs(src_loc.path)
    for url, message in failures:
        report.items.append(TransferItem(url, "", 0, "failed", f"source not deleted: {message}"))
    return finish(report, p.single and not failures, "move")


def sync(
    src: str,
    dst: str,
    *,
    delete: bool = False,
    dry_run: bool = False,
    checksum: bool = False,
    force: bool = False,
    workers: int = WORKERS,
    progress: bool = False,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> TransferReport:
    """Make ``dst`` hold what ``src`` holds: copy new and changed files.

    Parameters
    ----------
    delete
        Also delete destination files that are not in ``src`` (opt-in).
    dry_run
        Report what would be copied (``would-copy``) and deleted (``would-delete``).
    checksum
        Compare checksums too when sizes are equal (default: size only).
    force
        Allow ``delete`` on a bucket root.
    """
    kw = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    src_loc, dst_loc = _locations(src, dst, kw)
    if delete and is_root(dst_loc) and not force:
        refuse_root(dst_loc, "sync --delete into")
    p = plan(src_loc, dst_loc, recursive=True)

    def decide(pair: Pair) -> str | None:
        found = p.existing.get(pair.dst)
        if found is not None and _same(p.src, pair, p.dst, found, checksum=checksum):
            return "skipped"
        return None

    report = run_plan(p, decide, dry_run=dry_run, workers=workers, progress=progress, label="sync")
    if delete:
        _sync_delete(p, report, dry_run)
    return finish(report, False, "sync")


def _sync_delete(p: Plan, report: TransferReport, dry_run: bool) -> None:
    wanted = {pair.dst for pair in p.pairs}
    extra = [
        o
        for o in p.existing.values()
        if o.path not in wanted and paths.is_within(p.dst_base, o.path)
    ]
    status = "would-delete" if dry_run else "deleted"
    failed: dict[str, str] = {}
    if not dry_run:
        failed = dict(delete_paths(p.dst, [o.path for o in extra])[0])
    for o in extra:
        url = p.dst.to_url(o.path)
        error = failed.get(url)
        report.items.append(TransferItem("", url, o.size, "failed" if error else status, error))
