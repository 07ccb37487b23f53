"""Where things live below a datastore root, and how versions are named and selected.

::

    <root>/datastore.json              marker (written once by ``create``)
    <root>/objects/<h[:2]>/<sha256>    content-addressed data, immutable
    <root>/versions/<ID>.jdm           one manifest per version, immutable, published last
    <root>/tags/<NAME>/<ID>.json       a tag: immutable, its target in the key
    <root>/sessions/<SID>.json         a push in progress (informative only)

Version IDs are ``YYYYMMDDTHHMMSSmmmZ-xxxxxxxx``: UTC time of creation to the
millisecond, then 32 random bits.  They sort by time, are unique without any
coordination between writers, and name their manifest directly, so a version
given by ID costs exactly one GET.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from ..errors import InvalidInput

__all__ = [
    "MARKER",
    "manifest_key",
    "new_version_id",
    "object_key",
    "parse_time",
    "split_ref",
    "tag_key",
    "version_time",
]

MARKER = "datastore.json"
OBJECTS = "objects"
VERSIONS = "versions"
TAGS = "tags"
SESSIONS = "sessions"
MANIFEST_SUFFIX = ".jdm"

ID_RE = re.compile(r"^\d{8}T\d{9}Z-[0-9a-f]{8}$")
_ID_PREFIX_RE = re.compile(r"^\d{1,8}(T\d{0,9}(Z(-[0-9a-f]{0,8})?)?)?$")
_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
TAG_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,99}$")


def new_version_id(now: datetime | None = None) -> str:
    """A fresh time-ordered unique version ID."""
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"
    return f"{stamp}-{secrets.token_hex(4)}"


def version_time(vid: str) -> datetime:
    """The creation time encoded in a version ID."""
    return datetime.strptime(vid[:18], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)


def manifest_key(vid: str) -> str:
    """Key of a version's manifest."""
    return f"{VERSIONS}/{vid}{MANIFEST_SUFFIX}"


def object_key(digest: str) -> str:
    """Key of the object whose SHA-256 is ``digest`` (hex)."""
    return f"{OBJECTS}/{digest[:2]}/{digest}"


def tag_key(name: str, vid: str) -> str:
    """Key of the tag ``name`` on version ``vid``."""
    return f"{TAGS}/{name}/{vid}.json"


def is_id_prefix(text: str) -> bool:
    """True when ``text`` can only be (a prefix of) a version ID, never a tag."""
    return bool(_ID_PREFIX_RE.match(text))


def is_time(text: str) -> bool:
    """True for an ISO date or date-time selector (``2026-11-01T12:00``)."""
    return bool(_TIME_RE.match(text))


def parse_time(text: str) -> datetime:
    """An ISO date-time selector as an aware UTC datetime (naive means UTC).

    A bare date means the end of that day.
    """
    try:
        when = datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"invalid time selector '@{text}'", "use @YYYY-MM-DDTHH:MM (UTC)"
        ) from exc
    if len(text) == 10:  # a date: the newest version made on or before that day
        when = when.replace(hour=23, minute=59, second=59, microsecond=999999)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def check_tag_name(name: str) -> str:
    """Validate a tag name (a letter first, so it can never look like an ID or a time)."""
    if not TAG_RE.match(name) or name == "latest":
        raise InvalidInput(
            f"invalid tag name '{name}'",
            "start with a letter; use letters, digits, '.', '_' or '-'; 'latest' is reserved",
        )
    return name


def split_ref(url: str) -> tuple[str, str | None]:
    """``"s3://b/ds@v1"`` -> ``("s3://b/ds", "v1")``; no ``@`` in the last part -> selector None."""
    head, sep, last = url.rstrip("/").rpartition("/")
    if "@" not in last:
        return url, None
    name, _, selector = last.rpartition("@")
    if not name or "://" in selector:
        return url, None
    return f"{head}{sep}{name}", selector or "latest"
