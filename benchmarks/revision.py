"""``--commit REV``: this project at another revision, beside the working tree, in one run.

The revision is checked out in a temporary git worktree; a directory holding
only a ``jasmin_access`` link into it is put first on ``PYTHONPATH`` of the
twin commands (see :func:`benchmarks.harness.with_revision`), so the same CLI
and worker commands import that revision's package while the benchmark code
itself stays this tree's.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .harness import ROOT

__all__ = ["Revision"]


@dataclass
class Revision:
    """A checked-out revision of the package.

    Attributes
    ----------
    name
        The revision as given (``HEAD~1``, a branch, a commit).
    commit
        Its short commit id.
    path
        The directory to put first on ``PYTHONPATH``.
    worktree
        The temporary git worktree.
    """

    name: str
    commit: str
    path: Path
    worktree: Path

    @classmethod
    def checkout(cls, rev: str, tmp: Path) -> Revision:
        """Check ``rev`` out under ``tmp`` (a detached worktree of this repository)."""

        def git(*args: str) -> str:
            out = subprocess.run(
                ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
            )
            if out.returncode != 0:
                raise RuntimeError(f"git {' '.join(args)}: {out.stderr.strip()}")
            return out.stdout.strip()

        commit = git("rev-parse", "--short", f"{rev}^{{commit}}")
        worktree = tmp / f"rev-{commit}"
        git("worktree", "add", "--detach", str(worktree), commit)
        shim = tmp / f"rev-{commit}-path"
        shim.mkdir(parents=True, exist_ok=True)
        (shim / "jasmin_access").symlink_to(worktree / "jasmin_access")
        return cls(rev, commit, shim, worktree)

    def remove(self) -> None:
        """Remove the worktree (and its registration in the repository)."""
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(self.worktree)],
            capture_output=True,
            check=False,
        )
