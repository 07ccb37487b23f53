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

__all__ = ["CaseResult", "load_results", "machine_info", "render_report", "save_results"]


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


def save_results(path: Path, results: dict[str, CaseResult]) -> None:
    """Write case results as JSON."""
    data = {"cases": {name: r.to_json() for name, r in results.items()}}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


PACKAGES = ("jasmin-access", "zarr", "xarray", "s3fs", "numpy", "dask", "moto", "numcodecs")

REPRODUCE = """\
## How to reproduce

```bash
make venv                               # the project's virtualenv (.venv)
.venv/bin/python -m benchmarks --install-peers   # aws + s3cmd in benchmarks/.peers, rclone via apt
make bench                              # everything (about 20-30 minutes on 2 cores)
make bench-quick                        # small data, one run each (under 5 minutes)
.venv/bin/python -m benchmarks du       # one case: convert, read, du, cp or scale
.venv/bin/python -m benchmarks --scale 0.1 convert   # a smaller convert set
```

`python -m benchmarks` starts `moto_server` on a free loopback port as a separate
process, generates the data (cached in `benchmarks/.data/`), and runs each case for
this project and for the tools users would otherwise use, against the same server in
the same run. Every measured command runs in a fresh process: the time is the wall
time of that process (median of the runs, the range in brackets; a peer whose first
run takes over a minute is run once), peak RSS comes
from `os.wait4` (`ru_maxrss`), and the requests are the lines of the server's request
log written while it ran (LIST, GET, CHUNK = GET of a Zarr chunk, HEAD, PUT, PART =
multipart part, MPU = create/complete multipart upload, ...). `peer/ours` is the
peer's time divided by ours: above 1 means this project is faster. A peer that is not
installed is listed as skipped, with the command that installs it; a case of this
project whose code is not there yet fails loudly as "not available".

The S3 server shares the machine's cores with the client, so absolute numbers say
little about a real object store: compare tools as ratios within one run. The 1-minute
load average at the start and end of each case is recorded above: other work on the
machine slows every tool and widens the spread between runs.
"""


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
    """The Markdown report written to ``benchmarks/results/`` and ``docs/performance.md``."""
    rows = [row for r in results for row in r.rows]
    checks = [check for r in results for check in r.checks]
    notes = [note for r in results for note in r.notes]
    runs = "".join(f"- {r.name}: {r.mode}, {r.date}\n" for r in results)
    parts = [
        f"# {title}\n",
        "Latest results of `python -m benchmarks` (`make bench`), case by case:\n",
        runs,
        "## Results\n",
        render_table(rows),
        "## Targets from the capability issues\n",
        render_checks(checks) or "- none measured\n",
        "## Cases\n",
        describe_cases(),
        "## Data and machine\n",
        "".join(f"- {line}\n" for line in [*notes, *machine]),
        REPRODUCE,
    ]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)
