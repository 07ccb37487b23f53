"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``-v`` reconfigures the root logger in-process: undo it after each test."""
    root, ours = logging.getLogger(), logging.getLogger("jasmin_access")
    saved = (list(root.handlers), root.level, ours.level)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    ours.setLevel(saved[2])
