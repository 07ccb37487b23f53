"""Progress bars count bytes in the same units as ``du -h`` and ``ls -h`` (1024s)."""

from __future__ import annotations

import io
import time

from rich.console import Console
from rich.progress import Progress

from jasmin_access.fs._progress import byte_columns


def test_bar_units_are_iec() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with Progress(*byte_columns(), console=console, auto_refresh=False) as bar:
        task = bar.add_task("cp", total=3 << 20)
        bar.advance(task, 1 << 20)
        time.sleep(0.05)
        bar.advance(task, 1 << 19)
        bar.refresh()
    text = out.getvalue()
    assert "1.5/3.0 MiB" in text
    assert "MiB/s" in text or "KiB/s" in text or "GiB/s" in text
    assert " MB" not in text and "MB/s" not in text
