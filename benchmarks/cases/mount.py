"""Datastore mount: a sequential read of one large file, and ``ls -lR`` of 100k entries.

Read: a ~1 GiB file (incompressible bytes with a NetCDF name) is the only
file of a datastore version; ``cp`` copies it out of the mounted version
onto local disk, freshly mounted with an empty block cache for every run.
Peers copy the same bytes, stored as a plain object on the same server,
onto the same local disk: ``jasmin-access cp`` and ``rclone copy``.  Runs
alternate (mount, cp, rclone, mount, ...); the target is the mount at 70 %
or more of each peer's MB/s.

Listing: a version of 100,000 files in 100 directories (the manifest
written straight to the store: a listing never reads the objects).
``ls -lR`` cold (mounted afresh before each run) and warm (the same mount,
listed once before); the target is under 2 s with no LIST request.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from ..harness import Bench, Check, Measured, Row, find_row, measure, measure_group
from ._common import BUCKET, arrived, cli_has
from ._common import set_up_cli as _cli

__all__ = ["NAME", "checks", "run"]

NAME = "mount"
READ_CASE = "datastore mount: sequential read of one large file"
LSR_CASE = "datastore mount: ls -lR of a version's entries"
OURS_READ = "cp out of the datastore mount"
PEERS_READ = ("jasmin-access cp (plain object)", "rclone copy (plain object)")


def _entries(bench: Bench) -> int:
    return 10_000 if bench.quick else 100_000


def _mount(bench: Bench, url: str, mnt: Path) -> None:
    """(Re)mount ``url`` at ``mnt`` with an empty block cache (set-up, not measured)."""
    if os.path.ismount(mnt):
        _cli(bench, "datastore", "unmount", str(mnt))
    cache = bench.work_dir / f"{mnt.name}-cache"
    shutil.rmtree(cache, ignore_errors=True)
    mnt.mkdir(parents=True, exist_ok=True)
    _cli(bench, "datastore", "mount", url, str(mnt), "--cache-dir", str(cache),
         "--cache-size", "2GiB")  # fmt: skip


def _big_file(bench: Bench, size: int) -> Path:
    path = bench.data_dir / f"big-{size}" / "big.nc"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.stat().st_size != size:
        with open(path, "wb") as fh:
            block = hashlib.sha256(b"seed").digest() * (1 << 15)  # 1 MiB, not compressible
            for i in range(size // len(block)):
                fh.write(hashlib.sha256(str(i).encode()).digest() + block[32:])
    return path


def _wide_version(bench: Bench, url: str, n: int) -> None:
    """A version of ``n`` files in 100 directories, written straight to the store."""
    import numpy as np

    from jasmin_access.datastore import layout
    from jasmin_access.datastore.manifest import Manifest, encode

    assert bench.server is not None
    fs = bench.server.s3fs()
    keys = sorted(f"d{i % 100:03d}/f{i:07d}.nc" for i in range(n))
    digests = b"".join(hashlib.sha256(k.encode()).digest() for k in keys)
    m = Manifest(id=layout.new_version_id(), parent=None, created="", author="bench", message="",
                 keys=keys, digests=digests,
                 sizes=np.arange(1000, 1000 + n, dtype="<u8"))  # fmt: skip
    base = url.removeprefix("s3://")
    fs.pipe(f"{base}/{layout.MARKER}", b'{"format": "jasmin-access datastore", "layout": 1}')
    fs.pipe(f"{base}/{layout.manifest_key(m.id)}", encode(m))


def _lines(n: int) -> object:
    """A check: ``ls -lR | wc -l`` printed at least one line per entry."""

    def check(run: object) -> str:
        got = int(str(getattr(run, "stdout", "0")).split()[0])
        if got < n:
            raise ValueError(f"ls -lR printed {got} lines for {n} entries")
        return ""

    return check


def run_read(bench: Bench) -> list[Row]:
    """``cp`` out of the mount against ``jasmin-access cp`` and ``rclone copy``."""
    assert bench.server is not None
    fs = bench.server.s3fs()
    size = (64 if bench.quick else 1024) << 20
    big = _big_file(bench, size)
    url = f"s3://{BUCKET}/{bench.run_id}-mnt"
    _cli(bench, "datastore", "create", url, "--from", str(big.parent))
    plain = f"{BUCKET}/{bench.run_id}-plain"
    fs.put(str(big), f"{plain}/big.nc")
    mnt = bench.work_dir / "mnt"
    out = bench.work_dir / "read-out"

    def fresh() -> None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

    def mounted() -> None:
        fresh()
        _mount(bench, url, mnt)

    dest = out / "big.nc"
    landed = arrived(lambda: dest.stat().st_size if dest.exists() else -1, size)
    group = [Measured(OURS_READ, ["cp", str(mnt / "big.nc"), str(dest)], ours=True,
                      nbytes=size, before=mounted, check=landed),
             Measured(PEERS_READ[0], [bench.cli, "cp", f"s3://{plain}/big.nc", str(dest),
                                      "-p", "bench"],
                      env=bench.ours_env(), nbytes=size, before=fresh, check=landed)]  # fmt: skip
    peers = bench.peers
    if peers is not None and peers.have("rclone"):
        cmd, env = peers.rclone("copy", f"bench:{plain}/big.nc", str(out))
        group.append(Measured(PEERS_READ[1], cmd, env=env, nbytes=size, before=fresh,
                              check=landed))  # fmt: skip
    rows = measure_group(bench, READ_CASE, group)
    _cli(bench, "datastore", "unmount", str(mnt))
    shutil.rmtree(out, ignore_errors=True)
    return rows


def run_listing(bench: Bench) -> list[Row]:
    """``ls -lR`` of the 100k-entry version, cold then warm."""
    n = _entries(bench)
    url = f"s3://{BUCKET}/{bench.run_id}-wide"
    _wide_version(bench, url, n)
    cold_mnt, warm_mnt = bench.work_dir / "mnt-cold", bench.work_dir / "mnt-warm"
    _mount(bench, url, warm_mnt)
    subprocess.run(["ls", "-lR", str(warm_mnt)], capture_output=True, check=True)
    rows = []
    for label, mnt, before in (
        ("cold", cold_mnt, lambda: _mount(bench, url, cold_mnt)),
        ("warm", warm_mnt, None),
    ):
        rows.append(measure(bench, LSR_CASE, Measured(
            f"ls -lR through the mount, {label} ({n} entries)",
            ["sh", "-c", f"ls -lR {mnt} | wc -l"], ours=True, before=before,
            check=_lines(n))))  # fmt: skip
    for mnt in (cold_mnt, warm_mnt):
        if os.path.ismount(mnt):
            _cli(bench, "datastore", "unmount", str(mnt))
    return rows


def run(bench: Bench) -> list[Row]:
    """The sequential read, then the listings."""
    why = cli_has(bench, "datastore")
    if why:
        return [Row(READ_CASE, OURS_READ, True, status="not available", note=why)]
    assert bench.server is not None
    fs = bench.server.s3fs()
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    return run_read(bench) + run_listing(bench)


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """The mount's MB/s against each peer's, and the listing times and LIST counts."""
    out = []
    ours = find_row(rows, READ_CASE, OURS_READ)
    for peer in PEERS_READ:
        theirs = find_row(rows, READ_CASE, peer)
        target = f"sequential read through the mount ≥ 70% of {peer.split(' (')[0]}"
        if ours and theirs and ours.ok and theirs.ok and ours.mb_s and theirs.mb_s:
            share = ours.mb_s / theirs.mb_s
            out.append(Check(target, f"{share:.0%} ({ours.mb_s:.0f} vs {theirs.mb_s:.0f} MB/s)",
                             share >= 0.7))  # fmt: skip
        else:
            out.append(Check(target, "not measured", None))
    n = _entries(bench)
    for label in ("cold", "warm"):
        row = find_row(rows, LSR_CASE, f"ls -lR through the mount, {label} ({n} entries)")
        target = f"ls -lR of {n} entries through the mount, {label}: < 2 s, no LIST request"
        if row is None or not row.ok:
            out.append(Check(target, "not measured", None))
            continue
        lists = row.requests.kinds.get("LIST", 0) if row.requests else 0
        total = row.requests.total if row.requests else 0
        out.append(Check(target, f"{row.seconds:.2f} s, {total} requests ({lists} LIST)",
                         (row.seconds or 99) < 2.0 and lists == 0))  # fmt: skip
    return out
