"""What users do to a pool: status, where, move (tiering), rebalance, adopt.

A move is a sequence of immutable records, so a reader always finds a whole
copy and an interrupted move (even by ``kill -9``) resumes where it stopped:

1. ``moving`` (backend = old, target = new): readers still read the old copy;
   the data is copied (already copied files are skipped) and both listings
   are compared.
2. ``moved`` (backend = new, source = old): readers switch to the verified
   new copy; then the old copy is deleted.
3. ``settled`` (backend = new): done.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ..errors import AlreadyExists, IntegrityError, InvalidInput, NotFound, QuotaExceeded
from ..fs.transfer import _copy_decision, finish, plan, run_plan
from ..stores import Location, resolve
from .config import Member
from .placement import Standing, choose
from .pool import Pool, exists, get_pool, requested
from .registry import CACHE_SECONDS, Record

__all__ = ["adopt", "move", "place", "rebalance", "status", "where"]

log = logging.getLogger(__name__)

GRACE_SECONDS = CACHE_SECONDS


def _split_pool_url(url: str) -> tuple[str, str]:
    if not url.startswith("pool://"):
        raise InvalidInput(f"{url} is not a pool URL", "write pool://NAME/DATASET")
    name, _, dataset = url[len("pool://") :].strip("/").partition("/")
    if not dataset or "/" in dataset:
        raise InvalidInput(f"{url} does not name one dataset", f"write pool://{name}/DATASET")
    return name, dataset


def _sizes(loc: Location) -> dict[str, int]:
    base = loc.path.rstrip("/")
    out = {}
    for page in loc.backend.walk_pages(base):
        for o in page:
            out[o.path[len(base) :].replace("\\", "/").lstrip("/")] = o.size
    if not out:
        obj = loc.backend.head(base)
        if obj is not None:
            out[""] = obj.size
    return out


def status(name: str, *, refresh: bool = False) -> list[dict[str, Any]]:
    """Per backend: used, quota, % full, datasets, reachable (usage from the cache, with its age).

    Parameters
    ----------
    refresh
        List every backend now instead of using the cached usage.
    """
    pool = get_pool(name)
    usage, when = ({}, None) if refresh else pool.registry.usage()
    if when is None or set(usage) != {m.id for m in pool.d.members}:
        usage = pool.measure()
        when = pool.registry.usage()[1]
    standings = pool.standings()
    rows = []
    for m in pool.d.members:
        u, st = usage.get(m.id, {}), standings[m.id]
        pct = st.percent_full
        rows.append(
            {
                "pool": name,
                "backend": m.id,
                "url": m.url,
                "order" if pool.d.type == "hierarchical" else "weight": (
                    m.order if pool.d.type == "hierarchical" else m.weight
                ),
                "used": u.get("used"),
                "quota": m.quota,
                "percent_full": round(pct, 1) if pct is not None else None,
                "max_percent_full": m.max_percent_full,
                "datasets": u.get("datasets"),
                "reachable": "error" not in u,
                "error": u.get("error"),
                "accepts_new": st.refusal(None, read_only_weight=True) is None,
                "usage_time": when.isoformat() if when else None,
                "usage_age_s": round((datetime.now(UTC) - when).total_seconds()) if when else None,
            }
        )
    return rows


def where(url: str) -> dict[str, Any]:
    """Which backend holds ``pool://NAME/DATASET`` and why it was chosen."""
    name, dataset = _split_pool_url(url)
    pool = get_pool(name)
    rec = pool.registry.current(dataset, fresh=True)
    if rec is None:
        found = pool.search(dataset)
        rec = found[1] if found else None
    if rec is None:
        choice = pool.place(dataset)
        loc = pool.member_location(choice.member, dataset)
        return {
            "url": url,
            "backend": choice.member.id,
            "location": loc.url,
            "state": "absent",
            "why": f"not written yet; would go there by {choice.why}",
        }
    rec = pool.registry.details(rec)
    loc = pool.member_location(rec.backend, dataset)
    return {
        "url": url,
        "backend": rec.backend,
        "location": loc.url,
        "state": rec.state,
        "why": rec.why,
        "since": rec.time.isoformat(),
        "target": rec.target,
        "source": rec.source,
    }


def place(
    url: str, *, size: int | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Choose and record the backend for a new dataset before anything is written.

    Raises
    ------
    AlreadyExists
        When the dataset is already stored (move it instead).
    QuotaExceeded
        When no allowed backend has room for ``size`` more bytes.
    """
    name, dataset = _split_pool_url(url)
    asked_size, asked_labels = requested()  # --label, JASMIN_ACCESS_POOL_LABELS, placing()
    size = size if size is not None else asked_size
    labels = {**asked_labels, **(labels or {})}
    pool = get_pool(name)
    rec = pool.registry.current(dataset, fresh=True)
    held = rec if rec is not None and exists(pool.member_location(rec.backend, dataset)) else None
    if held is None and rec is None and (found := pool.search(dataset)) is not None:
        held = found[1]
    if held is not None:
        raise AlreadyExists(
            f"{url} is already stored on {held.backend}",
            f"move it with `jasmin-access pool move {url} --to BACKEND`",
        )
    choice = pool.place(dataset, size=size, labels=labels)
    pool.registry.write(Record(dataset, choice.member.id, "placed", why=choice.why, size=size))
    return {"url": url, "backend": choice.member.id, "why": choice.why}


def move(
    url: str, to: str, *, progress: bool = False, workers: int = 8, grace: float = GRACE_SECONDS
) -> dict[str, Any]:
    """Move a dataset to backend ``to``: copy, verify, switch the record, delete the old copy.

    Re-running an interrupted move resumes it.

    Parameters
    ----------
    grace
        Seconds between switching the record and deleting the old copy, so that
        other processes which looked the dataset up just before the switch
        (and trust that answer for a minute) still find a whole copy.

    Raises
    ------
    InvalidInput
        When another move of the dataset is under way, or ``to`` is unknown.
    QuotaExceeded
        When ``to`` has no room for the dataset.
    """
    name, dataset = _split_pool_url(url)
    pool = get_pool(name)
    target = pool.d.member(to)
    rec, src = _under_way(pool, dataset, url, to)
    if src is None:
        return {"url": url, "backend": to, "moved": False, "bytes": 0}
    src_loc, dst_loc = pool.member_location(src, dataset), pool.member_location(target, dataset)
    size = sum(_sizes(src_loc).values()) if rec.state != "moved" else rec.size
    if rec.state not in ("moving", "moved"):
        _check_room(pool, target, size)
        why = f"moving to {to}"
        moving = Record(dataset, src.id, "moving", why=why, target=to, source=src.id, size=size)
        rec = pool.registry.write(moving)
    if rec.state == "moving":
        _copy(src_loc, dst_loc, progress, workers)
        moved = Record(dataset, to, "moved", why=f"moved from {src.id}", source=src.id, size=size)
        rec = pool.registry.write(moved)
    time.sleep(max(0.0, grace - (datetime.now(UTC) - rec.time).total_seconds()))
    _delete(src_loc)
    pool.registry.write(Record(dataset, to, "settled", why=f"moved from {src.id}", size=size))
    log.info("pool %s: %s moved from %s to %s", name, dataset, src.id, to)
    return {"url": url, "backend": to, "from": src.id, "moved": True, "bytes": size}


def _under_way(pool: Pool, dataset: str, url: str, to: str) -> tuple[Record, Member | None]:
    """The current record and the backend to move from (None: already on ``to``)."""
    rec = pool.registry.current(dataset, fresh=True) or _found(pool, dataset)
    if rec.state not in ("moving", "moved"):
        return rec, None if rec.backend == to else pool.d.member(rec.backend)
    rec = pool.registry.details(rec)  # the target or source is in the body
    going = rec.target if rec.state == "moving" else rec.backend
    if going != to:
        raise InvalidInput(
            f"{url} is being moved to {going}",
            f"finish that first: jasmin-access pool move {url} --to {going}",
        )
    return rec, pool.d.member(rec.backend if rec.state == "moving" else str(rec.source))


def _found(pool: Pool, dataset: str) -> Record:
    found = pool.search(dataset)
    if found is None:
        raise NotFound(
            f"pool://{pool.name}/{dataset} exists on no backend",
            f"list the pool with `jasmin-access ls pool://{pool.name}/`",
        )
    return found[1]


def _check_room(pool: Pool, target: Member, size: int | None) -> None:
    st = pool.standings().get(target.id, Standing(target))
    refusal = st.refusal(size, read_only_weight=True)
    if refusal:
        raise QuotaExceeded(f"cannot move to {refusal}", "choose another backend with --to")


def _copy(src: Location, dst: Location, progress: bool, workers: int) -> None:
    p = plan(src, dst, recursive=True)
    report = run_plan(
        p, _copy_decision(False)(p), dry_run=False, workers=workers, progress=progress, label="move"
    )
    finish(report, p.single, "move")
    want, got = _sizes(src), _sizes(dst)
    if want != got:
        missing = sorted(set(want.items()) - set(got.items()))[:3]
        raise IntegrityError(
            f"copy of {src.url} to {dst.url} did not verify (differs: {missing})",
            "re-run the same move to resume it",
        )


def _delete(loc: Location) -> None:
    if not exists(loc):
        loc.backend.remove_empty_dirs(loc.path)  # an earlier run deleted the files
        return
    doomed = [o.path for page in loc.backend.walk_pages(loc.path.rstrip("/")) for o in page]
    obj = None if doomed else loc.backend.head(loc.path)
    failures, _ = loc.backend.delete_many(doomed or ([obj.path] if obj else []))
    if failures:
        raise IntegrityError(
            f"old copy at {loc.url} not fully deleted: {failures[0][1]}",
            "re-run the same move to finish it",
        )
    loc.backend.remove_empty_dirs(loc.path)


@dataclass(frozen=True)
class Step:
    """One move a rebalance makes."""

    dataset: str
    src: str
    dst: str
    size: int


def rebalance(
    name: str, *, dry_run: bool = False, grace: float = GRACE_SECONDS
) -> list[dict[str, Any]]:
    """Move datasets off backends over quota or ``max_percent_full``, largest first.

    ``grace`` is passed to each :func:`move`.
    """
    pool = get_pool(name)
    standings = pool.standings(refresh=True)
    steps: list[Step] = []
    for m in pool.d.members:
        st = standings[m.id]
        if st.error or st.refusal(0, read_only_weight=False) is None:
            continue
        base = pool.member_location(m)
        sizes = _dataset_sizes(base)
        used = st.used or 0
        for dataset, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
            others = {k: v for k, v in standings.items() if k != m.id}
            others[m.id] = Standing(m, error="being drained")
            choice = choose(pool.d, dataset, others, size=size)
            steps.append(Step(dataset, m.id, choice.member.id, size))
            used -= size
            standings[choice.member.id] = _grown(standings[choice.member.id], size)
            if replace(st, used=used).refusal(0, read_only_weight=False) is None:
                break
    out = []
    for s in steps:
        row = {"dataset": s.dataset, "from": s.src, "to": s.dst, "bytes": s.size, "done": False}
        if not dry_run:
            move(f"pool://{name}/{s.dataset}", s.dst, grace=grace)
            row["done"] = True
        out.append(row)
    return out


def _grown(st: Standing, size: int) -> Standing:
    return replace(st, used=(st.used or 0) + size)


def _dataset_sizes(base: Location) -> dict[str, int]:
    out: dict[str, int] = {}
    for rel, size in _sizes(base).items():
        top = rel.split("/", 1)[0]
        if top and not top.startswith("."):
            out[top] = out.get(top, 0) + size
    return out


def adopt(name: str, url: str) -> dict[str, Any]:
    """Record data already stored under one of the pool's backends (nothing is copied)."""
    pool = get_pool(name)
    for m in pool.d.members:
        base = pool.member_location(m)
        loc = resolve(url, profile=m.profile)  # the URL as this backend's profile sees it
        if base.backend.identity != loc.backend.identity:
            continue
        prefix = base.path.rstrip("/") + "/"
        if loc.path.startswith(prefix):
            dataset = loc.path[len(prefix) :].replace("\\", "/").split("/", 1)[0]
            if not exists(pool.member_location(m, dataset)):
                raise NotFound(f"nothing is stored at {url}", "check the URL with ls")
            rec = pool.registry.write(Record(dataset, m.id, "adopted", why=f"adopted from {url}"))
            return {"url": f"pool://{name}/{dataset}", "backend": m.id, "state": rec.state}
    raise InvalidInput(
        f"{url} is not under any backend of pool '{name}'",
        f"copy it in instead: jasmin-access cp -r {url} pool://{name}/DATASET",
    )
