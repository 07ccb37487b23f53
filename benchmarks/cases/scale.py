"""How ``du`` and the bulk commands scale: keys, files and worker processes.

20k keys on the S3 server (the small-object tree), 200k and 1M keys in the
embedded local store (the local S3 server is too slow to fill with a million
objects).  Quick mode: 2k on S3, 20k and 100k locally.  A streaming ``du``
shows time linear in keys and flat client memory.

Files: scan + plan of 10,000 small NetCDF files (1,000 when quick) locally and
on the S3 server (time per file, peak RSS); convert of the NEMO set on a
2-worker process ``LocalCluster`` vs threads; index of 1,000 NetCDF objects
(100 when quick) on the cluster vs one process.  The cluster rows' times
exclude starting the cluster (see :mod:`benchmarks.cases._files`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..datasets import key_tree, nemo_set
from ..harness import Bench, Check, Measured, Row, measure, not_available, python_cmd
from . import _files
from ._common import BUCKET, cli_has, human_count, small_tree
from .du import ours_du

__all__ = ["NAME", "checks", "run"]

NAME = "scale"


def _label(count: int, where: str) -> str:
    return f"scale: du {human_count(count)} keys ({where})"


def run(bench: Bench) -> list[Row]:
    """Measure our ``du -s`` at each size."""
    tree = small_tree(bench)
    sizes = (20_000, 100_000) if bench.quick else (200_000, 1_000_000)
    locals_ = [key_tree(bench.store_home, bench.data_dir, n) for n in sizes]
    why = cli_has(bench, "du")
    rows = []
    for t, where in [(tree, "S3"), *((t, "local store") for t in locals_)]:
        case = _label(t.count, where)
        if why:
            rows.append(not_available(case, "jasmin-access du -s", why))
            continue
        row = _reuse(bench, case) if where == "S3" else None
        if row is None:
            m = ours_du(bench, t.url, t.count)
            if where != "S3":
                m.cmd = [bench.cli, "du", t.url, "-s", "--json"]
            row = measure(bench, case, m)
        if row.ok and row.seconds:
            row.note = (
                f"{row.seconds / t.count * 1e6:.1f} µs/key, {t.count / row.seconds:,.0f} keys/s"
            )
        rows.append(row)
    return rows + file_rows(bench)


def _timed(bench: Bench, case: str, func: str, per: int | None = None, **kw: object) -> Row:
    """A row for ``benchmarks.cases._files:func(**kw)`` in a fresh process."""
    m = Measured("jasmin-access", python_cmd(bench, f"benchmarks.cases._files:{func}", **kw),
                 env=bench.ours_env(), ours=True)  # fmt: skip
    row = measure(bench, case, m)
    if row.ok and row.seconds and per:
        row.note = (
            f"{row.seconds / per * 1e3:.1f} ms/file (whole process), peak RSS {row.rss_mb} MB"
        )
    return row


def file_rows(bench: Bench) -> list[Row]:
    """Scan + plan of many small files; convert and index on a process cluster vs threads."""
    assert bench.server is not None
    count = 1_000 if bench.quick else 10_000
    files = _files.tiny_set(str(bench.data_dir / f"tiny-{count}"), count)
    listing = bench.work_dir / "tiny.txt"
    listing.write_text("\n".join(files) + "\n")
    fs = bench.server.s3fs()
    if not fs.exists(f"{BUCKET}/tiny-{count}/{Path(files[-1]).name}"):
        fs.put(files, f"{BUCKET}/tiny-{count}/")
    rows = [
        _timed(bench, f"scale: plan {human_count(count)} files (local)", "plan_only", count,
               sources=f"@{listing}"),
        _timed(bench, f"scale: plan {human_count(count)} files (S3)", "plan_only", count,
               sources=f"s3://{BUCKET}/tiny-{count}/*.nc", profile="bench"),
    ]  # fmt: skip
    nemo, _ = nemo_set(bench.data_dir, bench.scale)
    sources = [str(p) for p in nemo]
    for sched in ("threads", "cluster"):
        rows.append(_timed(bench, f"scale: convert {len(nemo)} files ({sched})", "convert_with",
                           sources=sources, dest=f"s3://{BUCKET}/scale-{sched}.zarr",
                           scheduler=sched, profile="bench"))  # fmt: skip
    n_index = 100 if bench.quick else 1_000
    pattern = f"s3://{BUCKET}/tiny-{count}/tiny_000*.nc" if n_index == 1_000 else (
        f"s3://{BUCKET}/tiny-{count}/tiny_0000*.nc")  # fmt: skip
    for sched in ("threads", "cluster"):
        rows.append(_timed(bench, f"scale: index {n_index} objects ({sched})", "index_with",
                           sources=pattern, dest=f"s3://{BUCKET}/idx-{sched}.index.json",
                           scheduler=sched, profile="bench"))  # fmt: skip
    return rows


def _reuse(bench: Bench, case: str) -> Row | None:
    """The du case's measurement of the same S3 tree, when it ran in this run."""
    done = bench.cache.get("du_row")
    if done is None or not done.ok:
        return None
    return replace(done, case=case, note="", ratio=None)


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """Linear time in keys and flat client memory, between the two local-store sizes.

    Linear: the marginal cost per key between the two sizes is at most 1.5x the
    average cost per key at the smaller size (start-up time makes the average at
    small sizes high; a super-linear du shows a marginal cost far above it).
    """
    local = [r for r in rows if r.case.startswith("scale:") and "local store" in r.case]
    measured = [r for r in local if r.ok]
    target_t = "du time linear in keys (local store: marginal µs/key ≤ 1.5x average at the smaller)"
    target_m = "du client memory flat in keys (peak RSS at the largest ≤ 1.25x the smaller + 20 MB)"
    if len(measured) < 2:
        return [Check(target_t, "not measured", None), Check(target_m, "not measured", None)]
    small, large = measured[0], measured[-1]
    n_small, n_large = (_keys(r.case) for r in (small, large))
    t_small, t_large = float(small.seconds or 0.0), float(large.seconds or 0.0)
    average = t_small / n_small
    marginal = max(t_large - t_small, 0.0) / (n_large - n_small)
    rss_s, rss_l = small.rss_mb or 0.0, large.rss_mb or 0.0
    return [
        Check(
            target_t,
            f"marginal {marginal * 1e6:.1f} vs average {average * 1e6:.1f} µs/key",
            marginal <= 1.5 * average,
        ),
        Check(target_m, f"{rss_s:.0f} → {rss_l:.0f} MB", rss_l <= 1.25 * rss_s + 20),
    ]


def _keys(case: str) -> int:
    word = case.split(" du ", 1)[1].split()[0]
    factor = {"k": 1000, "M": 1_000_000}.get(word[-1], 1)
    return int(word.rstrip("kM")) * factor
