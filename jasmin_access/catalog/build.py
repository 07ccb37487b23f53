"""``build``: walk prefixes, describe what changed, publish the catalog (root last)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput, JasminAccessError
from ._storage import Access, CatalogStore
from .describe import Record, describe
from .discover import Source, discover
from .html import render_page
from .stac import ROOT_KEY, collection_key, entry_objects, item_key, relative_href, root, to_json
from .table import read_rows, summary_json, write_table

__all__ = ["BuildReport", "build"]

log = logging.getLogger(__name__)

PAGE_KEY = "index.html"


@dataclass
class BuildReport:
    """What a build did."""

    catalog: str
    datasets: int = 0
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    index_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return dict(self.__dict__)


def entry_ids(sources: Sequence[Source], walked: Sequence[str]) -> dict[str, str]:
    """Collection id of each source: its path below the prefix walked, made safe and unique.

    Stable across rebuilds with the same prefixes, whatever else was found.
    """
    ids: dict[str, str] = {}
    taken: set[str] = set()
    prefixes = sorted((w.rstrip("/") + "/" for w in walked), key=len, reverse=True)
    for source in sources:
        url = source.url.rstrip("/")
        base = next((p for p in prefixes if url.startswith(p)), "")
        rel = url[len(base) :] if base else url.rsplit("/", 1)[-1]
        rel = re.sub(r"\.index\.json$", "", rel)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", rel.strip("/")).strip("._") or "dataset"
        if slug in taken:
            slug = f"{slug}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"
        taken.add(slug)
        ids[url] = slug
    return ids


def _item_text(text: str, iid: str, properties: dict[str, Any]) -> str:
    """The dataset's search text and what is the item's own (a version's ID, message, tags)."""
    own = [iid, str(properties.get("jasmin:message") or ""), *properties.get("jasmin:tags", [])]
    return " ".join([text, *own]).lower()


def _search_text(record: Record, cid: str) -> str:
    data = [v for v in record.variables if v.kind == "data"]
    return " ".join(
        [
            cid,
            record.title,
            record.format,
            record.calendar or "",
            *(str(v) for v in record.attrs.values()),
        ]
        + [" ".join(filter(None, (v.name, v.long_name, v.standard_name))) for v in data]
    ).lower()


def _row(record: Record, cid: str, item: Any, store: CatalogStore) -> dict[str, Any]:
    """The index row of one item, from the record of what it holds (its own version)."""
    data = [v for v in record.variables if v.kind == "data"]
    west, south, east, north = record.bbox or (None, None, None, None)
    summary = {
        "dims": record.dims,
        "variables": [[v.name, v.units or "", v.long_name or ""] for v in data],
        "vertical": list(record.vertical[1:3]) if record.vertical else None,
        "description": item.properties.get("description"),
    }
    href = item.assets["data"].href
    return {
        "id": item.id, "collection": cid,
        "west": west, "south": south, "east": east, "north": north,
        "time_start": record.time_start, "time_end": record.time_end,
        "calendar": record.calendar,
        "variables": sorted(v.name for v in data),
        "standard_names": sorted({v.standard_name for v in data if v.standard_name}),
        "text": _item_text(_search_text(record, cid), item.id, item.properties),
        "title": item.properties.get("title", record.title),
        "item_href": item_key(cid, item.id),
        "asset_href": relative_href(store.url, store.href(f"{cid}/{href}"))
        if "://" not in href and not href.startswith("/") else href,
        "media_type": item.assets["data"].media_type, "format": record.format,
        "datetime_start": item.common_metadata.start_datetime or item.datetime,
        "datetime_end": item.common_metadata.end_datetime or item.datetime,
        "nbytes": record.nbytes, "stored_bytes": record.stored_bytes,
        "source_url": record.source.url, "fingerprint": record.source.fingerprint,
        "summary": summary_json(summary),
    }  # fmt: skip


def _rows(record: Record, cid: str, items: list[Any], store: CatalogStore) -> list[dict[str, Any]]:
    specs = record.items or [{}] * len(items)
    return [
        _row(spec.get("record", record), cid, item, store)
        for spec, item in zip(specs, items, strict=True)
    ]


def _publish_entry(record: Record, cid: str, store: CatalogStore) -> list[dict[str, Any]]:
    collection, items = entry_objects(record, cid, store.url)
    for item in items:
        store.write(item_key(cid, item.id), to_json(item), "application/json")
    store.write(collection_key(cid), to_json(collection), "application/json")
    return _rows(record, cid, items, store)


def _describe_and_publish(
    source: Source, cid: str, access: Access, store: CatalogStore
) -> list[dict[str, Any]] | str:
    try:
        return _publish_entry(describe(source, access), cid, store)
    except (JasminAccessError, OSError, ValueError, KeyError) as exc:
        log.warning("%s left out of the catalog: %s", source.url, exc)
        return str(exc).splitlines()[0]


def build(
    urls: str | Sequence[str],
    to: str,
    *,
    title: str | None = None,
    description: str | None = None,
    profile: Any = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    workers: int = 8,
    coordinate_reads: bool = True,
) -> BuildReport:
    """Build or update a static STAC catalog of the datasets under ``urls``.

    Parameters
    ----------
    urls
        Prefixes to walk (``s3://bucket/runs/``) or dataset URLs.  Zarr stores
        (v2, v3), datastores (one item per version) and reference indexes of
        NetCDF sets (``*.index.json``) are found.
    to
        Catalog prefix, e.g. ``s3://bucket/catalog``: ``catalog.json``, one
        ``<id>/collection.json`` and item per dataset, ``index.parquet`` (the
        search index) and ``index.html``.
    title, description
        Of the root catalog and the page.
    profile, endpoint_url, anon
        Store access (the same for the data and the catalog).
    workers
        Datasets described at once.
    coordinate_reads
        Extents come from the ACDD coverage attributes of the metadata
        (``convert`` and ``append`` write them); for a dataset without them,
        read its coordinate arrays (time, depth, longitude, latitude) when
        True, else leave those extents out.

    Returns
    -------
    BuildReport
        Entries written, unchanged (same ETag/mtime, or latest datastore
        version, as last build), removed, skipped.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise InvalidInput("no prefix to catalogue", "give at least one URL to walk")
    access = Access(profile, endpoint_url, anon, coordinate_reads)
    store = CatalogStore(to, access)
    store.location.require_writable()
    sources = discover(urls, access, exclude=[store.url])
    ids = entry_ids(sources, [access.resolve(u).url for u in urls])
    previous = read_rows(store)
    old: dict[str, list[dict[str, Any]]] = {}
    for row in previous:
        old.setdefault(row["source_url"], []).append(row)
    report = BuildReport(catalog=store.href(ROOT_KEY), datasets=len(sources))
    rows: list[dict[str, Any]] = []
    todo = []
    for source in sources:
        kept = old.get(source.url)
        if kept and kept[0]["fingerprint"] == source.fingerprint:
            rows += kept
            report.unchanged.append(source.url)
        else:
            todo.append(source)
    with ThreadPoolExecutor(max(workers, 1)) as pool:
        results = pool.map(lambda s: _describe_and_publish(s, ids[s.url], access, store), todo)
        for source, result in zip(todo, results, strict=True):
            if isinstance(result, str):
                report.skipped[source.url] = result
            else:
                rows += result
                report.written.append(source.url)
    current = {s.url for s in sources} - set(report.skipped)
    report.removed = sorted(url for url in old if url not in current)
    live = {r["item_href"] for r in rows}
    gone = [r for r in previous if r["item_href"] not in live]  # incl. versions removed
    if report.written or report.removed or not previous:
        _publish_root(store, rows, title or "Datasets", description)
    for row in gone:  # after the root no longer links them
        if row["collection"] not in {r["collection"] for r in rows}:
            store.delete(collection_key(row["collection"]))
        if row["item_href"] not in {r["item_href"] for r in rows}:
            store.delete(row["item_href"])
    return report


def _publish_root(
    store: CatalogStore, rows: list[dict[str, Any]], title: str, description: str | None
) -> None:
    rows = sorted(rows, key=lambda r: (r["collection"], r["id"]))
    write_table(store, rows, title)
    store.write(PAGE_KEY, render_page(rows, title, description), "text/html; charset=utf-8")
    children = {r["collection"]: r["title"] for r in rows}
    text = description or f"{len(children)} datasets catalogued by jasmin-access"
    catalog = root(title, text, sorted(children.items()))
    store.write(ROOT_KEY, to_json(catalog), "application/json")
    log.info("published %s (%d items)", store.href(ROOT_KEY), len(rows))
