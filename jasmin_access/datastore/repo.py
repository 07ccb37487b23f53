"""A datastore opened for reading: its versions, tags and manifests, and version selectors."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from ..errors import AlreadyExists, InvalidInput, NotFound
from ..stores import Location, resolve
from . import layout
from ._io import RootIO, Stat
from .manifest import HEADER_PROBE, Manifest, decode, decode_header, header_size

__all__ = ["Datastore", "open_datastore"]

log = logging.getLogger(__name__)


@dataclass
class Datastore:
    """A datastore root and the requests that read it."""

    io: RootIO

    @property
    def url(self) -> str:
        """The datastore's URL (no selector)."""
        return self.io.url

    @property
    def location(self) -> Location:
        """The root location."""
        return self.io.root

    # ------------------------------------------------------------------ existence

    def exists(self) -> bool:
        """True when the marker object is there (one GET)."""
        return self.io.get(layout.MARKER) is not None

    def require(self) -> Datastore:
        """Raise :class:`NotFound` unless this is a datastore."""
        if not self.exists():
            raise NotFound(
                f"no datastore at {self.url}",
                f"create one with `jasmin-access datastore create {self.url}`",
            )
        return self

    # ------------------------------------------------------------------ versions

    def version_ids(self, prefix: str = "") -> list[str]:
        """IDs of the published versions, oldest first (one LIST)."""
        objs = self.io.list_dir(layout.VERSIONS)
        ids = []
        for o in objs:
            name = o.key.rsplit("/", 1)[-1]
            if name.endswith(layout.MANIFEST_SUFFIX):
                vid = name[: -len(layout.MANIFEST_SUFFIX)]
                if layout.ID_RE.match(vid) and vid.startswith(prefix):
                    ids.append(vid)
        return sorted(ids)

    def manifest(self, vid: str) -> Manifest:
        """The whole manifest of version ``vid`` (one GET)."""
        where = f"{self.url}@{vid}"
        data = self.io.get(layout.manifest_key(vid))
        if data is None:
            raise NotFound(
                f"no version {vid} in {self.url}", f"list versions: datastore log {self.url}"
            )
        m = decode(data, where)
        if m.id != vid:
            raise InvalidInput(f"{where}: manifest names itself {m.id}", "the manifest was copied")
        return m

    def header(self, vid: str) -> dict[str, Any]:
        """A version's header (entries not read; one ranged GET in general)."""
        key, where = layout.manifest_key(vid), f"{self.url}@{vid}"
        try:
            data = self.io.get_range(key, 0, HEADER_PROBE)
        except NotFound:
            raise NotFound(f"no version {vid} in {self.url}", "see datastore log") from None
        need = header_size(data, where)
        if need > len(data):
            data = self.io.get_range(key, 0, need)
        return decode_header(data, where)

    def latest(self) -> str | None:
        """ID of the newest version, or None when there is none yet."""
        ids = self.version_ids()
        return ids[-1] if ids else None

    # ------------------------------------------------------------------ tags

    def tags(self) -> dict[str, list[str]]:
        """Tag name -> the version IDs it was given to (normally one)."""
        out: dict[str, list[str]] = {}
        for st in self.io.walk(layout.TAGS):
            parts = st.key.split("/")
            if len(parts) == 3 and parts[2].endswith(".json"):
                out.setdefault(parts[1], []).append(parts[2][: -len(".json")])
        return out

    def tag_target(self, name: str) -> str | None:
        """The version a tag names (one LIST); the oldest when two writers raced."""
        found = self._tag_entries(name)
        if not found:
            return None
        # a tag is immutable: if two were written at once, the first the store saw wins
        first = min(found, key=lambda s: (s.mtime is None, s.mtime, s.key))
        return first.key.rsplit("/", 1)[-1][: -len(".json")]

    def _tag_entries(self, name: str) -> list[Stat]:
        return [s for s in self.io.list_dir(f"{layout.TAGS}/{name}") if s.key.endswith(".json")]

    # ------------------------------------------------------------------ selectors

    def select(self, selector: str | None) -> str:
        """The version ID a selector names.

        ``latest`` (or None), a full ID (no request), a unique ID prefix, a tag
        or an ISO time (``2026-11-01T12:00``, UTC: the newest version made at or
        before it).  At most one LIST.

        Raises
        ------
        NotFound
            No such version, tag or no version at that time.
        InvalidInput
            An ambiguous ID prefix.
        """
        sel = (selector or "latest").strip()
        if layout.ID_RE.match(sel):
            return sel
        if sel == "latest":
            vid = self.latest()
            if vid is None:
                raise NotFound(
                    f"{self.url} has no version yet",
                    f"push one: jasmin-access datastore push {self.url} SRC",
                )
            return vid
        if layout.is_time(sel):
            return self._at_time(sel)
        if layout.is_id_prefix(sel):
            return self._by_prefix(sel)
        target = self.tag_target(sel)
        if target is None:
            raise NotFound(
                f"no version or tag '{sel}' in {self.url}",
                f"list them: jasmin-access datastore log {self.url}",
            )
        return target

    def _at_time(self, sel: str) -> str:
        when = layout.parse_time(sel)
        ids = [v for v in self.version_ids() if layout.version_time(v) <= when]
        if not ids:
            raise NotFound(f"{self.url} has no version at or before {sel}", "see datastore log")
        return ids[-1]

    def _by_prefix(self, sel: str) -> str:
        ids = self.version_ids(prefix=sel)
        if not ids:
            raise NotFound(f"no version {sel} in {self.url}", f"see datastore log {self.url}")
        if len(ids) > 1:
            raise InvalidInput(
                f"'{sel}' matches {len(ids)} versions of {self.url}",
                "give more characters of the ID",
            )
        return ids[0]

    def ensure_marker(self, *, new: bool) -> None:
        """Write the marker object; with ``new``, refuse a root that already holds data."""
        if new:
            if self.exists():
                raise AlreadyExists(
                    f"{self.url} is already a datastore",
                    f"push a new version: jasmin-access datastore push {self.url} SRC",
                )
            if next(iter(self.io.walk("")), None) is not None:
                raise AlreadyExists(
                    f"{self.url} is not empty",
                    "choose a new prefix for the datastore",
                )
        doc = {"format": "jasmin-access datastore", "layout": 1}
        self.io.put(layout.MARKER, json.dumps(doc).encode())


def open_datastore(
    url: str,
    *,
    profile: Any = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    write: bool = False,
) -> tuple[Datastore, str | None]:
    """Resolve ``URL[@SELECTOR]`` to a :class:`Datastore` and the selector text (or None)."""
    base, selector = layout.split_ref(url)
    loc = resolve(base, profile=profile, endpoint_url=endpoint_url, anon=anon, write=write)
    if loc.caps.buckets and not loc.key:
        raise InvalidInput(
            f"{base} is a bucket, not a datastore", "give a prefix: s3://bucket/name"
        )
    return Datastore(RootIO(loc)), selector
