"""``jasmin-access catalog build`` and ``jasmin-access catalog search``."""

from __future__ import annotations

import click

from ._common import echo, emit_json, get_options, global_options, note


@click.group("catalog")
@global_options
def catalog() -> None:
    """Publish and search a STAC catalog of the datasets on a store."""


@catalog.command("build")
@click.argument("urls", nargs=-1, required=True)
@click.option("--to", "to", required=True, metavar="CATALOG_URL", help="Catalog prefix to write.")
@click.option("--title", help="Title of the catalog and its page.")
@click.option("--description", help="Description of the catalog.")
@click.option(
    "--no-coordinate-reads",
    "metadata_only",
    is_flag=True,
    help="Metadata only: no extents for datasets without coverage attributes.",
)
@global_options
def build(
    urls: tuple[str, ...], to: str, title: str | None, description: str | None,
    metadata_only: bool,
) -> None:  # fmt: skip
    """Catalogue the Zarr stores, datastores and indexed NetCDF sets under URLS into CATALOG_URL.

    Writes catalog.json (STAC), one collection and item per dataset (per version for
    a datastore), index.parquet
    (the search index) and index.html; a rebuild rewrites only what changed.
    Extents come from the coverage attributes convert writes; for other stores
    the coordinate arrays are read (not with --no-coordinate-reads).
    """
    from ..catalog import build as run_build

    opts = get_options()
    report = run_build(list(urls), to, title=title, description=description,
                       coordinate_reads=not metadata_only, **opts.resolve_kwargs)  # fmt: skip
    if opts.json:
        return emit_json([report.to_dict()])
    for url, reason in report.skipped.items():
        note(f"skipped {url}: {reason}")
    note(
        f"{report.datasets} datasets: {len(report.written)} written, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )
    echo(report.catalog)


@catalog.command("search")
@click.argument("catalog_url")
@click.option("--bbox", metavar="W,S,E,N", help="Extent that must meet the dataset's.")
@click.option("--time", "time_", metavar="START/END", help="e.g. 1990-01/2000-12 (own calendar).")
@click.option("--var", "variables", multiple=True, metavar="NAME", help="Variable name (repeat).")
@click.option("--standard-name", "standard_names", multiple=True, metavar="NAME",
              help="CF standard name (repeat).")  # fmt: skip
@click.option("--text", metavar="WORDS", help="Words in the id, title, attributes or names.")
@click.option("--limit", type=int, help="At most N results.")
@global_options
def search(catalog_url: str, time_: str | None, **kw: object) -> None:
    """Search CATALOG_URL's index (one object, read by byte ranges) and list what matches."""
    from ..catalog import search as run_search

    opts = get_options()
    items = run_search(catalog_url, time=time_, **kw, **opts.resolve_kwargs)  # type: ignore[arg-type]
    if opts.json:
        return emit_json(item.to_dict(transform_hrefs=False) for item in items)
    for item in items:
        props = item.properties
        when = (
            f"{props['jasmin:time_start']}..{props['jasmin:time_end']} ({props['jasmin:calendar']})"
            if "jasmin:time_start" in props
            else "-"
        )
        box = ",".join(f"{v:g}" for v in item.bbox) if item.bbox else "-"
        echo(f"{item.id}  {when}  bbox {box}  {', '.join(props['cube:variables'])}")
        echo(f"    {item.assets['data'].href}")
    note(f"{len(items)} found")


COMMANDS = [catalog]
