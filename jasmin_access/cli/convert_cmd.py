"""``jasmin-access convert`` and ``jasmin-access verify``."""

from __future__ import annotations

from typing import Any

import click

from ..errors import IntegrityError
from ._common import echo, emit_json, get_options, global_options, human_size
from ._scale import scale_options

_SPLIT = {"variables", "drop_variables"}


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _time_variable(func: Any) -> Any:
    return click.option(
        "--time-variable",
        metavar="NAME",
        help="Variable along the record dimension that orders and checks the steps "
        "(default: the record coordinate if it has time units, else e.g. time_centered).",
    )(func)


def _parallel(func: Any) -> Any:
    func = _time_variable(func)
    func = click.option("--workers", type=int, help="N local worker processes.")(func)
    func = scale_options(func)
    func = click.option("--concat-dim", metavar="DIM", help="Record dimension to join files.")(func)
    func = click.option("--drop-variables", metavar="A,B", help="Variables to leave out.")(func)
    return click.option("--variables", metavar="A,B", help="Only these variables.")(func)


def _render_differences(differences: list[str]) -> None:
    for line in differences:
        echo(f"DIFF {line}")


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.argument("dest")
@click.option("--chunks", metavar="DIM=N,...", help="Chunk sizes (others: default rule).")
@click.option("--target-chunk-mb", type=float, help="Target uncompressed chunk size (16).")
@click.option("--zarr-format", type=click.Choice(["2", "3"]), default="3", show_default=True)
@click.option("--shard-mb", type=float, help="Zarr v3 shards of about N MB.")
@click.option("--compressor", type=click.Choice(["zstd", "lz4", "zlib", "none"]), default="zstd")
@click.option(
    "--compression-level",
    type=click.IntRange(0, 9),
    metavar="0-9",
    help="Compressor level (zstd: 2, lz4/zlib: 5).",
)
@click.option("--keep-bits", type=int, help="Lossy: keep N mantissa bits of float data.")
@click.option("--attrs", "attrs", multiple=True, metavar="KEY=VALUE", help="Add global attribute.")
@click.option("--overwrite", is_flag=True, help="Replace an existing store.")
@click.option("--verify", "verify_", is_flag=True, help="Compare with the sources afterwards.")
@_parallel
@global_options
def convert(
    sources: tuple[str, ...], dest: str, zarr_format: str, verify_: bool, **kw: Any
) -> None:
    """Convert NetCDF SOURCES (files, quoted globs, @list.txt, URLs) into the Zarr store DEST."""
    from ..conversion import convert as run_convert

    opts = get_options()
    for key in _SPLIT:
        kw[key] = _split(kw[key])
    for item in kw["attrs"]:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--attrs")
    report = run_convert(
        list(sources), dest, zarr_format=int(zarr_format), verify=verify_,
        progress=opts.progress, **opts.resolve_kwargs, **kw,
    )  # fmt: skip
    if opts.json:
        emit_json([report.to_dict()])
    elif not opts.quiet:
        sizes = (  # a resumed run wrote only part of what the store now holds
            f"{human_size(report.bytes_uncompressed)} written this run, the store holds "
            f"{human_size(report.bytes_stored)}"
            if report.resumed
            else f"{human_size(report.bytes_uncompressed)} -> {human_size(report.bytes_stored)} "
            "stored"
        )
        echo(
            f"{report.dest}: {report.chunks_written} chunks written, {report.chunks_skipped} "
            f"skipped, {sizes} in {report.seconds:.1f} s"
        )
        _render_differences(report.differences)
        if report.verified:
            echo(f"verified: every variable equals its {report.sources} source file(s)")
    if report.verified is False:
        raise IntegrityError(f"{report.dest} differs from its sources", "see the DIFF lines")


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.argument("dest")
@_parallel
@global_options
def verify(sources: tuple[str, ...], dest: str, **kw: Any) -> None:
    """Compare the Zarr store DEST with its NetCDF SOURCES, value by value."""
    from ..conversion import verify as run_verify

    opts = get_options()
    for key in _SPLIT:
        kw[key] = _split(kw[key])
    report = run_verify(list(sources), dest, progress=opts.progress, **opts.resolve_kwargs, **kw)
    if opts.json:
        emit_json([report.to_dict()])
    else:
        _render_differences(report.differences)
        if not opts.quiet and report.ok:
            echo(f"{report.dest}: {report.arrays} arrays, {report.blocks} blocks match")
    if not report.ok:
        raise IntegrityError(
            f"{report.dest} differs from its sources ({len(report.differences)} differences)"
        )


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.argument("dest")
@click.option("--replace", is_flag=True, help="Overwrite steps already in the store.")
@click.option("--allow-gaps", is_flag=True, help="Accept gaps in the record spacing.")
@click.option("--workers", type=int, help="N local worker processes.")
@scale_options
@click.option("--drop-variables", metavar="A,B", help="Variables to leave out.")
@click.option("--variables", metavar="A,B", help="Only these variables.")
@_time_variable
@global_options
def append(sources: tuple[str, ...], dest: str, **kw: Any) -> None:
    """Append NetCDF SOURCES to the Zarr store DEST along its record dimension."""
    from ..conversion import append as run_append

    opts = get_options()
    for key in _SPLIT:
        kw[key] = _split(kw[key])
    report = run_append(list(sources), dest, progress=opts.progress, **opts.resolve_kwargs, **kw)
    if opts.json:
        emit_json([report.to_dict()])
    elif not opts.quiet:
        echo(
            f"{report.dest}: {report.chunks_written} chunks written, "
            f"{report.chunks_skipped} skipped in {report.seconds:.1f} s"
        )
