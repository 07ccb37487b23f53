"""``python -m benchmarks [CASE ...] [--quick] [--scale S] [--runs N] [--install-peers]``.

Starts a local S3 server, generates the data, runs each case for this project
and its peers, prints one table and writes it to ``benchmarks/results/`` (and,
after a full run of every case, to ``docs/performance.md``).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from .cases import CASES
from .harness import (
    ROOT,
    Bench,
    Check,
    Row,
    Spawner,
    apply_ratios,
    render_checks,
    render_table,
)
from .peers import Peers, install_peers
from .report import machine_info, render_report
from .server import S3Server

log = logging.getLogger("benchmarks")

DATA_DIR = Path(__file__).resolve().parent / ".data"
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "cases",
        nargs="*",
        choices=[*CASES, []],
        metavar="CASE",
        help=f"cases to run (default: all): {', '.join(CASES)}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small data, one run each (under 5 minutes; for CI)"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="size of the convert set relative to 12 eORCA1 files "
        "(default 1, or 0.02 with --quick)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help="runs per measurement, median reported (default 3, 1 with --quick)",
    )
    parser.add_argument(
        "--install-peers",
        action="store_true",
        help="install aws and s3cmd into benchmarks/.peers and rclone via apt",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help="where generated data is cached (default benchmarks/.data)",
    )
    parser.add_argument("--no-save", action="store_true", help="print only; write no files")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each run")
    return parser.parse_args(argv)


def run_cases(bench: Bench, names: list[str]) -> tuple[list[Row], list[Check]]:
    """Run the named cases; a case that crashes becomes a failed row, not a crash."""
    rows: list[Row] = []
    checks: list[Check] = []
    for name in names:
        module = CASES[name]
        start = time.monotonic()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        try:
            case_rows = module.run(bench)
        except Exception as exc:
            log.debug("case %s crashed", name, exc_info=True)
            traceback.print_exc(file=sys.stderr)
            case_rows = [Row(name, "(case)", status="failed", note=f"case failed: {exc}")]
        apply_ratios(case_rows)
        rows.extend(case_rows)
        checks.extend(module.checks(bench, case_rows))
        print(f"== {name} done in {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
    return rows, checks


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s",
    )
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # unclosed set-up sessions at exit
    if args.install_peers:
        return install_peers(print)
    names = args.cases or list(CASES)
    scale = args.scale if args.scale is not None else (0.02 if args.quick else 1.0)
    runs = args.runs or (1 if args.quick else 3)
    args.data_dir = args.data_dir.resolve()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=args.data_dir))
    started = time.monotonic()
    try:
        with S3Server(work) as server:
            bench = Bench(
                quick=args.quick,
                scale=scale,
                runs=runs,
                data_dir=args.data_dir,
                work_dir=work,
                server=server,
            )
            server.write_profile(bench.config_path)
            bench.peers = Peers(server, work)
            rows, checks = run_cases(bench, names)
            machine = machine_info(bench.peers.versions())
    finally:
        Spawner.close()
        shutil.rmtree(work, ignore_errors=True)
    mode = (
        f"{'quick' if args.quick else 'full'}, scale {scale:g}, {runs} run(s) each, "
        f"cases: {', '.join(names)}; took {time.monotonic() - started:.0f} s"
    )
    print(render_table(rows))
    print(render_checks(checks))
    for line in [*bench.notes, *machine]:
        print(f"- {line}")
    if not args.no_save:
        save(rows, checks, bench.notes, machine, mode, full=not args.quick and not args.cases)
    failed = [r for r in rows if r.status in ("failed", "not available")]
    return 1 if failed else 0


def save(
    rows: list[Row],
    checks: list[Check],
    notes: list[str],
    machine: list[str],
    mode: str,
    *,
    full: bool,
) -> None:
    """Write the report: results/latest.md (quick.md when quick), docs after a full run."""
    report = render_report(rows, checks, notes, machine, title="Performance", mode=mode)
    RESULTS.mkdir(exist_ok=True)
    name = "latest.md" if not mode.startswith("quick") else "quick.md"
    (RESULTS / name).write_text(report)
    written = [RESULTS / name]
    if full:
        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "performance.md").write_text(report)
        written.append(ROOT / "docs" / "performance.md")
    print("written: " + ", ".join(str(p.relative_to(ROOT)) for p in written), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
