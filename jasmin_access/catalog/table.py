"""The search index: one parquet object next to the catalog JSON, one row per item.

Why not stac-geoparquet: STAC datetimes cannot hold a 360_day calendar's
dates (search must compare times in the data's own calendar), search needs
list columns of variable and standard names, and stac-geoparquet would add
geopandas, shapely and pyproj to every install for a box test that four float
columns answer.  The table is written with pyarrow as a single row group whose
search columns come first, so a search reads two things:
its footer with the object's size (one suffix-range GET) and the search columns
(one ranged GET).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ._storage import CatalogStore

__all__ = ["INDEX_KEY", "SCHEMA", "read_rows", "read_table", "write_table"]

INDEX_KEY = "index.parquet"
FORMAT = "jasmin-access-catalog-index-1"
_TAIL = 64 * 1024

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("collection", pa.string()),
        ("west", pa.float64()),
        ("south", pa.float64()),
        ("east", pa.float64()),
        ("north", pa.float64()),
        ("time_start", pa.string()),
        ("time_end", pa.string()),
        ("calendar", pa.string()),
        ("variables", pa.list_(pa.string())),
        ("title", pa.string()),
        ("item_href", pa.string()),
        ("asset_href", pa.string()),
        ("media_type", pa.string()),
        ("format", pa.string()),
        ("datetime_start", pa.timestamp("s", tz="UTC")),
        ("datetime_end", pa.timestamp("s", tz="UTC")),
        ("nbytes", pa.int64()),
        ("stored_bytes", pa.int64()),
        # read by a search only when it filters on them
        ("standard_names", pa.list_(pa.string())),
        ("text", pa.string()),
        # below: for rebuilds and the HTML page, never read by a search
        ("source_url", pa.string()),
        ("fingerprint", pa.string()),
        ("summary", pa.string()),
    ]
)
SEARCH_COLUMNS = [f.name for f in SCHEMA][: SCHEMA.get_field_index("standard_names")]


def write_table(store: CatalogStore, rows: list[dict[str, Any]], title: str) -> int:
    """Write the index object; returns its size in bytes."""
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    table = table.replace_schema_metadata({"format": FORMAT, "title": title})
    buf = io.BytesIO()
    pq.write_table(
        table,
        buf,
        compression="zstd",
        row_group_size=max(len(rows), 1),
        use_dictionary=["calendar", "media_type", "format", "collection"],
        write_statistics=False,
    )
    data = buf.getvalue()
    store.write(INDEX_KEY, data, "application/vnd.apache.parquet")
    return len(data)


class _Sparse(io.RawIOBase):
    """A read-only file of known size made of the byte ranges fetched so far."""

    def __init__(self, size: int) -> None:
        self.length, self.pos, self.parts = size, 0, []  # type: ignore[var-annotated]

    def add(self, start: int, data: bytes) -> None:
        self.parts.append((start, data))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.length}[whence]
        self.pos = base + offset
        return self.pos

    def read(self, n: int = -1) -> bytes:
        end = self.length if n is None or n < 0 else min(self.pos + n, self.length)
        for start, data in self.parts:
            if start <= self.pos and end <= start + len(data):
                out = data[self.pos - start : end - start]
                self.pos = end
                return out
        raise OSError(f"byte range {self.pos}-{end} of the index was not fetched")

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _column_span(meta: pq.FileMetaData, columns: list[str]) -> tuple[int, int]:
    names = [meta.schema.column(i).path.split(".")[0] for i in range(meta.num_columns)]
    start, end = None, 0
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for i, name in enumerate(names):
            if name not in columns:
                continue
            col = group.column(i)
            first = col.data_page_offset
            if col.has_dictionary_page and col.dictionary_page_offset:
                first = min(first, col.dictionary_page_offset)
            start = first if start is None else min(start, first)
            end = max(end, first + col.total_compressed_size)
    return start or 0, end


def read_table(store: CatalogStore, columns: list[str] | None = None) -> pa.Table | None:
    """Read the index (only ``columns``) with byte ranges; None when there is none.

    Two requests whatever the catalog's size (three when the footer is
    wider than 64 KiB): the tail with the footer, whose response also gives
    the object's size, and one range spanning the columns asked for.
    """
    try:
        size, tail = store.read_tail(INDEX_KEY, _TAIL)
    except FileNotFoundError:
        return None
    sparse = _Sparse(size)
    tail_start = size - len(tail)
    sparse.add(tail_start, tail)
    footer_len = int.from_bytes(sparse.parts[0][1][-8:-4], "little")
    if footer_len + 8 > size - tail_start:  # a very wide footer: fetch the rest of it
        start = size - footer_len - 8
        sparse.add(start, store.read_range(INDEX_KEY, start, size))
    meta = pq.read_metadata(sparse)
    wanted = list(columns or [f.name for f in SCHEMA])
    first, last = _column_span(meta, wanted)
    if last > first:
        sparse.add(first, store.read_range(INDEX_KEY, first, last))
    # one thread: the decoding is ~0.1 s of CPU, and on a busy machine a thread pool waits longer
    return pq.ParquetFile(sparse).read(columns=wanted, use_threads=False)


def read_rows(store: CatalogStore) -> list[dict[str, Any]]:
    """Every row of the index (all columns), or [] when there is none."""
    table = read_table(store)
    return [] if table is None else table.to_pylist()


def summary_json(data: dict[str, Any]) -> str:
    """Compact JSON for the ``summary`` column."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
