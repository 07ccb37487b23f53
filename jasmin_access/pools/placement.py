"""Where a new dataset goes: rules first, then order or weighted choice, never a full backend.

Each backend's standing (used bytes, quota, % full, weight) is known before
anything is written; a backend that is over its quota, past
``max_percent_full`` (or would be with the new data), weighted 0 or
unreachable receives nothing new but stays readable.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass

from ..errors import InvalidInput, QuotaExceeded
from .config import Member, PoolDef, Rule

__all__ = ["Choice", "Standing", "choose", "human"]


def human(n: float | None) -> str:
    """Bytes in decimal units (``9.9 TB``), as quotas are written."""
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


@dataclass(frozen=True)
class Standing:
    """What a backend holds and may still receive.

    Attributes
    ----------
    used
        Bytes stored (from the cached listing), None when unknown.
    disk_percent
        % full of the disk under a local directory (statvfs), None elsewhere.
    error
        Why the backend could not be reached, None when it was.
    disk_total
        Size of that disk in bytes (for the % the new data would add).
    """

    member: Member
    used: int | None = None
    disk_percent: float | None = None
    error: str | None = None
    disk_total: int | None = None

    @property
    def percent_full(self) -> float | None:
        """% full: of the disk (local directories), else of the quota."""
        if self.disk_percent is not None:
            return self.disk_percent
        if self.member.quota and self.used is not None:
            return 100.0 * self.used / self.member.quota
        return None

    def refusal(self, size: int | None, read_only_weight: bool) -> str | None:
        """Why this backend cannot take ``size`` more bytes (None: it can)."""
        m = self.member
        if self.error is not None:
            return f"{m.id} unreachable"
        if read_only_weight and m.weight == 0:
            return f"{m.id} weight 0 (read-only)"
        extra = size or 0
        if m.quota is not None and self.used is not None and self.used + extra > m.quota:
            return f"{m.id} over quota ({human(self.used)} + {human(extra)} of {human(m.quota)})"
        pct = self.percent_full
        if m.max_percent_full is not None and pct is not None:
            grown = pct
            if extra and self.disk_percent is not None and self.disk_total:
                grown = pct + 100.0 * extra / self.disk_total
            elif extra and m.quota:
                grown = 100.0 * ((self.used or 0) + extra) / m.quota
            if grown >= m.max_percent_full:
                after = f", {grown:.0f}% with this write" if grown > pct + 0.5 else ""
                return f"{m.id} {pct:.0f}% full{after} (limit {m.max_percent_full:g}%)"
        return None


@dataclass(frozen=True)
class Choice:
    """The backend chosen for a dataset and why."""

    member: Member
    why: str


def _pick(pool: PoolDef, dataset: str, fits: list[Standing]) -> tuple[Member, str]:
    if pool.type == "hierarchical":
        first = min(fits, key=lambda s: s.member.order).member
        return first, f"order {first.order} (first backend with room)"
    weighted = [s.member for s in fits if s.member.weight > 0]
    rng = random.Random(f"{pool.seed}/{pool.name}/{dataset}")  # one dataset, one answer
    chosen = rng.choices(weighted, weights=[m.weight for m in weighted])[0]
    total = sum(m.weight for m in weighted)
    return chosen, f"weight {chosen.weight:g} of {total:g} (seeded choice)"


def _rule_applies(rule: Rule, dataset: str, size: int | None, labels: dict[str, str]) -> bool:
    if not fnmatch.fnmatchcase(dataset, rule.match) or not rule.size_ok(size):
        return False
    return all(labels.get(k) == v for k, v in rule.labels.items())


def _targets(pool: PoolDef, to: str) -> list[Member]:
    if "=" in to:
        key, _, value = to.partition("=")
        return [m for m in pool.members if m.labels.get(key.strip()) == value.strip()]
    return [pool.member(to)]


def _no_room(pool: PoolDef, dataset: str, size: int | None, refusals: list[str]) -> QuotaExceeded:
    sized = f" ({human(size)})" if size else ""
    return QuotaExceeded(
        f"no backend of pool '{pool.name}' can take {dataset}{sized}: " + "; ".join(refusals),
        "free space, raise a quota or add a backend (`jasmin-access pool status "
        f"{pool.name}` shows each backend)",
    )


def choose(
    pool: PoolDef,
    dataset: str,
    standings: dict[str, Standing],
    *,
    size: int | None = None,
    labels: dict[str, str] | None = None,
) -> Choice:
    """Choose the backend for a new ``dataset`` (nothing is written).

    Rules are tried first, in order; a rule whose backends have no room
    stops the write rather than being ignored.  Requested ``labels`` keep
    only the backends carrying them.

    Raises
    ------
    QuotaExceeded
        When no allowed backend has room: one line naming each one's state.
    InvalidInput
        When no backend carries the requested labels.
    """
    labels = labels or {}
    for i, rule in enumerate(pool.rules, 1):
        if _rule_applies(rule, dataset, size, labels):
            members = _targets(pool, rule.to)
            return _among(
                pool, dataset, standings, members, size, f"rule {i} ({rule.match} -> {rule.to})"
            )
    members = [m for m in pool.members if m.has_labels(labels)]
    if not members:
        wanted = ", ".join(f"{k}={v}" for k, v in labels.items())
        raise InvalidInput(
            f"no backend of pool '{pool.name}' has the labels {wanted}",
            f"see the labels with `jasmin-access pool show {pool.name}`",
        )
    return _among(pool, dataset, standings, members, size, "")


def _among(
    pool: PoolDef,
    dataset: str,
    standings: dict[str, Standing],
    members: list[Member],
    size: int | None,
    reason: str,
) -> Choice:
    fits: list[Standing] = []
    refusals: list[str] = []
    for m in members:
        st = standings.get(m.id, Standing(m))
        why_not = st.refusal(size, read_only_weight=True)
        if why_not is None:
            fits.append(st)
        else:
            refusals.append(why_not)
    if not fits:
        raise _no_room(pool, dataset, size, refusals)
    member, how = _pick(pool, dataset, fits)
    return Choice(member, f"{reason}: {how}" if reason else how)
