"""Pool definitions: ``[pools.NAME]`` tables of the config file.

::

    [pools.nemo]
    type = "hierarchical"                 # or "distributed" (then `weight` instead of `order`)
    registry = "s3://nemo-run/.pool"      # optional; default: the first backend's ".pool"
    [[pools.nemo.backends]]
    id = "tenancy"
    url = "s3://nemo-run/data"
    profile = "jasmin"
    order = 0
    quota = "10 TB"
    [[pools.nemo.backends]]
    id = "gws"
    url = "/gws/nopw/j04/nemo/pool"
    order = 1
    max_percent_full = 90
    labels = { tier = "cold" }
    [[pools.nemo.rules]]
    match = "*_1d_*"
    to = "gws"

A rule's ``to`` names a backend id or a label (``"tier=cold"``); ``size``
is a bound such as ``">10GB"`` or ``"<1GB"``; ``labels`` a table the labels
requested with ``--label`` must contain.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import config_path, write_config
from ..errors import ConfigError, InvalidInput

__all__ = [
    "Member",
    "PoolDef",
    "Rule",
    "add_pool",
    "load_pools",
    "parse_labels",
    "pool_def",
    "remove_pool",
]

PoolType = Literal["hierarchical", "distributed"]
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_MEMBER_KEYS = {"id", "url", "profile", "order", "weight", "quota", "max_percent_full", "labels"}
_RULE_KEYS = {"match", "size", "labels", "to"}
_POOL_KEYS = {"type", "registry", "backends", "rules", "seed"}
_SIZE_BOUND = re.compile(r"\s*([<>]=?)\s*(.+)")


@dataclass(frozen=True)
class Member:
    """One backend of a pool: where it is and what it may receive."""

    id: str
    url: str
    profile: str | None = None
    order: int = 0
    weight: float = 1.0
    quota: int | None = None
    max_percent_full: float | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def has_labels(self, wanted: dict[str, str]) -> bool:
        """True when every wanted label is set to the wanted value here."""
        return all(self.labels.get(k) == v for k, v in wanted.items())


@dataclass(frozen=True)
class Rule:
    """A policy rule: datasets matching it go to a backend id or a label."""

    to: str
    match: str = "*"
    size: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def size_ok(self, size: int | None) -> bool:
        """Whether ``size`` meets the rule's bound (unknown sizes meet none)."""
        if self.size is None:
            return True
        if size is None:
            return False
        m = _SIZE_BOUND.fullmatch(self.size)
        assert m is not None  # validated when read
        bound = parse_size(m.group(2))
        return {"<": size < bound, "<=": size <= bound, ">": size > bound, ">=": size >= bound}[
            m.group(1)
        ]


@dataclass(frozen=True)
class PoolDef:
    """A pool as written in the config file."""

    name: str
    type: PoolType
    members: tuple[Member, ...]
    rules: tuple[Rule, ...] = ()
    registry: str | None = None
    seed: str = ""
    source: str = ""

    def member(self, member_id: str) -> Member:
        """The backend called ``member_id``.

        Raises
        ------
        InvalidInput
            When the pool has no such backend.
        """
        for m in self.members:
            if m.id == member_id:
                return m
        known = ", ".join(m.id for m in self.members)
        raise InvalidInput(
            f"pool '{self.name}' has no backend '{member_id}'", f"use one of: {known}"
        )

    @property
    def _home(self) -> Member:
        """The backend holding the registry by default: the first that is not a pool."""
        for m in self.members:
            if not m.url.startswith("pool://"):
                return m
        raise ConfigError(
            f"pool '{self.name}' has only pools as backends, so no default registry",
            f'set registry = "URL" in [pools.{self.name}]',
        )

    @property
    def registry_url(self) -> str:
        """Where the pool's records live (default: ``.pool`` in the first backend)."""
        if self.registry:
            return self.registry
        return self._home.url.rstrip("/") + "/.pool"

    @property
    def registry_profile(self) -> str | None:
        """The profile for the registry URL: that of the backend it is in (or of its scheme)."""
        if not self.registry:
            return self._home.profile
        scheme = self.registry.split("://", 1)[0] if "://" in self.registry else ""
        same = [m for m in self.members if m.url.startswith(f"{scheme}://")] if scheme else []
        at = len(scheme) + 3  # the bucket (or first directory) after "scheme://"
        inside = [m for m in same if self.registry.startswith(m.url.split("/")[2] + "/", at)]
        return (inside or same or [Member("", "")])[0].profile

    def as_table(self) -> dict[str, Any]:
        """The TOML table that reads back as this pool."""
        table: dict[str, Any] = {"type": self.type}
        if self.registry:
            table["registry"] = self.registry
        if self.seed:
            table["seed"] = self.seed
        table["backends"] = [_member_table(m, self.type) for m in self.members]
        if self.rules:
            table["rules"] = [
                {k: v for k, v in vars(r).items() if v not in (None, {}, "*") or k == "to"}
                for r in self.rules
            ]
        return table


def _member_table(m: Member, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"id": m.id, "url": m.url}
    if m.profile:
        out["profile"] = m.profile
    if kind == "hierarchical":
        out["order"] = m.order
    if kind == "distributed" or m.weight == 0:
        out["weight"] = m.weight
    if m.quota is not None:
        out["quota"] = m.quota
    if m.max_percent_full is not None:
        out["max_percent_full"] = m.max_percent_full
    if m.labels:
        out["labels"] = dict(m.labels)
    return out


def parse_labels(items: tuple[str, ...] | list[str] | None) -> dict[str, str]:
    """``("tier=cold",)`` → ``{"tier": "cold"}``.

    Raises
    ------
    InvalidInput
        For an item without ``=``.
    """
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(
                f"invalid label '{item}'", "write labels as KEY=VALUE, e.g. tier=cold"
            )
        out[key.strip()] = value.strip()
    return out


def parse_size(text: str | int | float) -> int:
    """``"10 TB"`` → bytes (the reader's parser, imported only when a size is read)."""
    from ..reading.cache import parse_size as parse

    return parse(text)


def _fail(where: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{where}: {problem}", fix)


def _labels(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(where, "labels must be a table", 'write labels = { tier = "cold" }')
    return {str(k): _label_value(v) for k, v in value.items()}


def _label_value(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _member(raw: Any, where: str, kind: str) -> Member:
    if not isinstance(raw, dict) or "id" not in raw or "url" not in raw:
        raise _fail(where, "each backend needs id and url", 'add id = "..." and url = "..."')
    unknown = set(raw) - _MEMBER_KEYS
    if unknown:
        raise _fail(
            where,
            f"unknown setting(s) {', '.join(sorted(unknown))}",
            f"valid settings: {', '.join(sorted(_MEMBER_KEYS))}",
        )
    if not _ID.fullmatch(str(raw["id"])):
        raise _fail(
            where,
            f"backend id '{raw['id']}' is not a plain name",
            "use letters, digits, '-' and '_'",
        )
    try:
        quota = parse_size(raw["quota"]) if raw.get("quota") is not None else None
        weight = float(raw.get("weight", 1.0))
        order = int(raw.get("order", 0))
        mpf = raw.get("max_percent_full")
        mpf = float(mpf) if mpf is not None else None
    except (TypeError, ValueError, InvalidInput) as exc:
        raise _fail(
            where, f"bad number ({exc})", 'quota like "10 TB", weights and orders as numbers'
        ) from None
    if weight < 0 or (mpf is not None and not 0 < mpf <= 100):
        raise _fail(where, "weight must be >= 0 and max_percent_full in (0, 100]", "fix the value")
    if kind == "hierarchical" and "weight" in raw and raw["weight"] != 0:
        raise _fail(
            where,
            "hierarchical pools order their backends",
            'use order = N (weight = 0 only to stop new data), or type = "distributed"',
        )
    return Member(
        id=str(raw["id"]),
        url=str(raw["url"]),
        profile=raw.get("profile"),
        order=order,
        weight=weight,
        quota=quota,
        max_percent_full=mpf,
        labels=_labels(raw.get("labels"), where),
    )


def _rule(raw: Any, where: str, ids: set[str]) -> Rule:
    if not isinstance(raw, dict) or "to" not in raw:
        raise _fail(
            where,
            "each rule needs `to` (a backend id or a label KEY=VALUE)",
            'add to = "gws" or to = "tier=cold"',
        )
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise _fail(
            where,
            f"unknown setting(s) {', '.join(sorted(unknown))}",
            f"valid settings: {', '.join(sorted(_RULE_KEYS))}",
        )
    to = str(raw["to"])
    if "=" not in to and to not in ids:
        raise _fail(
            where,
            f"rule sends data to unknown backend '{to}'",
            f"use one of {', '.join(sorted(ids))} or a label KEY=VALUE",
        )
    size = raw.get("size")
    if size is not None:
        m = _SIZE_BOUND.fullmatch(str(size))
        try:
            ok = m is not None and parse_size(m.group(2)) >= 0
        except InvalidInput:
            ok = False
        if not ok:
            raise _fail(where, f"bad size bound {size!r}", 'write size = ">10GB" or "<1GB"')
    return Rule(
        to=to,
        match=str(raw.get("match", "*")),
        size=str(size) if size else None,
        labels=_labels(raw.get("labels"), where),
    )


def pool_from_table(name: str, table: Any, source: str = "") -> PoolDef:
    """Validate one ``[pools.NAME]`` table.

    Raises
    ------
    ConfigError
        Naming the pool, the setting and the fix.
    """
    where = f"pool '{name}'" + (f" in {source}" if source else "")
    if not isinstance(table, dict):
        raise _fail(where, "must be a table", f"use [pools.{name}]")
    unknown = set(table) - _POOL_KEYS
    if unknown:
        raise _fail(
            where,
            f"unknown setting(s) {', '.join(sorted(unknown))}",
            f"valid settings: {', '.join(sorted(_POOL_KEYS))}",
        )
    kind = table.get("type", "hierarchical")
    if kind not in ("hierarchical", "distributed"):
        raise _fail(
            where,
            f'type must be "hierarchical" or "distributed", not {kind!r}',
            f"fix pools.{name}.type",
        )
    raw_members = table.get("backends") or []
    if not isinstance(raw_members, list) or not raw_members:
        raise _fail(where, "has no backends", f"add [[pools.{name}.backends]] with id and url")
    members = [_member(m, f"{where}, backend {i + 1}", kind) for i, m in enumerate(raw_members)]
    ids = [m.id for m in members]
    if len(set(ids)) != len(ids):
        raise _fail(where, "backend ids repeat", "give each backend its own id")
    if any(m.url.rstrip("/") == f"pool://{name}" for m in members):
        raise _fail(where, "a pool cannot contain itself", "point the backend at another pool")
    members.sort(key=lambda m: m.order)
    rules = [
        _rule(r, f"{where}, rule {i + 1}", set(ids)) for i, r in enumerate(table.get("rules") or [])
    ]
    return PoolDef(
        name=name,
        type=kind,
        members=tuple(members),
        rules=tuple(rules),
        registry=table.get("registry"),
        seed=str(table.get("seed", "")),
        source=source,
    )


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"config file {path} is not valid TOML ({exc})", "fix or remove it"
        ) from None


def load_pools(path: Path | None = None) -> dict[str, PoolDef]:
    """Every pool defined in the config file (``$JASMIN_ACCESS_CONFIG``...)."""
    path = path or config_path()
    raw = _read(path).get("pools", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: 'pools' must be a table", "use [pools.NAME]")
    return {name: pool_from_table(name, table, str(path)) for name, table in raw.items()}


def pool_def(name: str, path: Path | None = None) -> PoolDef:
    """The pool called ``name``.

    Raises
    ------
    InvalidInput
        When no such pool is defined.
    """
    pools = load_pools(path)
    if name not in pools:
        known = ", ".join(sorted(pools)) or "none yet"
        raise InvalidInput(
            f"unknown pool '{name}' (defined: {known})",
            f"define it with `jasmin-access pool add {name} ...` or in [pools.{name}]",
        )
    return pools[name]


def add_pool(pool: PoolDef, path: Path | None = None) -> Path:
    """Add or replace ``[pools.NAME]`` (validated by reading it back first)."""
    path = path or config_path()
    pool_from_table(pool.name, pool.as_table())
    data = _read(path)
    data.setdefault("pools", {})[pool.name] = pool.as_table()
    write_config(data, path)
    return path


def remove_pool(name: str, path: Path | None = None) -> Path:
    """Remove ``[pools.NAME]`` from the config file (its data and records stay)."""
    path = path or config_path()
    pool_def(name, path)
    data = _read(path)
    del data["pools"][name]
    write_config(data, path)
    return path
