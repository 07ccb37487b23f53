"""``convert @list.txt`` over many distinct objects: client memory and time per file.

100,000 distinct small NetCDF objects (10,000 when quick) go onto the S3
server in prefixes of 1,000 (a directory per few years of daily files, as
model output is laid out), each with its own time step.  For lists of 10k,
30k and 100k of them (1k, 3k, 10k when quick), two steps run in a fresh
process each:

- *expand*: the list file read and every object sized (one listing per
  prefix, no HEAD per file), what ``convert`` does before opening anything;
- *plan*: expand, then scan (one open per object, byte ranges) and plan the
  store, with no write: the planning part of ``convert``; only up to
  :data:`PLAN_MAX` objects (the scan costs about 1.5 ms of client CPU a file,
  minutes at 100k on a shared two-core machine).

The table gives each step's peak RSS and time per file; the check is that the
client's memory grows by at most :data:`PER_FILE_GOAL` bytes a file between
the smallest and the largest list.
"""

from __future__ import annotations

import struct
from pathlib import Path

from ..harness import Bench, Check, Measured, Row, measure_group, python_cmd
from ._common import BUCKET, human_count
from ._files import write_tiny

__all__ = ["NAME", "PER_FILE_GOAL", "PLAN_MAX", "checks", "run"]

NAME = "lists"
PREFIX = "lists"
PER_PREFIX = 1_000
PLAN_MAX = 30_000  # largest list that is also scanned and planned
PER_FILE_GOAL = 1_000  # bytes of client memory a file, at most
_SENTINEL = 1.2345678901234567e300  # the template's time value, replaced per object


def _template(data_dir: Path) -> bytes:
    """A small NetCDF4 file (one step of a 4 x 5 field) whose time value is :data:`_SENTINEL`."""
    path = data_dir / "lists-template.nc"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        write_tiny(path, _SENTINEL, 7.0)
    blob = path.read_bytes()
    if blob.count(struct.pack("<d", _SENTINEL)) != 1:
        raise RuntimeError(f"{path}: the time value is not stored once, uncompressed")
    return blob


def object_key(i: int) -> str:
    """Key of the ``i``-th object under the bucket."""
    return f"{PREFIX}/d{i // PER_PREFIX:03d}/obj_{i:06d}.nc"


def upload(bench: Bench, count: int) -> None:
    """Put ``count`` distinct objects (their time step is their number), unless there already."""
    assert bench.server is not None
    fs = bench.server.s3fs()
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    if fs.exists(f"{BUCKET}/{object_key(count - 1)}"):
        return
    blob = _template(bench.data_dir)
    old = struct.pack("<d", _SENTINEL)
    batch: dict[str, bytes] = {}
    for i in range(count):
        batch[f"{BUCKET}/{object_key(i)}"] = blob.replace(old, struct.pack("<d", float(i)))
        if len(batch) >= 2_000:
            fs.pipe(batch, batch_size=64)
            batch = {}
    if batch:
        fs.pipe(batch, batch_size=64)


def _rows(bench: Bench, case: str, func: str, count: int, listing: Path) -> list[Row]:
    """This tree's row (and with ``--commit`` the revision's, run in turns with it)."""
    m = Measured("jasmin-access", python_cmd(bench, f"benchmarks.cases._files:{func}",
                                             sources=f"@{listing}", profile="bench"),
                 env=bench.ours_env(), ours=True)  # fmt: skip
    rows = measure_group(bench, case, [m])
    for row in rows:
        if row.ok and row.seconds:
            row.note = (f"{row.seconds / count * 1e3:.2f} ms/file (whole process), "
                        f"peak RSS {row.rss_mb or 0:.0f} MB")  # fmt: skip
    return rows


def run(bench: Bench) -> list[Row]:
    """Expand (and plan, up to :data:`PLAN_MAX`) lists of distinct objects."""
    sizes = (1_000, 3_000, 10_000) if bench.quick else (10_000, 30_000, 100_000)
    upload(bench, sizes[-1])
    rows = []
    for count in sizes:
        listing = bench.work_dir / f"list-{count}.txt"
        listing.write_text("".join(f"s3://{BUCKET}/{object_key(i)}\n" for i in range(count)))
        label = human_count(count)
        rows += _rows(bench, f"lists: expand {label} objects (S3)", "expand_only", count,
                      listing)  # fmt: skip
        if count <= PLAN_MAX:
            rows += _rows(bench, f"lists: plan {label} objects (S3)", "plan_only", count,
                          listing)  # fmt: skip
    return rows


def _count(case: str) -> int:
    word = case.split()[2]
    return int(float(word.rstrip("kM")) * {"k": 1000, "M": 1_000_000}.get(word[-1], 1))


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """Client memory a file, between the smallest and the largest list of each step."""
    out = []
    for step in ("expand", "plan"):
        done = sorted((r for r in rows if r.case.startswith(f"lists: {step} ") and r.ok and r.ours),
                      key=lambda r: _count(r.case))  # fmt: skip
        if len(done) < 2:
            continue
        small, big = done[0], done[-1]
        grow = ((big.rss_mb or 0.0) - (small.rss_mb or 0.0)) * 1e6
        per = grow / (_count(big.case) - _count(small.case))
        out.append(Check(f"{step}: client memory ≤ {PER_FILE_GOAL:,} bytes a file "
                         f"({human_count(_count(small.case))} → {human_count(_count(big.case))})",
                         f"{per:,.0f} bytes a file", per <= PER_FILE_GOAL))  # fmt: skip
    return out
