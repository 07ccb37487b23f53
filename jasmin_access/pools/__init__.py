"""Pools: several stores as one (``pool://NAME/DATASET``).

Placement decided before any byte is written (rules, then order or weight,
never onto a backend over its quota or ``max_percent_full``), a registry of
immutable records (newest wins, no conditional writes), usage accounting
from listings, and moves between backends that readers never see half done.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    **dict.fromkeys(("Member", "PoolDef", "Rule", "add_pool", "load_pools"), "config"),
    **dict.fromkeys(("pool_def", "remove_pool"), "config"),
    **dict.fromkeys(("adopt", "move", "place", "rebalance", "status", "where"), "moves"),
    **dict.fromkeys(("Pool", "get_pool", "placing"), "pool"),
}


def __getattr__(name: str) -> Any:
    """Import what is asked for on first use (``ls pool://`` needs no copy machinery)."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)


__all__ = [
    "Member",
    "Pool",
    "PoolDef",
    "Rule",
    "add_pool",
    "adopt",
    "get_pool",
    "load_pools",
    "move",
    "place",
    "placing",
    "pool_def",
    "rebalance",
    "remove_pool",
    "status",
    "where",
]
