"""The listing verbs every :class:`~.base.Backend` has: levels, pages, globs, HEAD.

They work for any fsspec filesystem through ``self.fs``; kinds with a faster
listing of their own (S3 through obstore, the local disk through ``os.scandir``)
override :meth:`Listing.list_level`, :meth:`Listing.flat_pages` and the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .. import paths
from .capabilities import Obj

__all__ = ["Listing"]


class Listing:
    """Listing verbs, mixed into :class:`~.base.Backend` (which supplies ``fs``)."""

    fs: Any
    fs_root: str

    def _obj(self, info: dict[str, Any]) -> Obj:
        return Obj(info["name"].rstrip("/"), int(info.get("size") or 0), _mtime(info), _etag(info))

    def list_level(self, fs_dir: str) -> tuple[list[Obj], list[str]]:
        """Objects and sub-directories one level below ``fs_dir`` (nothing if absent)."""
        try:
            entries = self.fs.ls(fs_dir.rstrip("/") or self.fs_root or "", detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return [], []
        objs: list[Obj] = []
        dirs: list[str] = []
        base = fs_dir.rstrip("/")
        for e in entries:
            name = str(e["name"]).rstrip("/")
            if name == base or not name:
                continue
            if e.get("type") == "directory":
                dirs.append(name)
            else:
                objs.append(self._obj(e))
        return objs, dirs

    def walk_pages(self, fs_dir: str, markers: bool = False) -> Iterator[list[Obj]]:
        """Every object below ``fs_dir``, a directory at a time.

        With ``markers``, each empty directory comes as a zero-byte object whose
        path ends in ``/`` (a directory marker, see :func:`is_marker`).
        """
        stack = [fs_dir.rstrip("/")]
        while stack:
            current = stack.pop()
            objs, dirs = self.list_level(current)
            if markers and not objs and not dirs and self.prefix_exists(current):
                objs = [Obj(current + "/", 0, None, None)]
            if objs:
                yield objs
            stack.extend(sorted(dirs, reverse=True))

    def flat_pages(self, fs_dir: str) -> Iterator[list[Obj]]:
        """Every object below ``fs_dir`` in the fewest listing requests the backend allows.

        No directory markers.  Backends that list without a delimiter override it
        (on S3, one request per 1,000 keys); here it is :meth:`walk_pages`.
        """
        return self.walk_pages(fs_dir)

    def prefix_exists(self, fs_dir: str) -> bool:
        """True when a directory exists at ``fs_dir``, if only an empty one."""
        if self.list_level(fs_dir) != ([], []):
            return True
        try:
            return bool(self.fs.isdir(fs_dir))
        except (OSError, ValueError):
            return False

    def head(self, fs_path: str) -> Obj | None:
        """The object at ``fs_path``, or None (a directory is not an object)."""
        try:
            info = self.fs.info(fs_path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if info.get("type") == "directory":
            return None
        return self._obj({**info, "name": fs_path})

    def glob_level(self, pattern: str) -> list[Obj] | None:
        """Objects matching ``pattern`` from one listing of its directory, sorted by path.

        None unless the pattern's wildcards are all in its last part and stay in
        one level (``dir/*.nc``, not ``dir/**``) and the backend has a listing of
        its own (on S3, obstore's).
        """
        folder, _, name = pattern.rpartition("/")
        native = type(self).list_level is not Listing.list_level
        one_level = paths.has_magic(name) and "**" not in name and not paths.has_magic(folder)
        if not (native and folder and one_level):
            return None
        objs, _ = self.list_level(folder)
        found = [o for o in objs if paths.match_glob(name, paths.basename(o.path))]
        return sorted(found, key=lambda o: o.path)

    def glob(self, pattern: str, files_only: bool = False) -> list[str]:
        """fs paths matching a glob (``**`` crosses directories); only objects if asked."""
        level = self.glob_level(pattern) if files_only else None
        if level is not None:
            return [o.path for o in level]
        found = self.fs.glob(pattern, detail=True)
        return [
            str(p) for p, info in found.items() if not files_only or info.get("type") != "directory"
        ]


def _mtime(info: dict[str, Any]) -> datetime | None:
    for key in ("LastModified", "last_modified", "modified", "mtime", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=UTC)
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _etag(info: dict[str, Any]) -> str | None:
    raw = info.get("ETag") or info.get("etag")
    return str(raw).strip('"') if raw else None
