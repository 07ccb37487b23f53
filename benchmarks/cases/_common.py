"""Helpers shared by the cases."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..datasets import Tree, small_objects
from ..harness import Bench, Run, base_env

__all__ = [
    "BUCKET",
    "api_has",
    "arrived",
    "cli_has",
    "expect_count",
    "human_count",
    "set_up_cli",
    "small_tree",
]

BUCKET = "bench"


def human_count(n: int) -> str:
    """``20000`` → ``"20k"``, ``1000000`` → ``"1M"``."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def small_tree(bench: Bench) -> Tree:
    """The small-object tree on the S3 server (20k keys; 2k when quick), made once per run."""
    if "small" not in bench.cache:
        assert bench.server is not None
        count = 2_000 if bench.quick else 20_000
        bench.cache["small"] = small_objects(bench.server, BUCKET, count)
    tree: Tree = bench.cache["small"]
    return tree


def expect_count(count: int) -> object:
    """A run check: the output must mention the object count (digits, commas ignored)."""

    def check(run: Run) -> str:
        numbers = re.findall(r"\d+", run.stdout.replace(",", ""))
        if str(count) not in numbers:
            tail = run.stdout.strip()[-200:]
            raise ValueError(f"output does not report {count} objects: {tail!r}")
        return ""

    return check


def set_up_cli(bench: Bench, *argv: str) -> None:
    """Run our CLI with the bench profile for set-up (not measured); raise if it fails."""
    env = base_env(bench.ours_env(), bench.work_dir / "home")
    done = subprocess.run([bench.cli, "-q", "-p", "bench", *argv], env=env, capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"set-up `{' '.join(argv[:2])}` failed: {done.stderr.strip()}")


def cli_has(bench: Bench, command: str) -> str | None:
    """None when ``jasmin-access COMMAND`` exists, else why not (for a 'not available' row)."""
    if not Path(bench.cli).exists():
        return f"{bench.cli} is not installed"
    out = subprocess.run(
        [bench.cli, command, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env=base_env(bench.ours_env(), bench.work_dir),
    )
    if out.returncode != 0:
        return f"`jasmin-access {command}` is not implemented yet"
    return None


def api_has(module: str, name: str) -> str | None:
    """None when ``module.name`` can be imported, else why not."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return f"{module} cannot be imported ({exc})"
    if not hasattr(mod, name):
        return f"{module}.{name} is not implemented yet"
    return None


def arrived(size_of: Callable[[], int], expected: int) -> Callable[[Run], str]:
    """A run check: ``size_of()`` bytes must have arrived at the destination."""

    def check(run: Run) -> str:
        got = size_of()
        if got != expected:
            raise ValueError(f"{got} bytes arrived, expected {expected}")
        return ""

    return check
