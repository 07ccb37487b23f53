"""Which variable holds the time of the record dimension, and NaN-aware equality.

Real model output does not always keep its time in the record coordinate.
XIOS (NEMO) can write ``time_counter`` without units, 0 in every file, with
the real time in ``time_centered`` (CF units, often a ``360_day`` calendar).
The time of a record dimension ``R`` is therefore, in order:

1. the variable named by the user (``--time-variable NAME``);
2. the record coordinate ``R`` itself when it has CF time units
   (``"<unit> since <date>"``) and is not constant across the files;
3. a 1-D variable along ``R`` with CF time units that is called
   ``time_centered`` or has ``standard_name = "time"`` or ``axis = "T"``
   and varies along ``R`` (when none varies, the first of 2. and 3., so
   that files repeating the same steps are caught as overlapping);
4. none: files are joined in the order given and no order is checked.

This module works on plain attributes and arrays (no xarray), so the
converter and the readers share it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import InvalidInput

if TYPE_CHECKING:  # numpy is imported where values are compared: `info` needs only the names
    import numpy as np

__all__ = ["same_value", "time_candidates", "time_units", "values_equal"]

#: Preferred names of a time coordinate that is not the record coordinate.
PREFERRED = ("time_centered", "time", "t")


def time_units(attrs: Mapping[str, Any]) -> str | None:
    """The CF time units of a variable (``"days since 2000-01-01"``), or None."""
    units = attrs.get("units")
    return str(units) if isinstance(units, str) and " since " in units else None


def _marked_time(name: str, attrs: Mapping[str, Any]) -> bool:
    return (
        name in PREFERRED
        or str(attrs.get("standard_name", "")).lower() == "time"
        or str(attrs.get("axis", "")).upper() == "T"
    )


def time_candidates(
    variables: Mapping[str, tuple[tuple[str, ...], Mapping[str, Any]]],
    record_dim: str,
    override: str | None = None,
) -> list[str]:
    """Variables that may hold the time of ``record_dim``, best first.

    Parameters
    ----------
    variables
        ``name -> (dims, attrs)`` of one dataset.
    record_dim
        The record dimension.
    override
        A name given by the user: it must be a 1-D variable along
        ``record_dim`` (units are not required; values are then compared as
        plain numbers).

    Raises
    ------
    InvalidInput
        When ``override`` is not a 1-D variable along ``record_dim``.
    """
    along = [n for n, (dims, _) in variables.items() if tuple(dims) == (record_dim,)]
    if override:
        if override not in along:
            choices = ", ".join(along) or "none"
            raise InvalidInput(
                f"time variable {override!r} is not a variable along the record dimension "
                f"{record_dim!r}",
                f"choose one of: {choices}",
            )
        return [override]
    timed = [n for n in along if time_units(variables[n][1])]
    first = [record_dim] if record_dim in timed else []
    marked = [n for n in timed if n != record_dim and _marked_time(n, variables[n][1])]
    marked.sort(key=lambda n: PREFERRED.index(n) if n in PREFERRED else len(PREFERRED))
    return first + marked


def choose_time(
    candidates: list[str], values_of: Callable[[str], np.ndarray], forced: bool = False
) -> str | None:
    """The first candidate whose values vary, else the first (a true overlap is then caught)."""
    import numpy as np

    if forced or len(candidates) < 2:
        return candidates[0] if candidates else None
    for name in candidates:
        values = values_of(name)
        if values.size < 2 or not bool(np.all(values == values.flat[0])):
            return name
    return candidates[0]


# --------------------------------------------------------------------------- NaN-aware equality


def values_equal(a: Any, b: Any) -> bool:
    """Arrays equal in shape and values, NaN equal to NaN (strings and objects too)."""
    import numpy as np

    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        return False
    if x.dtype.kind in "fc" or y.dtype.kind in "fc":
        try:
            return bool(np.array_equal(x, y, equal_nan=True))
        except TypeError:
            pass
    try:
        return bool(np.array_equal(x.astype(object), y.astype(object)))
    except (TypeError, ValueError):
        return str(a) == str(b)


def same_value(a: Any, b: Any) -> bool:
    """Two attribute values are the same (NaN equals NaN; lists compared item by item)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return a == b
    try:
        return values_equal(a, b)
    except Exception:
        return str(a) == str(b)
