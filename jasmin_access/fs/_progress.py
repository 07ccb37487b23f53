"""Progress bars for the commands that move bytes: IEC units, as in ``du -h``."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["Bar", "byte_columns"]

log = logging.getLogger(__name__)


def byte_columns() -> list[Any]:
    """rich columns for bytes done / total and speed, in KiB, MiB, GiB (1024s)."""
    from rich import filesize
    from rich.progress import DownloadColumn, ProgressColumn, Task
    from rich.text import Text

    class SpeedColumn(ProgressColumn):  # rich's own speed column counts in 1000s
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            if speed is None:
                return Text("?", style="progress.data.speed")
            units = ["B", "KiB", "MiB", "GiB", "TiB"]
            unit, suffix = filesize.pick_unit_and_suffix(int(speed), units, 1024)
            return Text(f"{speed / unit:.1f} {suffix}/s", style="progress.data.speed")

    return [DownloadColumn(binary_units=True), SpeedColumn()]


class Bar:
    """A rich progress bar on stderr (or nothing)."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self.progress: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn

            self.progress = Progress(
                TextColumn(label),
                BarColumn(),
                *byte_columns(),
                console=Console(stderr=True),
                transient=True,
            )
            self.task = self.progress.add_task(label, total=total)

    def __enter__(self) -> Bar:
        if self.progress is not None:
            self.progress.start()
        return self

    def note(self, text: str) -> None:
        """Show a line above the bar (e.g. the Dask dashboard link), or log it without one."""
        if self.progress is not None:
            self.progress.console.print(text)
        else:
            log.info("%s", text)

    def advance(self, n: int) -> None:
        """Count ``n`` more bytes done."""
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
