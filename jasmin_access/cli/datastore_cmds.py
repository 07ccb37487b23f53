"""``jasmin-access datastore …``: named, immutable, versioned datasets."""

from __future__ import annotations

from typing import Any

import click

from ..errors import IntegrityError
from ._common import echo, emit_json, get_options, global_options, human_size, note
from ._scale import scale_options

__all__ = ["COMMANDS", "datastore"]


def _kw() -> dict[str, Any]:
    return dict(get_options().resolve_kwargs)


def _api() -> Any:
    from .. import datastore as api

    return api


@click.group("datastore")
@global_options
def datastore() -> None:
    """Versioned datasets: create, push, log, status, diff, tag, rm, gc, verify, get, mount.

    Versions: URL@latest (default), URL@ID or a unique prefix, URL@TAG,
    URL@2026-11-01T12:00 (newest at that UTC time).
    """


def _pushed(res: Any) -> None:
    if get_options().json:
        return emit_json([res.as_dict()])
    if res.unchanged:
        note(f"unchanged: {res.url} already holds these bytes as version {res.version}")
        return echo(res.version)
    note(
        f"pushed {res.objects} objects ({human_size(res.bytes)}): uploaded "
        f"{res.uploaded_objects} ({human_size(res.uploaded_bytes)}), reused {res.reused_objects}"
    )
    echo(res.version)


@datastore.command("create")
@click.argument("url")
@click.option("--from", "src", metavar="SRC", help="Directory, prefix or Zarr store to push.")
@click.option("-m", "--message", help="Message of the first version.")
@scale_options
@global_options
def create(url: str, src: str | None, message: str | None, scheduler: str | None) -> None:
    """Create a datastore at URL (optionally with SRC as its first version)."""
    res = _api().create(url, src, message, scheduler=scheduler, **_kw())
    if res is None:
        return note(f"created empty datastore {url}")
    _pushed(res)


@datastore.command("push")
@click.argument("url")
@click.argument("src")
@click.option("-m", "--message", help="Message of the new version.")
@scale_options
@global_options
def push(url: str, src: str, message: str | None, scheduler: str | None) -> None:
    """Publish SRC as a new version of URL (a no-op, exit 0, when nothing changed).

    Unchanged source files are not read again (a local hash cache); hashing
    and uploading run on --scheduler/--cluster, the manifest is written last.
    """
    _pushed(_api().push(url, src, message, scheduler=scheduler, **_kw()))


@datastore.command("log")
@click.argument("url")
@global_options
def log(url: str) -> None:
    """Versions, newest first: ID, parent, size, bytes new, tags, message; forks marked."""
    rows = _api().log(url, **_kw())
    if get_options().json:
        return emit_json(rows)
    for r in rows:
        tags = f" [{', '.join(r['tags'])}]" if r["tags"] else ""
        fork = "  (fork)" if r["fork"] else ""
        echo(
            f"{r['id']}  parent {r['parent'] or '-':<28}  {r['objects']:>7} objects "
            f"{human_size(r['bytes']):>10}  new {human_size(r['new_bytes']):>10}"
            f"{tags}{fork}  {r['message'] or ''}"
        )


@datastore.command("status")
@click.argument("url")
@global_options
def status(url: str) -> None:
    """State (complete / in progress / interrupted), objects, bytes and dedup ratio."""
    st = _api().status(url, **_kw())
    if get_options().json:
        return emit_json([st])
    for key, value in st.items():
        echo(f"{key:<18} {human_size(value) if key.endswith('bytes') else value}")


@datastore.command("diff")
@click.argument("url_a")
@click.argument("url_b")
@global_options
def diff(url_a: str, url_b: str) -> None:
    """Keys added (+), removed (-) and changed (M) from URL@A to URL@B."""
    d = _api().diff(url_a, url_b, **_kw())
    if get_options().json:
        return emit_json([d])
    for mark, name in (("+", "added"), ("-", "removed"), ("M", "changed")):
        for key in d[name]:
            echo(f"{mark} {key}")
    note(f"{len(d['added'])} added, {len(d['removed'])} removed, {len(d['changed'])} changed")


@datastore.command("tag")
@click.argument("url")
@click.argument("name")
@global_options
def tag(url: str, name: str) -> None:
    """Give the version URL@V the immutable tag NAME."""
    vid = _api().tag(url, name, **_kw())
    note(f"tagged {vid} as {name}")


@datastore.command("rm")
@click.argument("url")
@click.option("--force", is_flag=True, help="Also remove the tags of that version.")
@global_options
def rm(url: str, force: bool) -> None:
    """Remove version URL@V (objects go at the next gc), or the whole datastore URL."""
    res = _api().rm(url, force=force, **_kw())
    if get_options().json:
        return emit_json([res])
    note(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in res.items()))


@datastore.command("gc")
@click.argument("url")
@click.option("--grace", default="24h", show_default=True, help="Keep younger objects.")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@global_options
def gc(url: str, grace: str, dry_run: bool) -> None:
    """Delete objects no version references, older than the grace period (store clock)."""
    res = _api().gc(url, grace=grace, dry_run=dry_run, **_kw())
    if get_options().json:
        return emit_json([res.as_dict()])
    verb = "would delete" if dry_run else "deleted"
    n = len(res.candidates) if dry_run else res.deleted
    echo(
        f"{res.versions} versions, {res.referenced} objects referenced; {verb} {n} "
        f"unreferenced; kept {res.kept_young} younger than {grace}"
    )


@datastore.command("verify")
@click.argument("url")
@global_options
def verify(url: str) -> None:
    """Re-read and re-hash every object of URL@V."""
    res = _api().verify(url, **_kw())
    if not res.ok:
        for line in res.problems[1:]:
            note(line)
        raise IntegrityError(f"{len(res.problems)} problem(s); first: {res.problems[0]}")
    echo(f"{res.url}@{res.version}: {res.objects} objects, {human_size(res.bytes)} verified")


@datastore.command("get")
@click.argument("url")
@click.argument("dest")
@global_options
def get(url: str, dest: str) -> None:
    """Copy the files of URL@V to DEST (local directory or prefix), hash-checked."""
    res = _api().get(url, dest, **_kw())
    note(f"{res['objects']} files ({human_size(res['bytes'])}) of {res['version']} -> {dest}")


@datastore.command("mount")
@click.argument("url")
@click.argument("mountpoint")
@click.option("--cache-dir", help="Block cache directory (default: a temporary one).")
@click.option("--cache-size", default="1GiB", show_default=True, help="Block cache bound.")
@click.option("--foreground", is_flag=True, help="Serve in this process until unmounted.")
@global_options
def mount(
    url: str, mountpoint: str, cache_dir: str | None, cache_size: str, foreground: bool
) -> None:
    """Mount version URL@V read-only at MOUNTPOINT (FUSE); `unmount` to stop."""
    from ..datastore import fusemount as m
    from ..reading.cache import parse_size

    size = parse_size(cache_size)
    if foreground:
        return m.serve(url, mountpoint, cache_dir=cache_dir, cache_size=size, **_kw())
    pid = m.mount(url, mountpoint, cache_dir=cache_dir, cache_size=size, **_kw())
    note(f"mounted {url} at {mountpoint} (process {pid})")
    note(f"unmount with: jasmin-access datastore unmount {mountpoint}")


@datastore.command("unmount")
@click.argument("mountpoint")
@global_options
def unmount(mountpoint: str) -> None:
    """Unmount a datastore mount."""
    from ..datastore import fusemount as m

    m.unmount(mountpoint)


COMMANDS = [datastore]
