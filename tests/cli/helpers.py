"""Running the CLI in-process for tests."""

from __future__ import annotations

import pytest

from jasmin_access.cli import cli
from jasmin_access.cli._common import run


def cli_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``jasmin-access ARGS`` through the error boundary; return (code, stdout, stderr)."""
    code = run(cli, list(args))
    out, err = capsys.readouterr()
    return code, out, err
