"""A progress bar (bytes, chunks, ETA) on stderr, or nothing."""

from __future__ import annotations

import logging
import sys
from types import TracebackType
from typing import Any

__all__ = ["Progress"]

log = logging.getLogger(__name__)


class Progress:
    """Context manager around a rich progress bar; a no-op when disabled.

    Parameters
    ----------
    total_bytes, total_units
        What the bar counts up to.
    enabled
        Draw the bar (on stderr).
    label
        Text in front of the bar.
    """

    def __init__(
        self, total_bytes: int, total_units: int, *, enabled: bool, label: str = "converting"
    ) -> None:
        self.enabled = enabled and total_units > 0
        self.total_units = total_units
        self.units = 0
        self._bar: Any = None
        self._task: Any = None
        self._total_bytes = total_bytes
        self._label = label
        self._sink: Any = None

    def note(self, text: str) -> None:
        """Show a line above the bar (the Dask dashboard link), or log it without a bar."""
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            log.info("%s", text)

    def __enter__(self) -> Progress:
        from ..execution import status_sink

        self._sink = status_sink(self.note)
        self._sink.__enter__()
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            from ..fs._progress import byte_columns

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                *byte_columns(),
                TextColumn("{task.fields[units]} chunks"),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(
                self._label, total=self._total_bytes, units=f"0/{self.total_units}"
            )
        return self

    def advance(self, nbytes: int) -> None:
        """One unit of ``nbytes`` finished."""
        self.units += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=nbytes, units=f"{self.units}/{self.total_units}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sink is not None:
            self._sink.__exit__(None, None, None)
            self._sink = None
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
