"""Pools: several stores as one (``pool://NAME/DATASET``).

Placement decided before any byte is written (rules, then order or weight,
never onto a backend over its quota or ``max_percent_full``), a registry of
immutable records (newest wins, no conditional writes), usage accounting
from listings, and moves between backends that readers never see half done.
"""

from __future__ import annotations

from .config import Member, PoolDef, Rule, add_pool, load_pools, pool_def, remove_pool
from .moves import adopt, move, place, rebalance, status, where
from .pool import Pool, get_pool, placing

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
