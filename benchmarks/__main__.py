"""``python -m benchmarks [CASE ...] [--server S] [--network P] [--commit REV] [--quick] ...``.

Starts a local S3 server (SeaweedFS or moto) behind the shaping relay,
generates the data, runs each case for this project and its peers in turns,
prints one table and writes the results as JSON and a plot under
``benchmarks/results/`` and ``docs/``, then rebuilds ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from .cases import CASES
from .datasets import DEFAULT_VARIANTS, VARIANTS
from .harness import (
    ROOT,
    Bench,
    Row,
    Spawner,
    apply_ratios,
    render_checks,
    render_table,
)
from .peers import Peers, install_peers
from .report import CaseResult, Config, bound_hint, machine_info, save_run
from .revision import Revision
from .seaweed import SeaweedServer
from .server import S3Endpoint, S3Server
from .shaping import PROFILES, ShapedServer

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
        "--quick", action="store_true", help="small data, 2 runs, fewer read ways, no ls -R (CI)"
    )
    parser.add_argument(
        "--server",
        choices=["seaweedfs", "moto"],
        default="seaweedfs",
        help="S3 server: SeaweedFS (production server, default) or moto",
    )
    parser.add_argument(
        "--network",
        choices=list(PROFILES),
        default="campus",
        help="network profile applied between every client and the server (default campus; "
        "'none' with moto measures moto directly)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the network latencies")
    parser.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        help="data variants of convert and read, comma-separated (default smooth,noisy; "
        "also deep,deep-noisy for convert: another grid, default chunks)",
    )
    parser.add_argument(
        "--commit",
        metavar="REV",
        default=None,
        help="also run each of our commands on revision REV (a temporary git worktree), "
        "in turns with this tree's",
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
        help="runs per measurement, in turns, median reported (default 3, 2 with --quick)",
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


def run_cases(bench: Bench, names: list[str], mode: str) -> list[CaseResult]:
    """Run the named cases; a case that crashes becomes a failed row, not a crash."""
    results = []
    for name in names:
        module = CASES[name]
        start = time.monotonic()
        notes_before = len(bench.notes)
        load_before = os.getloadavg()[0]
        print(f"== {name} ...", file=sys.stderr, flush=True)
        try:
            rows = module.run(bench)
        except Exception as exc:
            log.debug("case %s crashed", name, exc_info=True)
            traceback.print_exc(file=sys.stderr)
            rows = [Row(name, "(case)", status="failed", note=f"case failed: {exc}")]
        apply_ratios(rows)
        profile = getattr(bench.server, "profile", PROFILES["none"])
        for row in rows:
            row.bound = bound_hint(row, profile.median_ms / 1000, profile.mb_s)
        took = time.monotonic() - start
        load = f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f}"
        results.append(
            CaseResult(
                name,
                rows,
                module.checks(bench, rows),
                bench.notes[notes_before:],
                f"{mode}, took {took:.0f} s, {load}",
            )
        )
        print(f"== {name} done in {took:.0f} s", file=sys.stderr, flush=True)
    return results


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s",
    )
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # unclosed set-up sessions at exit
    signal.signal(signal.SIGTERM, _terminate)  # so the server is stopped on `kill`
    if args.install_peers:
        return install_peers(print)
    names = args.cases or list(CASES)
    scale = args.scale if args.scale is not None else (0.02 if args.quick else 1.0)
    runs = args.runs or (2 if args.quick else 3)
    args.data_dir = args.data_dir.resolve()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=args.data_dir))
    variants = tuple(v for v in args.variants.split(",") if v)
    unknown = set(variants) - set(VARIANTS)
    if unknown or not variants:
        print(f"unknown data variants {sorted(unknown)}; known: {VARIANTS}", file=sys.stderr)
        return 2
    config = Config(args.server, args.network, args.quick, scale, runs, args.commit)
    mode = config.describe()
    revision = None
    try:
        revision = Revision.checkout(args.commit, work) if args.commit else None
        with make_server(args.server, args.network, args.seed, work) as server:
            bench = Bench(
                quick=args.quick,
                scale=scale,
                runs=runs,
                data_dir=args.data_dir,
                work_dir=work,
                server=server,
                revision=revision,
                variants=variants,
            )
            server.write_profile(bench.config_path)
            bench.peers = Peers(server, work)
            results = run_cases(bench, names, mode)
            machine = machine_info(bench.peers.versions())
    finally:
        Spawner.close()
        if revision is not None:
            revision.remove()
        shutil.rmtree(work, ignore_errors=True)
    rows = [row for r in results for row in r.rows]
    print(render_table(rows))
    print(render_checks([c for r in results for c in r.checks]))
    for line in [*bench.notes, *machine]:
        print(f"- {line}")
    if not args.no_save:
        written = save_run(config, results, machine)
        print("written: " + ", ".join(str(p.relative_to(ROOT)) for p in written), file=sys.stderr)
    failed = [r for r in rows if r.status in ("failed", "not available")]
    return 1 if failed else 0


def make_server(kind: str, network: str, seed: int, work: Path) -> S3Endpoint:
    """The server the clients talk to: moto alone, or a server behind the shaping relay.

    SeaweedFS always sits behind the relay (``none`` adds nothing), which also
    counts its requests; moto with ``none`` is measured directly.
    """
    inner: S3Endpoint = SeaweedServer(work / "seaweed") if kind == "seaweedfs" else S3Server(work)
    if kind == "moto" and network == "none":
        return inner
    return ShapedServer(inner, network, seed)


if __name__ == "__main__":
    sys.exit(main())
