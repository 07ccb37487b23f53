"""The benchmark cases, one module each, in the order they run.

Each module has ``NAME``, ``run(bench) -> list[Row]`` and
``checks(rows) -> list[Check]`` (the targets it shows).
"""

from __future__ import annotations

from types import ModuleType

from . import (
    catalog,
    convert,
    cp,
    datastore,
    du,
    icechunk,
    info,
    lists,
    mount,
    own_cp,
    pools,
    read,
    scale,
)

__all__ = ["CASES"]

_ORDER = (
    convert,
    read,
    info,
    du,
    cp,
    own_cp,
    scale,
    lists,
    datastore,
    mount,
    icechunk,
    catalog,
    pools,
)
CASES: dict[str, ModuleType] = {m.NAME: m for m in _ORDER}
