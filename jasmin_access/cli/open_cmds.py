"""``jasmin-access info`` and ``jasmin-access index``."""

from __future__ import annotations

import shutil
import sys

import click

from ._common import echo, emit_json, get_options, global_options, note
from ._scale import scale_options


@click.command("info")
@click.argument("url")
@global_options
def info(url: str) -> None:
    """Summarise a Zarr store or NetCDF object: dims, variables, chunks, codecs, sizes, time."""
    from ..reading.info import info as dataset_info

    opts = get_options()
    summary = dataset_info(url, **opts.resolve_kwargs)
    if opts.json:
        return emit_json([summary.as_dict()])
    # fit the terminal (codec details under -v); piped output keeps every column
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() and not opts.verbose else None
    echo(summary.text(width))


@click.command("index")
@click.argument("args", nargs=-1, required=True, metavar="SOURCES... [DEST]")
@click.option("--dim", default="time_counter", show_default=True, help="Record dimension.")
@scale_options
@global_options
def index(args: tuple[str, ...], dim: str, scheduler: str | None) -> None:
    """Build a reference index over NetCDF objects already on a store.

    SOURCES are NetCDF object URLs or globs; DEST (ending in .json) is the index
    object to write, by default <prefix>/<first name>.index.json next to them.
    Later opens of DEST read only the index and the byte ranges they need.
    """
    from ..open import build_index

    opts = get_options()
    has_dest = args[-1].endswith(".json")
    sources, dest = (list(args[:-1]), args[-1]) if has_dest else (list(args), None)
    if not sources:
        raise click.UsageError("give at least one NetCDF source before DEST")
    url = build_index(sources, dest, record_dim=dim, scheduler=scheduler, **opts.resolve_kwargs)
    if opts.json:
        return emit_json([{"index": url, "sources": sources}])
    note(f"indexed {len(sources)} source pattern(s)")
    echo(url)


COMMANDS = [info, index]
