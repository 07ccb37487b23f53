"""``search``: answer from the catalog's parquet index alone (three requests, no server).

Boxes are compared on the circle (either longitude convention, boxes across
the dateline on either side); times are compared as text in each dataset's
own calendar, so ``1990-02-30`` of a 360_day run lies within ``1990-02``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pystac

from ..datastore import split_ref
from ..errors import InvalidInput, NotFound
from ._storage import Access, CatalogStore
from .stac import ROOT_KEY
from .table import SEARCH_COLUMNS, read_table

__all__ = ["parse_bbox", "parse_time", "search"]

ACCESS_ATTR = "_jasmin_access"  # resolve arguments a found item is opened with


def parse_bbox(value: str | Sequence[float] | None) -> tuple[float, float, float, float] | None:
    """``"W,S,E,N"`` or a sequence of four numbers; longitudes in either convention."""
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        w, s, e, n = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"bad bbox {value!r}", "give W,S,E,N in degrees, e.g. -30,40,10,65"
        ) from None
    if not (-90 <= s <= n <= 90):
        raise InvalidInput(f"bad bbox {value!r}: latitudes", "south <= north, within -90..90")
    return w, s, e, n


_TIME = re.compile(r"^-?\d{1,4}(-\d{2}(-\d{2}([T ]\d{2}(:\d{2}(:\d{2})?)?)?)?)?$")


def parse_time(value: str | Sequence[str | None] | None) -> tuple[str | None, str | None] | None:
    """``"1990-01/2000-12"``, ``"1990"``, ``"../2000"`` or a pair; inclusive, own calendar."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.split("/") if "/" in value else [value, value]
    else:
        parts = [None if v is None else str(v) for v in value]
    if len(parts) != 2:
        raise InvalidInput(f"bad time range {value!r}", "give START/END, e.g. 1990-01/2000-12")
    out = []
    for part in parts:
        part = None if part in (None, "", "..") else part.strip()
        if part is not None and not _TIME.match(part):
            raise InvalidInput(f"bad time {part!r}", "use YYYY, YYYY-MM or YYYY-MM-DD[THH:MM:SS]")
        out.append(part)
    return out[0], out[1]


def _spans(west: Any, east: Any) -> list[tuple[Any, Any]]:
    """Longitude intervals within -180..180 (two when the box crosses the dateline)."""
    west, east = np.asarray(west, dtype="f8"), np.asarray(east, dtype="f8")
    whole = east - west >= 360
    w = np.where(whole, -180.0, ((west + 180.0) % 360.0) - 180.0)
    e = np.where(whole | (east == 180.0), 180.0, ((east + 180.0) % 360.0) - 180.0)
    crossing = w > e
    first = (w, np.where(crossing, 180.0, e))
    second = (np.where(crossing, -180.0, np.nan), np.where(crossing, e, np.nan))
    return [first, second]


def _bbox_mask(table: pa.Table, box: tuple[float, float, float, float]) -> np.ndarray:
    cols = {k: table[k].to_numpy(zero_copy_only=False).astype("f8") for k in
            ("west", "south", "east", "north")}  # fmt: skip
    qw, qs, qe, qn = box
    lat_ok = (cols["south"] <= qn) & (cols["north"] >= qs)
    lon_ok = np.zeros(len(table), dtype=bool)
    for aw, ae in _spans(cols["west"], cols["east"]):
        for bw, be in _spans([qw], [qe]):
            lon_ok |= (aw <= be[0]) & (bw[0] <= ae)
    return np.asarray(lat_ok & lon_ok)


def _time_mask(table: pa.Table, span: tuple[str | None, str | None]) -> np.ndarray:
    start, end = span
    mask = pc.is_valid(table["time_start"])
    if end is not None:
        head = pc.utf8_slice_codeunits(table["time_start"], 0, len(end))
        mask = pc.and_(mask, pc.less_equal(head, end))
    if start is not None:
        mask = pc.and_(mask, pc.greater_equal(table["time_end"], start))
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))


def _list_mask(table: pa.Table, column: str, wanted: Sequence[str]) -> np.ndarray:
    mask = np.ones(len(table), dtype=bool)
    col = table[column].combine_chunks()
    flat = pc.list_flatten(col)
    parents = pc.list_parent_indices(col).to_numpy()
    for name in wanted:
        hits = pc.equal(flat, name).to_numpy(zero_copy_only=False).astype(bool)
        mask &= np.bincount(parents[hits], minlength=len(table)) > 0
    return mask


def _text_mask(table: pa.Table, text: str) -> np.ndarray:
    mask = np.ones(len(table), dtype=bool)
    for term in text.lower().split():
        hit = pc.fill_null(pc.match_substring(table["text"], term), False)
        mask &= hit.to_numpy(zero_copy_only=False)
    return mask


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _item(row: dict[str, Any], store: CatalogStore, access: Access) -> pystac.Item:
    box = None
    if row["west"] is not None:
        box = [row["west"], row["south"], row["east"], row["north"]]
    geometry = None
    if box:
        w, s, e, n = box
        geometry = {"type": "Polygon",
                    "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}  # fmt: skip
    props = {"title": row["title"], "cube:variables": {v: {} for v in row["variables"] or []}}
    if row["time_start"]:
        props.update(
            {"jasmin:time_start": row["time_start"], "jasmin:time_end": row["time_end"],
             "jasmin:calendar": row["calendar"]}
        )  # fmt: skip
    start, end = row["datetime_start"], row["datetime_end"]
    when = None
    if start is None or end is None:  # no time axis: the item's own datetime (build time)
        when, start, end = start or end or datetime.now(UTC), None, None
    item = pystac.Item(
        id=row["id"],
        geometry=geometry,
        bbox=box,
        datetime=when,
        properties=props,
        start_datetime=start,
        end_datetime=end,
        collection=row["collection"],
    )
    href = row["asset_href"]
    absolute = href if "://" in href or href.startswith("/") else store.href(href)
    absolute = _normalise(absolute)
    version = split_ref(absolute)[1]
    if version:  # a datastore version: its ID is in the versioned URL
        item.properties["version"] = version
    item.add_asset("data", pystac.Asset(absolute, media_type=row["media_type"], roles=["data"]))
    item.set_self_href(store.href(row["item_href"]))
    setattr(item, ACCESS_ATTR, access.kwargs)
    return item


def _normalise(url: str) -> str:
    if "://" not in url:  # a local path
        return posixpath.normpath(url)
    scheme, _, rest = url.partition("://")
    parts: list[str] = []
    for piece in rest.split("/"):
        if piece == ".." and len(parts) > 1:
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return f"{scheme}://{'/'.join(parts)}"


def search(
    catalog: str,
    *,
    bbox: str | Sequence[float] | None = None,
    time: str | Sequence[str | None] | None = None,
    variables: str | Sequence[str] | None = None,
    standard_names: str | Sequence[str] | None = None,
    text: str | None = None,
    limit: int | None = None,
    profile: Any = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> list[pystac.Item]:
    """Find the items of a catalog from its parquet index (no JSON read).

    Parameters
    ----------
    catalog
        The catalog prefix or its ``catalog.json`` URL (``s3://``, public ``https://``).
    bbox
        ``(west, south, east, north)`` or ``"W,S,E,N"``: items whose extent meets it.
    time
        ``"1990-01/2000-12"``, ``"1990"`` or ``(start, end)``: items whose time
        range meets it, compared in each dataset's own calendar.
    variables, standard_names
        Items with all these variable names / CF standard names.
    text
        Words that must all appear in the id, title, attributes or variable names.
    limit
        At most this many items.
    profile, endpoint_url, anon
        Store access (none for public https).

    Returns
    -------
    list[pystac.Item]
        Each with a ``data`` asset whose absolute href ``ja.open_dataset(item)`` opens.
    """
    url = catalog[: -len(ROOT_KEY)] if catalog.endswith(ROOT_KEY) else catalog
    access = Access(profile, endpoint_url, anon)
    store = CatalogStore(url, access)
    columns = SEARCH_COLUMNS + ["standard_names"] * bool(_as_list(standard_names))
    table = read_table(store, columns + ["text"] * bool(text))
    if table is None:
        raise NotFound(f"no catalog index at {store.href('index.parquet')}",
                       "build the catalog with `jasmin-access catalog build`")  # fmt: skip
    mask = np.ones(len(table), dtype=bool)
    box, span = parse_bbox(bbox), parse_time(time)
    if box is not None:
        mask &= _bbox_mask(table, box)
    if span is not None:
        mask &= _time_mask(table, span)
    if _as_list(variables):
        mask &= _list_mask(table, "variables", _as_list(variables))
    if _as_list(standard_names):
        mask &= _list_mask(table, "standard_names", _as_list(standard_names))
    if text:
        mask &= _text_mask(table, text)
    found = table.filter(pa.array(mask)).to_pylist()[: limit or None]
    return [_item(row, store, access) for row in found]
