"""Imports kept lean for a command line that starts many times a day.

Some libraries import optional dependencies just because they are installed:
aiobotocore (under s3fs) imports httpx for a backend it does not use by
default, and httpx imports rich and its command line with it, ~80 ms of every
S3 command's start-up.  :func:`without_optional` hides such modules while one
import runs; they stay importable afterwards (webdav4 needs httpx).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["without_optional"]


@contextmanager
def without_optional(*names: str) -> Iterator[None]:
    """Imports inside the block find the modules ``names`` absent (unless already imported).

    Parameters
    ----------
    names
        Top-level module names an import inside the block may try and do without.
    """
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` raises ImportError
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
