"""Result records of the pseudo-directory commands.

Every record is a dataclass with ``to_dict()`` (one JSON object for
``--json``); lists of ``ls``/``du`` records render as an HTML table in Jupyter.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

__all__ = [
    "Entry",
    "ObjectInfo",
    "Records",
    "RemoveReport",
    "TransferItem",
    "TransferReport",
    "TreeNode",
    "Usage",
    "ZarrSummary",
]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass
class Entry:
    """One object or pseudo-directory.

    ``type`` is ``"file"`` or ``"directory"``; ``conflict`` is True when an
    object and a prefix share this name (both are listed).
    """

    path: str
    name: str
    type: str
    size: int | None = None
    last_modified: datetime | None = None
    etag: str | None = None
    conflict: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return _plain(asdict(self))


@dataclass
class ZarrSummary:
    """What ``du`` reports about a Zarr store counted as one unit."""

    zarr_format: int
    variables: list[str]
    chunks: int
    bytes_stored: int
    bytes_uncompressed: int
    chunks_expected: int | None = None
    unfinished: bool = False

    @property
    def ratio(self) -> float | None:
        """Compression ratio (uncompressed / stored)."""
        return self.bytes_uncompressed / self.bytes_stored if self.bytes_stored else None


@dataclass
class Usage:
    """Bytes and object count below one prefix (``type``: directory, zarr or file)."""

    path: str
    bytes: int
    objects: int
    type: str = "directory"
    zarr: ZarrSummary | None = None
    datastore: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record; Zarr stores carry their summary fields too."""
        out: dict[str, Any] = {
            "path": self.path,
            "bytes": self.bytes,
            "objects": self.objects,
            "type": self.type,
        }
        if self.zarr is not None:
            z = self.zarr
            out.update(
                zarr_format=z.zarr_format,
                variables=z.variables,
                chunks=z.chunks,
                chunks_expected=z.chunks_expected,
                bytes_uncompressed=z.bytes_uncompressed,
                ratio=round(z.ratio, 3) if z.ratio else None,
                unfinished=z.unfinished,
            )
        if self.datastore is not None:
            out.update(datastore=self.datastore)
        return out


@dataclass
class ObjectInfo:
    """Metadata of one object (``stat``)."""

    path: str
    size: int
    etag: str | None
    content_type: str | None
    last_modified: datetime | None
    metadata: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return _plain(asdict(self))


@dataclass
class TreeNode:
    """A node of ``tree``: a directory with children, or a file."""

    name: str
    path: str
    type: str
    size: int = 0
    children: list[TreeNode] = field(default_factory=list)

    def lines(self, prefix: str = "") -> list[str]:
        """Render as indented lines (``├──`` / ``└──``)."""
        out: list[str] = []
        for i, child in enumerate(self.children):
            last = i == len(self.children) - 1
            label = child.name + ("/" if child.type == "directory" else "")
            out.append(f"{prefix}{'└── ' if last else '├── '}{label}")
            out.extend(child.lines(prefix + ("    " if last else "│   ")))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Nested JSON-ready record."""
        return {
            "path": self.path,
            "name": self.name,
            "type": self.type,
            "size": self.size,
            "children": [c.to_dict() for c in self.children],
        }


@dataclass
class TransferItem:
    """One file of a transfer and what happened to it."""

    src: str
    dst: str
    size: int
    status: str  # copied | skipped | exists | deleted | failed | would-copy | would-delete
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return asdict(self)


@dataclass
class TransferReport:
    """Outcome of ``cp``, ``mv`` or ``sync``."""

    items: list[TransferItem] = field(default_factory=list)
    dry_run: bool = False

    def count(self, status: str) -> int:
        """Number of items with ``status``."""
        return sum(1 for i in self.items if i.status == status)

    @property
    def failures(self) -> list[TransferItem]:
        """Items that failed."""
        return [i for i in self.items if i.status == "failed"]

    @property
    def bytes_copied(self) -> int:
        """Bytes actually transferred."""
        return sum(i.size for i in self.items if i.status == "copied")

    def counts(self) -> str:
        """Counts per status, e.g. ``"3 copied, 1 skipped"`` (``"nothing to do"``)."""
        statuses = sorted({i.status for i in self.items})
        return ", ".join(f"{self.count(s)} {s}" for s in statuses) or "nothing to do"

    def summary(self) -> str:
        """One line: counts per status and bytes."""
        return self.counts() + f" ({self.bytes_copied} bytes copied)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary record."""
        return {
            "summary": self.summary(),
            "copied": self.count("copied"),
            "failed": len(self.failures),
            "bytes": self.bytes_copied,
            "dry_run": self.dry_run,
        }


@dataclass
class RemoveReport:
    """Outcome of ``rm``: what was (or would be) deleted."""

    url: str
    paths: list[str] = field(default_factory=list)
    bytes: int = 0
    dry_run: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)
    bulk_refused: bool = False
    cancelled: bool = False

    @property
    def objects(self) -> int:
        """Number of objects deleted (or to delete)."""
        return len(self.paths)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary record."""
        return {
            "path": self.url,
            "objects": self.objects,
            "bytes": self.bytes,
            "dry_run": self.dry_run,
            "failed": len(self.failures),
        }


T = TypeVar("T", Entry, Usage)


class Records(list[T], Generic[T]):
    """A list of records that shows as an HTML table in Jupyter."""

    def to_dicts(self) -> list[dict[str, Any]]:
        """All records as JSON-ready dicts."""
        return [r.to_dict() for r in self]

    def _repr_html_(self) -> str:
        rows = self.to_dicts()
        if not rows:
            return "<p><em>(empty)</em></p>"
        cols = list(rows[0])
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape('' if r.get(c) is None else str(r.get(c)))}</td>" for c in cols
            )
            + "</tr>"
            for r in rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
