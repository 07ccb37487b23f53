"""The pseudo-directory commands: ls, du, tree, find, stat, cat, head, cp, mv, rm, sync.

Thin renderers over :mod:`jasmin_access.fs`: parse, call one function, print.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import fs, paths
from ..errors import InvalidInput
from ..fs.records import Entry, RemoveReport, TransferReport, Usage
from ._common import SizeType, echo, emit_json, get_options, global_options, human_size, note
from ._scale import scale_options

__all__ = ["COMMANDS"]

_HUMAN_OK = {"help_option_names": ["--help"]}


def _size(n: int | None, human: bool) -> str:
    return human_size(n) if human else ("-" if n is None else str(n))


def _filters(func: Any) -> Any:
    """``--include``/``--exclude`` patterns (repeatable)."""
    func = click.option(
        "--exclude",
        multiple=True,
        metavar="GLOB",
        help="Leave out paths matching GLOB (relative path or name; repeatable).",
    )(func)
    return click.option(
        "--include",
        multiple=True,
        metavar="GLOB",
        help="Only paths matching GLOB (relative path or name; repeatable).",
    )(func)


def _entry_line(e: Entry, long: bool, human: bool, name: str) -> str:
    label = name + ("/" if e.type == "directory" and not name.endswith("/") else "")
    if e.conflict:
        label += "  [an object and a prefix share this name]"
    if not long:
        return label
    when = e.last_modified.strftime("%Y-%m-%d %H:%M:%S") if e.last_modified else "-"
    return f"{_size(e.size, human):>12}  {when:<19}  {e.etag or '-':<34}  {label}"


@click.command(context_settings=_HUMAN_OK)
@click.argument("url")
@click.option("-l", "long", is_flag=True, help="Size, last-modified and ETag.")
@click.option("-h", "human", is_flag=True, help="Human-readable sizes.")
@click.option("-R", "recursive", is_flag=True, help="Everything below, recursively.")
@global_options
def ls(url: str, long: bool, human: bool, recursive: bool) -> None:
    """List a pseudo-directory (one level by default). Quote globs: 's3://b/run*/*.nc'."""
    opts = get_options()
    entries = fs.ls(url, recursive=recursive, **opts.resolve_kwargs)
    if opts.json:
        return emit_json(e.to_dict() for e in entries)
    base = _listing_base(url, recursive)
    for e in entries:
        where = e.path.split("://")[-1]  # s3:// may be served by the embedded store (local://)
        name = where[len(base) :] if base and where.startswith(base) else e.name
        echo(_entry_line(e, long, human, name))


def _listing_base(url: str, recursive: bool) -> str | None:
    """What listed paths are shown relative to: the part of a glob before its first wildcard."""
    if paths.has_magic(url.split("://")[-1]):
        base = paths.glob_base(url)
        base = base.split("://")[-1] if "://" in base else os.path.abspath(base or ".")
    elif recursive:
        base = url.split("://")[-1] if "://" in url else os.path.abspath(url)
    else:
        return None
    return base.rstrip("/") + "/"


def _usage_line(u: Usage, human: bool, inodes: bool) -> str:
    amount = str(u.objects) if inodes else _size(u.bytes, human)
    line = f"{amount:>12}  {u.path}"
    if u.zarr is not None:
        z = u.zarr
        ratio = f", ratio {z.ratio:.2f}" if z.ratio else ""
        expected = z.chunks_expected
        of = f" of {expected}" if expected is not None and expected != z.chunks else ""
        line += (
            f"  [zarr v{z.zarr_format} store: {len(z.variables)} variables, {z.chunks}{of} chunks, "
            f"{_size(z.bytes_stored, human)} stored, "
            f"{_size(z.bytes_uncompressed, human)} uncompressed{ratio}]"
        )
        if z.unfinished:
            line += "  unfinished (re-run convert to resume)"
    if u.datastore is not None:
        d = u.datastore
        line += (
            f"  [datastore: {_count(d['versions'], 'version')}, latest {d['latest'] or '-'}: "
            f"{d.get('latest_objects', 0)} files, {_size(d.get('latest_bytes', 0), human)}]"
        )
    return line


@click.command(context_settings=_HUMAN_OK)
@click.argument("url")
@click.option("-d", "--max-depth", "depth", type=int, help="Show prefixes down to this depth.")
@click.option("-s", "--summarize", is_flag=True, help="Only the total.")
@click.option("-h", "human", is_flag=True, help="Human-readable sizes.")
@click.option("--inodes", is_flag=True, help="Show object counts instead of bytes.")
@click.option("--expand", is_flag=True, help="Show the prefixes inside Zarr stores too.")
@_filters
@global_options
def du(
    url: str,
    depth: int | None,
    summarize: bool,
    human: bool,
    inodes: bool,
    expand: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
) -> None:
    """Bytes and objects per prefix; a Zarr store counts as one unit."""
    opts = get_options()
    rows = fs.du(
        url,
        depth=depth,
        summarize=summarize,
        expand=expand,
        include=include,
        exclude=exclude,
        **opts.resolve_kwargs,
    )
    if opts.json:
        return emit_json(r.to_dict() for r in rows)
    for r in rows:
        echo(_usage_line(r, human, inodes))


@click.command()
@click.argument("url")
@click.option("-L", "level", type=int, help="Descend at most this many levels.")
@global_options
def tree(url: str, level: int | None) -> None:
    """Show the pseudo-directory tree below URL."""
    opts = get_options()
    root = fs.tree(url, max_depth=level, **opts.resolve_kwargs)
    if opts.json:
        return emit_json([root.to_dict()])
    echo(root.name)
    for line in root.lines():
        echo(line)


@click.command()
@click.argument("url")
@click.option("--name", metavar="GLOB", help="Glob on the object name, e.g. '*.nc'.")
@click.option("--min-size", type=SizeType(), metavar="SIZE", help="At least SIZE (e.g. 500, 1M).")
@click.option("--max-size", type=SizeType(), metavar="SIZE", help="At most SIZE (K, M, G: 1024s).")
@click.option("--newer", metavar="DATE", help="Modified after DATE (ISO, UTC if no zone).")
@global_options
def find(
    url: str, name: str | None, min_size: int | None, max_size: int | None, newer: str | None
) -> None:
    """Find objects below URL by name, size and date."""
    opts = get_options()
    found = fs.find(
        url, name=name, min_size=min_size, max_size=max_size, newer=newer, **opts.resolve_kwargs
    )
    for e in found:
        if opts.json:
            emit_json([e.to_dict()])
        else:
            echo(e.path)


@click.command()
@click.argument("url")
@global_options
def stat(url: str) -> None:
    """Size, ETag, content type and user metadata of one object."""
    opts = get_options()
    info = fs.stat(url, **opts.resolve_kwargs)
    if opts.json:
        return emit_json([info.to_dict()])
    for key, value in info.to_dict().items():
        echo(f"{key + ':':<15} {value if value not in (None, {}) else '-'}")


@click.command()
@click.argument("url")
@click.option("--range", "byte_range", metavar="START-END", help="Inclusive byte range.")
@global_options
def cat(url: str, byte_range: str | None) -> None:
    """Write an object (or an inclusive byte range of it) to standard output."""
    out = sys.stdout.buffer
    fs.cat_to(url, out, byte_range=byte_range, **get_options().resolve_kwargs)
    out.flush()


@click.command()
@click.argument("url")
@click.option("-c", "nbytes", type=int, default=1024, show_default=True, help="Bytes to show.")
@global_options
def head(url: str, nbytes: int) -> None:
    """Write the first bytes of an object to standard output (one ranged read)."""
    out = sys.stdout.buffer
    out.write(fs.head(url, nbytes=nbytes, **get_options().resolve_kwargs))
    out.flush()


def _report(report: TransferReport) -> None:
    opts = get_options()
    if opts.json:
        return emit_json([*(i.to_dict() for i in report.items), report.to_dict()])
    for item in report.items:
        if item.status in ("would-copy", "would-delete") or (opts.verbose and item.status):
            echo(f"{item.status:<13} {item.src or item.dst}" + (f" -> {item.dst}" * bool(item.src)))
    if report.dry_run:
        planned = sum(i.size for i in report.items if i.status == "would-copy")
        return note(f"{report.counts()} ({human_size(planned)} would be copied)")
    note(f"{report.counts()} ({human_size(report.bytes_copied)} copied)")


def _transfer(func: Any, src: Any, dst: str, **kwargs: Any) -> None:
    opts = get_options()
    try:
        report = func(src, dst, progress=opts.progress, **kwargs, **opts.resolve_kwargs)
    except Exception as exc:
        partial = getattr(exc, "report", None)
        if partial is not None:
            for item in partial.failures:
                click.echo(f"failed: {item.src}: {item.error}", err=True)
            _report(partial)
        raise
    _report(report)


def _split_paths(command: str, given: tuple[str, ...]) -> tuple[list[str], str]:
    if len(given) < 2:
        raise click.UsageError(
            f"{command} needs a source and a destination (SRC... DST)", click.get_current_context()
        )
    return list(given[:-1]), given[-1]


@click.command()
@click.argument("given", nargs=-1, metavar="SRC... DST")
@click.option("-r", "--recursive", is_flag=True, help="Copy a prefix (its contents into DST).")
@click.option("-n", "--no-clobber", is_flag=True, help="Never overwrite existing files.")
@click.option("--dry-run", is_flag=True, help="Only show what would be copied.")
@_filters
@scale_options
@global_options
def cp(
    given: tuple[str, ...],
    recursive: bool,
    no_clobber: bool,
    dry_run: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    scheduler: str | None,
) -> None:
    """Copy files between storage URLs (s3://, webdav://, sftp://, az://, ...) and local paths.

    Several sources go into the directory DST; a DST ending in / is a directory.
    """
    srcs, dst = _split_paths("cp", given)
    _transfer(
        fs.cp,
        srcs,
        dst,
        recursive=recursive,
        no_clobber=no_clobber,
        dry_run=dry_run,
        include=include,
        exclude=exclude,
        scheduler=scheduler,
    )


@click.command()
@click.argument("given", nargs=-1, metavar="SRC... DST")
@click.option("-r", "--recursive", is_flag=True, help="Move a prefix.")
@click.option("-n", "--no-clobber", is_flag=True, help="Never overwrite existing files.")
@_filters
@global_options
def mv(
    given: tuple[str, ...],
    recursive: bool,
    no_clobber: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
) -> None:
    """Move: copy, verify, then delete the source (several sources go into DST)."""
    srcs, dst = _split_paths("mv", given)
    _transfer(
        fs.mv,
        srcs,
        dst,
        recursive=recursive,
        no_clobber=no_clobber,
        include=include,
        exclude=exclude,
    )


@click.command()
@click.argument("src")
@click.argument("dst")
@click.option("--delete", is_flag=True, help="Delete files in DST that are not in SRC.")
@click.option("--dry-run", is_flag=True, help="Show what would be copied and deleted.")
@click.option("--checksum", is_flag=True, help="Compare checksums, not only sizes.")
@click.option("--force", is_flag=True, help="Allow --delete on a bucket root.")
@_filters
@scale_options
@global_options
def sync(
    src: str,
    dst: str,
    delete: bool,
    dry_run: bool,
    checksum: bool,
    force: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    scheduler: str | None,
) -> None:
    """Copy new and changed files from SRC to DST (deletion is opt-in)."""
    _transfer(
        fs.sync,
        src,
        dst,
        delete=delete,
        dry_run=dry_run,
        checksum=checksum,
        force=force,
        include=include,
        exclude=exclude,
        scheduler=scheduler,
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _objects(n: int) -> str:
    return _count(n, "object")


def _confirm(cancelled: list[str]) -> Any:
    """The question asked before deleting a prefix or a glob's matches."""

    def ask(report: RemoveReport) -> bool:
        if not sys.stdin.isatty():
            raise InvalidInput(
                f"refusing to delete {_objects(report.objects)} under {report.url} without "
                "confirmation (not a terminal)",
                "pass -y to delete, or --dry-run to preview",
            )
        ok = click.confirm(
            f"delete {_objects(report.objects)} ({human_size(report.bytes)}) under {report.url}?",
            default=False,
            err=True,
        )
        if not ok:
            cancelled.append(report.url)
        return ok

    return ask


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("-r", "--recursive", is_flag=True, help="Delete everything below the prefix.")
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before deleting a prefix or a glob.")
@click.option("--force", is_flag=True, help="Allow deleting a whole bucket.")
@_filters
@global_options
def rm(
    urls: tuple[str, ...],
    recursive: bool,
    dry_run: bool,
    yes: bool,
    force: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
) -> None:
    """Delete objects; asks before deleting a prefix (-r) or a glob's matches.

    Off a terminal that question needs -y; one named object is deleted without it.
    """
    opts = get_options()
    cancelled: list[str] = []
    for url in urls:
        asks = not (yes or dry_run) and (recursive or paths.has_magic(url.split("://")[-1]))
        report = fs.rm(
            url,
            recursive=recursive,
            dry_run=dry_run,
            force=force,
            confirm=_confirm(cancelled) if asks else None,
            include=include,
            exclude=exclude,
            **opts.resolve_kwargs,
        )
        if report.cancelled:
            note(f"cancelled: nothing deleted under {report.url}")
            continue
        if opts.json:
            emit_json([report.to_dict()])
            continue
        if dry_run:
            for path in report.paths:
                echo(f"would delete {path}")
        verb = "would delete" if report.dry_run else "deleted"
        note(f"{verb} {_objects(report.objects)} ({human_size(report.bytes)})")
    if cancelled:
        raise click.exceptions.Exit(1)


@click.command()
@click.argument("url")
@click.option("--exist-ok", is_flag=True, help="Succeed if the bucket already exists.")
@global_options
def mb(url: str, exist_ok: bool) -> None:
    """Make a bucket (e.g. s3://my-bucket)."""
    made = fs.mb(url, exist_ok=exist_ok, **get_options().resolve_kwargs)
    if get_options().json:
        return emit_json([{"path": made, "type": "bucket"}])
    note(f"bucket {made} ready")


COMMANDS = [ls, du, tree, find, stat, cat, head, cp, mv, rm, sync, mb]
