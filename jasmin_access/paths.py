"""Pure key and prefix arithmetic for a flat keyspace.

Nothing here does I/O.  Keys are ``/``-joined strings; a "directory" is a
prefix ending in ``/``.  ``is_within("run1/", "run10/x")`` is ``False``: prefix
boundaries are always taken at a ``/``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from functools import lru_cache

from .errors import InvalidInput

__all__ = [
    "as_dir",
    "basename",
    "glob_base",
    "glob_to_regex",
    "has_magic",
    "is_within",
    "join",
    "keep",
    "match_glob",
    "natural_key",
    "parent",
    "relative",
    "split_bucket",
    "validate_key",
]

_MAGIC = re.compile(r"[*?\[]")


def join(*parts: str) -> str:
    """Join key parts with ``/``, dropping empty parts and doubled slashes.

    >>> join("bucket", "run1/", "/a.nc")
    'bucket/run1/a.nc'
    """
    out = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
    if parts and parts[-1].endswith("/") and out:
        out += "/"
    return out


def as_dir(prefix: str) -> str:
    """Return ``prefix`` with exactly one trailing ``/`` (``''`` stays ``''``)."""
    prefix = prefix.rstrip("/")
    return f"{prefix}/" if prefix else ""


def parent(key: str) -> str:
    """The pseudo-directory holding ``key`` (without trailing slash).

    >>> parent("bucket/run1/a.nc")
    'bucket/run1'
    """
    key = key.rstrip("/")
    return key.rsplit("/", 1)[0] if "/" in key else ""


def basename(key: str) -> str:
    """Last component of ``key``.

    >>> basename("bucket/run1/")
    'run1'
    """
    return key.rstrip("/").rsplit("/", 1)[-1]


def is_within(prefix: str, key: str) -> bool:
    """True when ``key`` is ``prefix`` itself or lies under the directory ``prefix/``.

    >>> is_within("b/run1", "b/run1/x"), is_within("b/run1", "b/run10/x")
    (True, False)
    """
    prefix = prefix.rstrip("/")
    if not prefix:
        return True
    return key.rstrip("/") == prefix or key.startswith(prefix + "/")


def relative(prefix: str, key: str) -> str:
    """``key`` relative to the directory ``prefix``.

    >>> relative("b/run1", "b/run1/sub/a.nc")
    'sub/a.nc'
    """
    if not is_within(prefix, key):
        raise ValueError(f"{key!r} is not under {prefix!r}")
    prefix = as_dir(prefix)
    return key[len(prefix) :] if key.startswith(prefix) else ""


def split_bucket(path: str) -> tuple[str, str]:
    """Split ``bucket/key`` into ``(bucket, key)``.

    >>> split_bucket("bucket/run1/a.nc")
    ('bucket', 'run1/a.nc')
    """
    path = path.lstrip("/")
    bucket, _, key = path.partition("/")
    return bucket, key


def validate_key(key: str) -> str:
    """Reject keys that could escape a store root; return the key unchanged.

    Raises
    ------
    InvalidInput
        For ``..`` or ``.`` components, absolute keys, backslashes or NUL bytes.
    """
    if "\x00" in key:
        raise InvalidInput(f"key {key!r} contains a NUL byte", "remove it from the name")
    if key.startswith("/"):
        raise InvalidInput(f"key {key!r} is absolute", "give a key relative to the bucket")
    if "\\" in key:
        raise InvalidInput(f"key {key!r} contains a backslash", "use / to separate key parts")
    for part in key.split("/"):
        if part in ("..", "."):
            raise InvalidInput(
                f"key {key!r} contains a '{part}' component", "keys cannot climb out of the store"
            )
    return key


def has_magic(pattern: str) -> bool:
    """True when ``pattern`` contains a glob wildcard (``*``, ``?``, ``[``)."""
    return bool(_MAGIC.search(pattern))


def glob_base(pattern: str) -> str:
    """The longest ``/``-bounded literal prefix of a glob: what to list.

    >>> glob_base("bucket/run*/2020/*.nc")
    'bucket'
    >>> glob_base("bucket/run1/*.nc")
    'bucket/run1'
    """
    m = _MAGIC.search(pattern)
    if not m:
        return pattern.rstrip("/")
    return pattern[: m.start()].rsplit("/", 1)[0] if "/" in pattern[: m.start()] else ""


@lru_cache(maxsize=256)
def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob to a regex over whole keys.

    ``*`` and ``?`` never cross ``/``; ``**`` as a whole component matches any
    number of whole components (including none), elsewhere it is ``*``;
    ``[...]`` and ``[!...]`` are classes (``]`` first is literal, reversed
    ranges are empty, an unclosed ``[`` is literal).  Everything else,
    including ``+``, ``%``, spaces and non-ASCII, is literal.

    >>> bool(glob_to_regex("run1/**/*.nc").match("run1/a/b/x.nc"))
    True
    """
    i, n, out = 0, len(pattern), []
    while i < n:
        c = pattern[i]
        if c == "*":
            stars = 2 if pattern.startswith("**", i) else 1
            whole = stars == 2 and (i == 0 or pattern[i - 1] == "/")
            after = i + stars
            if whole and after < n and pattern[after] == "/":
                out.append("(?:[^/]*/)*")
                i = after + 1
                continue
            out.append(".*" if whole and after == n else "[^/]*")
            i = after
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            regex, end = _glob_class(pattern, i)
            if regex is not None:
                out.append(regex)
                i = end
                continue
            out.append(re.escape(c))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _glob_class(pattern: str, start: int) -> tuple[str | None, int]:
    """Regex of the class opening at ``pattern[start] == "["`` and the index after it.

    Returns ``(None, start)`` when the class is not closed.
    """
    j = start + 1
    negate = pattern.startswith("!", j)
    j += negate
    body_start = j
    if pattern.startswith("]", j):
        j += 1
    end = pattern.find("]", j)
    if end == -1:
        return None, start
    body = pattern[body_start:end]
    items: list[str] = []
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            low, high = body[k], body[k + 2]
            if low <= high:
                items.append(f"{re.escape(low)}-{re.escape(high)}")
            k += 3
        else:
            items.append(re.escape(body[k]))
            k += 1
    if negate:
        return f"[^/{''.join(items)}]", end + 1
    return (f"[{''.join(items)}]" if items else "(?!)"), end + 1


def match_glob(pattern: str, key: str) -> bool:
    """True when the whole ``key`` matches the glob ``pattern``."""
    return glob_to_regex(pattern).match(key) is not None


def keep(rel: str, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> bool:
    """True when ``rel`` passes ``--include``/``--exclude`` patterns.

    A key is kept when it matches one of ``include`` (if any is given) and none
    of ``exclude``.  A pattern matches the key relative to the source (``*``
    crossing ``/``, as ``aws s3 cp --exclude`` does) or its base name.

    >>> keep("run1/a.nc", include=["*.nc"]), keep("run1/a.txt", exclude=["*.txt"])
    (True, False)
    """

    def hit(pattern: str) -> bool:
        return fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(basename(rel), pattern)

    include, exclude = list(include), list(exclude)
    return (not include or any(map(hit, include))) and not any(map(hit, exclude))


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``file2`` before ``file10``.

    >>> sorted(["f10.nc", "f2.nc", "f1.nc"], key=natural_key)
    ['f1.nc', 'f2.nc', 'f10.nc']
    """
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(text) if part
    )


def natural_sorted(items: Iterable[str]) -> list[str]:
    """``sorted(items)`` in natural order."""
    return sorted(items, key=natural_key)
