"""``jasmin-access pool add|show|list|rm|status|where|place|move|rebalance|adopt``."""

from __future__ import annotations

from typing import Any

import click

from .. import pools
from ..errors import InvalidInput
from ..pools.config import pool_from_table
from ..pools.placement import human
from ._common import echo, emit_json, get_options, global_options, note


@click.group()
@global_options
def pool() -> None:
    """Pools: several stores as one, addressed as pool://NAME/DATASET."""


def _spec(text: str, what: str) -> dict[str, Any]:
    """``id=gws,url=/gws/pool,order=1,label.tier=cold`` → a table."""
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise InvalidInput(f"invalid {what} '{text}'", "write KEY=VALUE pairs separated by ,")
        key = key.strip()
        if key.startswith("label."):
            out.setdefault("labels", {})[key[6:]] = value.strip()
        elif key in ("order",):
            out[key] = int(value)
        elif key in ("weight", "max_percent_full"):
            out[key] = float(value)
        else:
            out[key] = value.strip()
    return out


@pool.command("add")
@click.argument("name")
@click.option(
    "--type",
    "type_",
    type=click.Choice(["hierarchical", "distributed"]),
    default="hierarchical",
    show_default=True,
)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    required=True,
    metavar="SPEC",
    help="id=ID,url=URL[,profile=P][,order=N|weight=W][,quota=10TB]"
    "[,max_percent_full=90][,label.KEY=VALUE] (repeat, in order).",
)
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="SPEC",
    help="match=GLOB[,size=>10GB][,label.KEY=VALUE],to=ID|KEY=VALUE (repeat).",
)
@click.option("--registry", metavar="URL", help="Where the records live (default: first backend).")
@global_options
def add(
    name: str, type_: str, backends: tuple[str, ...], rules: tuple[str, ...], registry: str | None
) -> None:
    """Add or replace pool NAME in the config file.

    \b
    pool add nemo --backend id=tenancy,url=s3://nemo-run/data,profile=jasmin,quota=10TB \\
                  --backend id=gws,url=/gws/nopw/j04/nemo/pool,order=1,max_percent_full=90
    """
    table: dict[str, Any] = {"type": type_, "backends": [_spec(b, "backend") for b in backends]}
    for i, b in enumerate(table["backends"]):
        if type_ == "hierarchical":
            b.setdefault("order", i)
    if rules:
        table["rules"] = [_rule(r) for r in rules]
    if registry:
        table["registry"] = registry
    path = pools.add_pool(pool_from_table(name, table))
    echo(f"pool '{name}' written to {path}")


def _rule(text: str) -> dict[str, Any]:
    spec = _spec(text.replace("to=", "\0to=", 1), "rule")  # `to` may hold KEY=VALUE
    spec = {k.lstrip("\0"): v for k, v in spec.items()}
    return spec


@pool.command("show")
@click.argument("name", required=False)
@global_options
def show(name: str | None) -> None:
    """Show one pool's definition (or every pool's)."""
    defs = pools.load_pools()
    chosen = [pools.pool_def(name)] if name else list(defs.values())
    if get_options().json:
        return emit_json([{"name": d.name, **d.as_table()} for d in chosen])
    for d in chosen:
        echo(f"{d.name}  ({d.type}; registry {d.registry_url})")
        for m in d.members:
            rank = f"order {m.order}" if d.type == "hierarchical" else f"weight {m.weight:g}"
            extra = [f"quota {human(m.quota)}"] if m.quota else []
            extra += [f"max {m.max_percent_full:g}% full"] if m.max_percent_full else []
            extra += [f"{k}={v}" for k, v in m.labels.items()]
            prof = f" -p {m.profile}" if m.profile else ""
            echo(f"  {m.id:<12} {m.url}{prof}  {rank}  {' '.join(extra)}".rstrip())
        for i, r in enumerate(d.rules, 1):
            size = f" size {r.size}" if r.size else ""
            echo(f"  rule {i}: {r.match}{size} -> {r.to}")


@pool.command("rm")
@click.argument("name")
@global_options
def rm(name: str) -> None:
    """Remove pool NAME from the config file (its data and records stay where they are)."""
    path = pools.remove_pool(name)
    echo(f"pool '{name}' removed from {path}")


@pool.command("status")
@click.argument("name")
@click.option("--refresh", is_flag=True, help="List every backend now (else the cached usage).")
@global_options
def status(name: str, refresh: bool) -> None:
    """Per backend: used, quota, % full, datasets, reachable."""
    rows = pools.status(name, refresh=refresh)
    if get_options().json:
        return emit_json(rows)
    echo(f"{'backend':<12} {'used':>10} {'quota':>10} {'full':>6} {'datasets':>8}  state")
    for r in rows:
        pct = f"{r['percent_full']:.0f}%" if r["percent_full"] is not None else "-"
        state = "ok" if r["accepts_new"] else "no new data"
        state = state if r["reachable"] else f"UNREACHABLE: {r['error']}"
        datasets = r["datasets"] if r["datasets"] is not None else "-"
        quota = human(r["quota"]) if r["quota"] else "-"
        echo(
            f"{r['backend']:<12} {human(r['used']):>10} {quota:>10} {pct:>6} {datasets:>8}  {state}"
        )
    age = rows[0]["usage_age_s"] if rows else None
    note(f"usage listed {age} s ago" + ("" if refresh else " (--refresh to list again)"))


@pool.command("where")
@click.argument("url")
@global_options
def where(url: str) -> None:
    """Which backend holds pool://NAME/DATASET, and why it was chosen."""
    info = pools.where(url)
    if get_options().json:
        return emit_json([info])
    echo(f"{info['url']}  ->  {info['backend']}  ({info['location']})")
    echo(f"  {info['state']}: {info['why']}")


@pool.command("place")
@click.argument("url")
@click.option("--size", help="Size about to be written (e.g. 12GB), checked against quotas.")
@global_options
def place(url: str, size: str | None) -> None:
    """Choose and record the backend for a new dataset before writing it (--label KEY=VALUE)."""
    from ..pools.config import parse_size

    info = pools.place(url, size=parse_size(size) if size else None)
    if get_options().json:
        return emit_json([info])
    echo(f"{info['url']}  ->  {info['backend']}  ({info['why']})")


_GRACE = click.option(
    "--grace",
    type=float,
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait between switching readers to a new copy and deleting the old one.",
)


@pool.command("move")
@click.argument("url")
@click.option("--to", "to", required=True, metavar="BACKEND", help="Backend id to move it to.")
@_GRACE
@global_options
def move(url: str, to: str, grace: float) -> None:
    """Move a dataset to another backend (copy, verify, switch, delete); re-run resumes."""
    info = pools.move(url, to, progress=get_options().progress, grace=grace)
    if get_options().json:
        return emit_json([info])
    if not info["moved"]:
        echo(f"{url} is already on {to}")
    else:
        echo(f"{url}: moved from {info['from']} to {to} ({human(info['bytes'])})")


@pool.command("rebalance")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Say what would move.")
@_GRACE
@global_options
def rebalance(name: str, dry_run: bool, grace: float) -> None:
    """Move datasets off backends over their quota or max_percent_full."""
    rows = pools.rebalance(name, dry_run=dry_run, grace=grace)
    if get_options().json:
        return emit_json(rows)
    verb = "would move" if dry_run else "moved"
    for r in rows:
        echo(f"{verb} {r['dataset']}: {r['from']} -> {r['to']} ({human(r['bytes'])})")
    if not rows:
        echo(f"pool '{name}': every backend is within its limits")


@pool.command("adopt")
@click.argument("name")
@click.argument("url")
@global_options
def adopt(name: str, url: str) -> None:
    """Record data already stored under one of the pool's backends."""
    info = pools.adopt(name, url)
    if get_options().json:
        return emit_json([info])
    echo(f"{info['url']} recorded on {info['backend']}")
