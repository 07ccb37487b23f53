"""``cp -r`` of 1 GiB in mixed 1-64 MiB files (100 MiB when quick), up and down.

Ours: ``jasmin-access cp -r``.  Peers: ``aws s3 cp --recursive``, ``rclone copy``.
Before each run the destination is emptied (not measured); after each run the
bytes that arrived are checked.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..datasets import MiB, Tree, mixed_files
from ..harness import (
    Bench,
    Check,
    Measured,
    Row,
    find_row,
    measure_group,
    not_available,
    ratio_check,
    skipped,
)
from ._common import BUCKET, arrived, cli_has

__all__ = ["NAME", "checks", "run"]

NAME = "cp"

TOOLS = ("jasmin-access cp -r", "aws s3 cp --recursive", "rclone copy")


def _local_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _label(tree: Tree, way: str) -> str:
    gib = tree.nbytes / MiB / 1024
    size = f"{gib:.0f} GiB" if gib >= 1 else f"{tree.nbytes / MiB:.0f} MiB"
    return f"cp -r {way} {size} in {tree.count} files of 1-64 MiB"


def _upload(bench: Bench, tree: Tree, tool: str, dest_key: str) -> tuple[list[str], dict]:
    peers: Any = bench.peers
    url = f"s3://{BUCKET}/{dest_key}"
    if tool.startswith("jasmin"):
        return [bench.cli, "cp", "-r", tree.url, url, "--profile", "bench"], bench.ours_env()
    if tool.startswith("aws"):
        return peers.aws("cp", "--recursive", "--only-show-errors", tree.url, url + "/")
    return peers.rclone("copy", tree.url, f"bench:{BUCKET}/{dest_key}")


def _download(bench: Bench, src_key: str, tool: str, dest: Path) -> tuple[list[str], dict]:
    peers: Any = bench.peers
    url = f"s3://{BUCKET}/{src_key}"
    if tool.startswith("jasmin"):
        return [bench.cli, "cp", "-r", url, str(dest), "--profile", "bench"], bench.ours_env()
    if tool.startswith("aws"):
        return peers.aws("cp", "--recursive", "--only-show-errors", url + "/", str(dest))
    return peers.rclone("copy", f"bench:{BUCKET}/{src_key}", str(dest))


def _available(bench: Bench, tool: str) -> tuple[str, str] | None:
    """``(status, why)`` when ``tool`` cannot run, else None."""
    if tool.startswith("jasmin"):
        why = cli_has(bench, "cp")
        return ("not available", why) if why else None
    exe = tool.split()[0]
    return None if bench.peers.have(exe) else ("skipped", bench.peers.missing(exe))


def run(bench: Bench) -> list[Row]:
    """Upload then download the mixed file set with each tool."""
    assert bench.server is not None
    total = (100 if bench.quick else 1024) * MiB
    tree = mixed_files(bench.data_dir, total)
    fs = bench.server.s3fs()
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    fs.put(tree.url, f"{BUCKET}/mixed", recursive=True)  # the download source
    rows: list[Row] = []
    for way in ("up", "down"):
        case = _label(tree, way)
        group, missing_rows = [], []
        for index, tool in enumerate(TOOLS):
            missing = _available(bench, tool)
            if missing:
                status, why = missing
                row = not_available(case, tool, why) if status != "skipped" else None
                missing_rows.append(row or skipped(case, tool, why))
                continue
            group.append(_measured(bench, tree, way, tool, index, fs))
        rows += measure_group(bench, case, group) + missing_rows
    fs.rm(f"{BUCKET}/mixed", recursive=True)
    return rows


def _measured(bench: Bench, tree: Tree, way: str, tool: str, index: int, fs: Any) -> Measured:
    if way == "up":
        key = f"up-{index}"
        cmd, env = _upload(bench, tree, tool, key)

        def before() -> None:
            if fs.exists(f"{BUCKET}/{key}"):
                fs.rm(f"{BUCKET}/{key}", recursive=True)
            fs.invalidate_cache()

        def size() -> int:
            fs.invalidate_cache()
            return int(fs.du(f"{BUCKET}/{key}"))

    else:
        dest = bench.work_dir / f"down-{index}"
        cmd, env = _download(bench, "mixed", tool, dest)

        def before() -> None:
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)

        def size() -> int:
            return _local_bytes(dest)

    return Measured(
        tool,
        cmd,
        env=env,
        ours=tool.startswith("jasmin"),
        nbytes=tree.nbytes,
        before=before,
        check=arrived(size, tree.nbytes),
    )


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """cp -r ≥1.2x rclone copy and at least as fast as aws s3 cp, both ways; RSS ≤ 2x rclone's."""
    out = []
    for way in ("up", "down"):
        case = next((r.case for r in rows if r.case.startswith(f"cp -r {way} ")), "")
        out.append(ratio_check(rows, f"cp -r {way} ≥1.2x `rclone copy`", case, "rclone copy", 1.2))
        out.append(
            ratio_check(
                rows,
                f"cp -r {way} at least as fast as `aws s3 cp --recursive`",
                case,
                "aws s3 cp --recursive",
                1.0,
            )
        )
        ours, rclone = find_row(rows, case), find_row(rows, case, "rclone copy")
        target = f"cp -r {way} peak RSS ≤ 2x rclone's"
        if ours is None or rclone is None or not ours.rss_mb or not rclone.rss_mb:
            out.append(Check(target, "not measured", None))
        else:
            shown = f"{ours.rss_mb:.0f} MB vs {rclone.rss_mb:.0f} MB"
            out.append(Check(target, shown, ours.rss_mb <= 2 * rclone.rss_mb))
    return out
