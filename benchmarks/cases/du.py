"""``du`` and a recursive long listing over many small objects on the S3 server.

Ours: ``jasmin-access du s3://bench/tree -s --json`` and ``jasmin-access ls -R -l``.
Peers: ``aws s3 ls --recursive --summarize``, ``s3cmd du``, ``rclone size``; for the
listing ``aws s3 ls --recursive``, ``s3cmd ls -r``, ``rclone lsl --use-server-modtime``;
each where installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..harness import (
    Bench,
    Check,
    Measured,
    Row,
    Run,
    measure_group,
    not_available,
    ratio_check,
)
from ..harness import skipped as skipped_row
from ._common import cli_has, expect_count, human_count, small_tree

__all__ = ["NAME", "case_name", "checks", "run"]

NAME = "du"


def case_name(count: int) -> str:
    """Table label of the case for ``count`` keys."""
    return f"du {human_count(count)} keys in 20 prefixes (S3)"


def ours_du(bench: Bench, url: str, count: int) -> Measured:
    """Our ``du -s`` of ``url`` on the bench profile."""
    return Measured(
        "jasmin-access du -s",
        [bench.cli, "du", url, "-s", "--json", "--profile", "bench"],
        env=bench.ours_env(),
        ours=True,
        check=expect_count(count),  # type: ignore[arg-type]
    )


def peer_commands(bench: Bench, url: str, count: int) -> list[Measured | tuple[str, str]]:
    """The peer measurements, or ``(tool, why skipped)`` for those not installed."""
    peers: Any = bench.peers
    rest = url.removeprefix("s3://")
    out: list[Measured | tuple[str, str]] = []
    check = expect_count(count)
    specs = [
        (
            "aws",
            "aws s3 ls --recursive --summarize",
            lambda: peers.aws("ls", url + "/", "--recursive", "--summarize"),
        ),
        ("s3cmd", "s3cmd du", lambda: peers.s3cmd("du", url + "/")),
        ("rclone", "rclone size", lambda: peers.rclone("size", f"bench:{rest}")),
    ]
    for tool, label, build in specs:
        if not peers.have(tool):
            out.append((label, peers.missing(tool)))
            continue
        cmd, env = build()
        out.append(Measured(label, cmd, env=env, check=check))  # type: ignore[arg-type]
    return out


def expect_lines(count: int) -> Callable[[Run], str]:
    """A run check: at least one output line per object."""

    def check(run: Run) -> str:
        lines = [ln for ln in run.stdout.splitlines() if ln.strip()]
        if len(lines) < count:
            raise ValueError(f"{len(lines)} lines listed, expected at least {count}")
        return ""

    return check


def ls_commands(bench: Bench, url: str, count: int) -> list[Measured | tuple[str, str]]:
    """Ours and the peers' recursive long listings (or why a peer is skipped)."""
    peers: Any = bench.peers
    rest = url.removeprefix("s3://")
    check = expect_lines(count)
    out: list[Measured | tuple[str, str]] = [
        Measured(
            "jasmin-access ls -R -l",
            [bench.cli, "ls", "-R", "-l", url, "--profile", "bench"],
            env=bench.ours_env(),
            ours=True,
            check=check,
        )
    ]
    specs = [
        ("aws", "aws s3 ls --recursive", lambda: peers.aws("ls", url + "/", "--recursive")),
        ("s3cmd", "s3cmd ls -r", lambda: peers.s3cmd("ls", "-r", url + "/")),
        # the listing's own times, as ours and aws show: by default rclone reads its
        # modification-time metadata with a HEAD per object (20,000 HEADs)
        (
            "rclone",
            "rclone lsl --use-server-modtime",
            lambda: peers.rclone("lsl", "--use-server-modtime", f"bench:{rest}"),
        ),
    ]
    for tool, label, build in specs:
        if not peers.have(tool):
            out.append((label, peers.missing(tool)))
            continue
        cmd, env = build()
        out.append(Measured(label, cmd, env=env, check=check))
    return out


def _measure_all(
    bench: Bench, case: str, items: list[Measured | tuple[str, str]], command: str
) -> list[Row]:
    rows = []
    group = []
    why = cli_has(bench, command)
    for item in items:
        if isinstance(item, tuple):
            rows.append(skipped_row(case, *item))
        elif item.ours and why:
            rows.append(not_available(case, item.tool, why))
        else:
            group.append(item)
    return measure_group(bench, case, group) + rows


def run(bench: Bench) -> list[Row]:
    """Measure ours and the peers over the small-object tree: du, then ls -R."""
    tree = small_tree(bench)
    case = case_name(tree.count)
    items = [ours_du(bench, tree.url, tree.count), *peer_commands(bench, tree.url, tree.count)]
    rows = _measure_all(bench, case, items, "du")
    if bench.quick:  # the listing case is left out (CI-sized)
        return _per_key(rows, tree.count, bench)
    ls_case = f"ls -R -l {human_count(tree.count)} keys in 20 prefixes (S3)"
    rows += _measure_all(bench, ls_case, ls_commands(bench, tree.url, tree.count), "ls")
    return _per_key(rows, tree.count, bench)


def _per_key(rows: list[Row], count: int, bench: Bench) -> list[Row]:
    """Note keys/s on each row; keep our du row for the scale case."""
    for row in rows:
        if row.ok and row.seconds:
            row.note = (row.note + f" {count / row.seconds:,.0f} keys/s").strip()
    bench.cache["du_row"] = next((r for r in rows if r.ours), rows[0])
    return rows


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """du ≥2x faster than rclone size, faster than aws s3 ls and s3cmd du."""
    case = next((r.case for r in rows if r.case.startswith("du ")), "")
    return [
        ratio_check(rows, "du ≥2x faster than `rclone size`", case, "rclone size", 2.0),
        ratio_check(
            rows,
            "du faster than `aws s3 ls --recursive --summarize`",
            case,
            "aws s3 ls --recursive --summarize",
            1.0,
            strict=True,
        ),
        ratio_check(rows, "du faster than `s3cmd du`", case, "s3cmd du", 1.0, strict=True),
    ]
