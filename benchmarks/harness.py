"""Running measured commands, and turning the measurements into one table.

Each measured thing runs in a fresh subprocess: a CLI (ours or a peer's) or a
Python function run by :mod:`benchmarks.worker`.  Wall time is taken around the
process, peak resident memory from ``os.wait4`` (``ru_maxrss``), and the HTTP
requests it caused from the S3 server's request log.  Each is run several times
and the median time is reported.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .server import RequestCounts, S3Endpoint

__all__ = [
    "Bench",
    "Check",
    "Measured",
    "Row",
    "Run",
    "Spawner",
    "apply_ratios",
    "base_env",
    "measure",
    "measure_group",
    "not_available",
    "python_cmd",
    "render_checks",
    "render_table",
    "run_once",
    "skipped",
]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
MB = 1e6
SLOW_SECONDS = 60.0  # a peer run slower than this is not repeated


@dataclass
class Run:
    """One run of a measured command."""

    seconds: float
    rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    requests: RequestCounts | None = None
    cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    relay_cpu_s: float = 0.0

    @property
    def result(self) -> dict[str, Any]:
        """The JSON object a worker printed as its last stdout line (else empty)."""
        for line in reversed(self.stdout.strip().splitlines()):
            if line.startswith("{"):
                try:
                    return dict(json.loads(line))
                except ValueError:
                    return {}
        return {}

    def failure(self) -> str:
        """One line saying why the run failed."""
        lines = [ln for ln in (self.stderr or self.stdout).strip().splitlines() if ln.strip()]
        errors = [ln for ln in lines if "Error" in ln or "error:" in ln or "Exception" in ln]
        line = (errors or lines or ["no output"])[-1].strip()
        return f"exit {self.returncode}: {line[:200]}"


@dataclass
class Measured:
    """A command to measure, and how to judge and describe it.

    Attributes
    ----------
    tool
        Name shown in the table (``jasmin-access``, ``aws s3 ls``, ...).
    cmd
        Argument list, or a function returning it (called before each run,
        after ``before``: for a destination named afresh each run).
    env
        Extra environment variables.
    ours
        True for this project's side, False for a peer.
    nbytes
        Bytes moved, for MB/s (or a callable of the run's result).
    before
        Called before each run (not measured), e.g. to empty a destination.
    check
        Called with each successful run; returns a note for the table or raises.
    """

    tool: str
    cmd: Sequence[str] | Callable[[], Sequence[str]]
    env: dict[str, str] = field(default_factory=dict)
    ours: bool = False
    nbytes: int | Callable[[Run], int] | None = None
    before: Callable[[], None] | None = None
    check: Callable[[Run], str] | None = None
    timeout: float = 1800.0


@dataclass
class Row:
    """One line of the results table."""

    case: str
    tool: str
    ours: bool = False
    seconds: float | None = None
    mb_s: float | None = None
    ratio: float | None = None
    requests: RequestCounts | None = None
    rss_mb: float | None = None
    note: str = ""
    status: str = "ok"
    runs: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    cpu_s: float | None = None
    server_cpu_s: float | None = None
    relay_cpu_s: float | None = None
    bound: str = ""

    @property
    def ok(self) -> bool:
        """True when the row holds a measurement."""
        return self.status == "ok" and self.seconds is not None


@dataclass
class Check:
    """A target from the capability issues and what this run showed for it.

    ``info`` marks a figure reported beside a target rather than a target itself.
    """

    target: str
    shown: str
    met: bool | None
    info: bool = False


@dataclass
class Bench:
    """Everything a case needs: options, the server, directories, environments."""

    quick: bool
    scale: float
    runs: int
    data_dir: Path
    work_dir: Path
    server: S3Endpoint | None
    peers: Any = None
    python: str = sys.executable
    notes: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    revision: Any = None  # a benchmarks.revision.Revision with --commit
    variants: tuple[str, ...] = ("smooth", "noisy")  # data variants of convert and read

    @property
    def cli(self) -> str:
        """The ``jasmin-access`` executable of this environment."""
        return str(Path(self.python).with_name("jasmin-access"))

    @property
    def run_id(self) -> str:
        """A name unique to this run (for destinations in the shared local store)."""
        return self.work_dir.name

    @property
    def config_path(self) -> Path:
        """The jasmin-access config file with the ``bench`` profile."""
        return self.work_dir / "jasmin-access.toml"

    @property
    def store_home(self) -> Path:
        """The embedded local store used by the benchmarks."""
        return self.data_dir / "store"

    def ours_env(self) -> dict[str, str]:
        """Environment for this project's side: a private config and local store."""
        return {
            "JASMIN_ACCESS_CONFIG": str(self.config_path),
            "JASMIN_ACCESS_HOME": str(self.store_home),
        }


def base_env(extra: dict[str, str], home: Path) -> dict[str, str]:
    """A clean environment: no AWS or jasmin-access variables, HOME in a temp dir."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "JASMIN_ACCESS_", "RCLONE_", "S3CMD_"))
    }
    env["HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def python_cmd(bench: Bench, func: str, **kwargs: Any) -> list[str]:
    """Command running ``module:function(**kwargs)`` in a fresh Python process."""
    return [bench.python, "-m", "benchmarks.worker", func, json.dumps(kwargs)]


class Spawner:
    """The small process that forks the measured commands (see :mod:`benchmarks.spawn`)."""

    _proc: subprocess.Popen[str] | None = None

    @classmethod
    def get(cls) -> subprocess.Popen[str]:
        """The running spawner, started on first use."""
        if cls._proc is None or cls._proc.poll() is not None:
            script = Path(__file__).with_name("spawn.py")
            cls._proc = subprocess.Popen(
                [sys.executable, "-S", "-I", str(script)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
        return cls._proc

    @classmethod
    def close(cls) -> None:
        """Stop the spawner (it exits when its stdin closes)."""
        if cls._proc is not None:
            if cls._proc.stdin:
                cls._proc.stdin.close()
            cls._proc.wait(timeout=30)
            cls._proc = None

    @classmethod
    def run(cls, request: dict[str, Any]) -> dict[str, Any]:
        """Run one command; return its exit status, seconds and peak RSS (KiB)."""
        proc = cls.get()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        if answer.get("error"):
            raise RuntimeError(f"spawner: {answer['error']}")
        return dict(answer)


def run_once(
    cmd: Sequence[str],
    env: dict[str, str],
    *,
    server: S3Endpoint | None = None,
    timeout: float = 1800.0,
    cwd: Path | None = None,
) -> Run:
    """Run a command once; time it, read its peak RSS and count its requests.

    Parameters
    ----------
    cmd
        Argument list.
    env
        Complete environment of the child.
    server
        The S3 server whose request log to count (none: no count).
    timeout
        Seconds before the child is killed.
    cwd
        Working directory of the child.
    """
    offset = server.mark() if server else 0
    server_cpu = server.cpu_seconds() if server else 0.0
    relay_cpu = server.cpu_seconds(relay=True) if server else 0.0
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        answer = Spawner.run(
            {
                "cmd": list(cmd),
                "env": env,
                "cwd": str(cwd) if cwd else None,
                "stdout": str(out),
                "stderr": str(err),
                "timeout": timeout,
            }
        )
        stdout = out.read_text("utf-8", "replace")
        stderr = err.read_text("utf-8", "replace")
    requests = server.count_since(offset) if server else None
    return Run(
        answer["seconds"],
        answer["maxrss_kib"] / 1024.0,
        int(answer["status"]),
        stdout,
        stderr,
        requests,
        float(answer.get("cpu_s", 0.0)),
        (server.cpu_seconds() - server_cpu) if server else 0.0,
        (server.cpu_seconds(relay=True) - relay_cpu) if server else 0.0,
    )


def measure(bench: Bench, case: str, m: Measured) -> Row:
    """Run ``m`` ``bench.runs`` times and summarise it as one table row."""
    return measure_group(bench, case, [m])[0]


def measure_group(bench: Bench, case: str, group: Sequence[Measured]) -> list[Row]:
    """Run the commands of one case in turns (A B A B ...), one row each.

    Alternating spreads slow spells of a shared machine over every tool alike,
    so the ratios of medians (and the ratios run by run, see :func:`apply_ratios`)
    hold better than the times themselves.  With ``--commit REV`` each of our
    commands is followed by the same command on that revision.
    """
    (bench.work_dir / "home").mkdir(parents=True, exist_ok=True)
    group = with_revision(bench, group)
    runs: list[list[Run]] = [[] for _ in group]
    notes = ["" for _ in group]
    done: dict[int, Row | None] = {}
    for index in range(bench.runs):
        for i, m in enumerate(group):
            if i in done:
                continue
            outcome = _run_one(bench, case, m, index)
            if isinstance(outcome, Row):
                done[i] = outcome
                continue
            run, notes[i] = outcome
            runs[i].append(run)
            if run.seconds > SLOW_SECONDS and not m.ours and index == 0 and bench.runs > 1:
                notes[i] = (notes[i] + f" (one run only: over {SLOW_SECONDS:.0f} s)").strip()
                done[i] = None
    rows = []
    for i, m in enumerate(group):
        failed = done.get(i)
        rows.append(failed if failed is not None else _summary(case, m, runs[i], notes[i]))
    return rows


def _run_one(bench: Bench, case: str, m: Measured, index: int) -> Row | tuple[Run, str]:
    """One run of ``m``: the run and its note, or a failed row."""
    env = base_env({**m.env}, bench.work_dir / "home")
    if m.before:
        m.before()
    cmd = m.cmd() if callable(m.cmd) else m.cmd
    run = run_once(cmd, env, server=bench.server, timeout=m.timeout, cwd=bench.work_dir)
    log.info("%s / %s run %d: %.2f s, rc %d", case, m.tool, index + 1, run.seconds, run.returncode)
    if run.returncode != 0:
        log.warning("%s / %s failed: %s", case, m.tool, run.stderr[-2000:])
        return Row(case, m.tool, m.ours, status="failed", note=f"failed: {run.failure()}")
    note = ""
    if m.check:
        try:
            note = m.check(run)
        except Exception as exc:
            return Row(case, m.tool, m.ours, status="failed", note=f"wrong result: {exc}")
    return run, note


def _summary(case: str, m: Measured, runs: list[Run], note: str) -> Row:
    times = [r.seconds for r in runs]
    median = statistics.median(times)
    middle = min(runs, key=lambda r: abs(r.seconds - median))
    nbytes = m.nbytes(middle) if callable(m.nbytes) else m.nbytes
    return Row(
        case=case,
        tool=m.tool,
        ours=m.ours,
        seconds=median,
        mb_s=(nbytes / MB / median) if nbytes and median > 0 else None,
        requests=middle.requests,
        rss_mb=max(r.rss_mb for r in runs),
        note=note,
        runs=times,
        cpu_s=middle.cpu_s,
        server_cpu_s=middle.server_cpu_s,
        relay_cpu_s=middle.relay_cpu_s,
    )


def with_revision(bench: Bench, group: Sequence[Measured]) -> list[Measured]:
    """The group, each of our commands followed by its twin on ``bench.revision``.

    The twin runs the same command with the revision's ``jasmin_access`` first
    on ``PYTHONPATH``; it counts as a peer, so its ratio reads "REV / this tree".
    """
    rev = bench.revision
    out: list[Measured] = []
    for m in group:
        out.append(m)
        if rev is not None and m.ours:
            env = {**m.env, "PYTHONPATH": f"{rev.path}{os.pathsep}{ROOT}"}
            out.append(replace(m, tool=f"{m.tool} @{rev.name}", env=env, ours=False))
    return out


def skipped(case: str, tool: str, why: str) -> Row:
    """A row for a peer that is not installed."""
    return Row(case, tool, status="skipped", note=f"skipped: {why}")


def not_available(case: str, tool: str, why: str) -> Row:
    """A row for one of our cases whose code is not there: fails loudly, no number."""
    return Row(case, tool, ours=True, status="not available", note=f"not available: {why}")


def apply_ratios(rows: list[Row]) -> None:
    """Set ``ratio = peer seconds / our seconds`` on each peer row of the same case.

    ``ratios`` holds the same turn by turn (run k of the peer over run k of ours,
    taken one after the other), whose range says how steady the ratio is.
    """
    ours = {r.case: r for r in rows if r.ours and r.ok}
    for row in rows:
        if not row.ours and row.ok and row.case in ours and ours[row.case].seconds:
            mine = ours[row.case]
            row.ratio = row.seconds / mine.seconds  # type: ignore[operator]
            pairs = zip(row.runs, mine.runs, strict=False)
            row.ratios = [peer / own for peer, own in pairs if own > 0]


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _cpu(row: Row) -> str:
    """``"1.2 / 0.4 / 0.3"``: CPU seconds of the measured process tree, the server, the relay."""
    if row.cpu_s is None or not row.ok:
        return "—"
    others = [row.server_cpu_s, row.relay_cpu_s]
    return " / ".join(_fmt(v, ".1f") for v in [row.cpu_s, *others])


def render_table(rows: list[Row]) -> str:
    """The results as a Markdown table.

    ``peer/ours`` is the peer's time over ours (above 1: ours is faster).
    """
    head = (
        "| case | tool | seconds (median, min–max) | MB/s | peer/ours (turn by turn) "
        "| requests | peak RSS MB | CPU s client / server / relay | notes |\n"
        "|---|---|---:|---:|---:|---|---:|---:|---|\n"
    )
    lines = []
    for r in rows:
        tool = f"**{r.tool}**" if r.ours else r.tool
        seconds = _fmt(r.seconds, ".2f")
        if r.ok and len(r.runs) > 1:
            seconds += f" ({min(r.runs):.2f}–{max(r.runs):.2f})"
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}x"
        if r.ratio is not None and len(r.ratios) > 1:
            ratio += f" ({min(r.ratios):.2f}–{max(r.ratios):.2f})"
        requests = r.requests.summary() if r.requests is not None and r.ok else "—"
        note = r.note.replace("|", "/").replace("\n", " ")
        if r.bound:
            note = (note + f" [{r.bound}]").strip()
        lines.append(
            f"| {r.case} | {tool} | {seconds} | {_fmt(r.mb_s, '.1f')} | {ratio} | {requests} "
            f"| {_fmt(r.rss_mb, '.0f')} | {_cpu(r)} | {note} |"
        )
    return head + "\n".join(lines) + "\n"


def render_checks(checks: list[Check]) -> str:
    """The targets and what this run showed, as a Markdown list."""
    mark = {True: "**met**", False: "**NOT met**", None: "**not measured**"}
    return "".join(
        f"- {c.target}: {c.shown} — {'for information' if c.info else mark[c.met]}\n"
        for c in checks
    )


def find_row(rows: list[Row], case: str, tool: str | None = None) -> Row | None:
    """The measured row of ``case`` (ours, or the given tool), if any."""
    for row in rows:
        if row.case == case and row.ok and (row.ours if tool is None else row.tool == tool):
            return row
    return None


def ratio_check(
    rows: list[Row], target: str, case: str, peer: str, minimum: float, *, strict: bool = False
) -> Check:
    """A check that ours is ``minimum`` times as fast as ``peer`` in ``case`` (or faster)."""
    row = find_row(rows, case, peer)
    if row is None or row.ratio is None:
        return Check(target, "not measured in this run", None)
    met = row.ratio > minimum if strict else row.ratio >= minimum
    return Check(target, f"{row.ratio:.2f}x ({peer} {row.seconds:.2f} s)", met)
