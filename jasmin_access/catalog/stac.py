"""STAC objects (pystac) for one catalogued dataset, following the STAC Zarr best practices.

One Collection per dataset with the dataset as a collection-level asset, and
one Item per dataset (or per version) carrying the same asset, so that item
searches find it.  Both carry the datacube extension: ``cube:dimensions``
(temporal extent in the data's own calendar, with a ``calendar`` field;
vertical extent; 2-D curvilinear grid indexes as ``other`` dimensions) and
``cube:variables`` with CF ``standard_name``, ``unit`` and the long name as
``description``.  Links and assets are relative, so the same JSON works when
read through ``s3://`` with a profile or anonymously through ``https://``.
"""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime
from typing import Any

import pystac
from pystac.extensions.datacube import DatacubeExtension

from .describe import Record
from .extents import stac_datetime

__all__ = ["ROOT_KEY", "collection_key", "entry_objects", "item_key", "relative_href", "root"]

ROOT_KEY = "catalog.json"
JSON = "application/json"
WORLD = [-180.0, -90.0, 180.0, 90.0]


def collection_key(cid: str) -> str:
    """Key of a collection's JSON under the catalog prefix."""
    return f"{cid}/collection.json"


def item_key(cid: str, iid: str) -> str:
    """Key of an item's JSON under the catalog prefix."""
    return f"{cid}/{iid}.json"


def _split(url: str) -> tuple[str, str]:
    scheme, _, rest = url.partition("://")
    bucket, _, key = rest.partition("/")
    return f"{scheme}://{bucket}", key


def relative_href(from_dir_url: str, target_url: str) -> str:
    """``target_url`` relative to the directory ``from_dir_url`` when both share a bucket."""
    base, key = _split(from_dir_url.rstrip("/") + "/")
    tbase, tkey = _split(target_url)
    if base != tbase or "://" not in target_url:
        return target_url
    return posixpath.relpath(tkey, key.rstrip("/") or ".")


def _dimensions(record: Record) -> dict[str, Any]:
    dims: dict[str, Any] = {}
    lonlat = record.lonlat
    for name, size in record.dims.items():
        if name == record.time_dim and record.time_start:
            dims[name] = {"type": "temporal", "extent": [record.time_start, record.time_end]}
            if record.calendar:
                dims[name]["calendar"] = record.calendar
        elif record.vertical and name == record.vertical[0]:
            _, low, high, unit = record.vertical
            dims[name] = {"type": "spatial", "axis": "z", "extent": [low, high]}
            if unit:
                dims[name]["unit"] = str(unit)
        elif lonlat and lonlat[2] == 1 and name in lonlat[:2] and record.bbox:
            west, south, east, north = record.bbox
            axis = "x" if name == lonlat[0] else "y"
            extent = [west, east] if axis == "x" else [south, north]
            dims[name] = {"type": "spatial", "axis": axis, "extent": extent,
                          "reference_system": 4326}  # fmt: skip
        else:
            dims[name] = {"type": "other", "extent": [0, max(size - 1, 0)], "step": 1}
            if lonlat and lonlat[2] == 2 and name in record.grid_dims:
                dims[name]["description"] = (
                    f"index of a curvilinear grid (coordinates {lonlat[0]}, {lonlat[1]})"
                )
    return dims


def _variables(record: Record) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for var in record.variables:
        if var.name in record.dims:
            continue
        entry: dict[str, Any] = {"dimensions": var.dims, "type": var.kind, "data_type": var.dtype}
        if var.units:
            entry["unit"] = var.units
        if var.long_name:
            entry["description"] = var.long_name
        if var.standard_name:
            entry["standard_name"] = var.standard_name
        out[var.name] = entry
    return out


def _apply_datacube(obj: pystac.Collection | pystac.Item, record: Record) -> None:
    """Declare the datacube extension and set its fields.

    The fields are set as plain dicts, not pystac's Dimension/Variable objects:
    they carry keys the extension allows but pystac does not model
    (``calendar``, ``standard_name``).
    """
    DatacubeExtension.ext(obj, add_if_missing=True)
    fields = obj.extra_fields if isinstance(obj, pystac.Collection) else obj.properties
    fields["cube:dimensions"] = _dimensions(record)
    fields["cube:variables"] = _variables(record)


def _description(record: Record) -> str:
    text = " ".join(
        str(record.attrs[k]) for k in ("title", "summary", "comment") if record.attrs.get(k)
    )
    data = [v.name for v in record.variables if v.kind == "data"]
    line = f"{record.format}: {', '.join(data)}"
    if record.time_start:
        line += f"; {record.time_start} to {record.time_end} ({record.calendar or 'standard'})"
    return f"{text}\n\n{line}".strip() if text else line


def _geometry(bbox: tuple[float, float, float, float] | None) -> dict[str, Any] | None:
    if bbox is None:
        return None
    w, s, e, n = bbox

    def box(a: float, b: float) -> list[list[list[float]]]:
        return [[[a, s], [b, s], [b, n], [a, n], [a, s]]]

    if w <= e:
        return {"type": "Polygon", "coordinates": box(w, e)}
    return {"type": "MultiPolygon", "coordinates": [box(w, 180.0), box(-180.0, e)]}


def _times(record: Record) -> tuple[datetime | None, datetime | None]:
    return stac_datetime(record.time_start), stac_datetime(record.time_end)


def _asset(record: Record, href: str, media_type: str) -> pystac.Asset:
    return pystac.Asset(
        href=href, media_type=media_type, roles=["data"], title=f"{record.title} ({record.format})"
    )


def entry_objects(
    record: Record, cid: str, catalog_url: str
) -> tuple[pystac.Collection, list[pystac.Item]]:
    """The Collection and Items of one record, with relative links (root at ``catalog_url``)."""
    coll_dir = f"{catalog_url.rstrip('/')}/{cid}"
    start, end = _times(record)
    extent = pystac.Extent(
        pystac.SpatialExtent([list(record.bbox) if record.bbox else WORLD]),
        pystac.TemporalExtent([[start, end]]),
    )
    license_ = str(record.attrs.get("license") or "other")
    collection = pystac.Collection(
        id=cid,
        description=_description(record),
        extent=extent,
        title=record.title,
        license=license_ if " " not in license_ else "other",
    )
    asset_href = relative_href(coll_dir, record.href)
    collection.add_asset("data", _asset(record, asset_href, record.media_type))
    _apply_datacube(collection, record)
    collection.clear_links()
    collection.add_link(pystac.Link("root", f"../{ROOT_KEY}", JSON))
    collection.add_link(pystac.Link("parent", f"../{ROOT_KEY}", JSON))
    spec = record.collection
    collection.extra_fields.update(spec.get("properties", {}))
    collection.stac_extensions += [
        e for e in spec.get("stac_extensions", []) if e not in collection.stac_extensions
    ]
    for rel, target in spec.get("links", []):
        collection.add_link(pystac.Link(rel, target, JSON))
    items = []
    for spec in record.items or [{"id": cid}]:
        item = _item(spec.get("record", record), spec, coll_dir)
        items.append(item)
        collection.add_link(pystac.Link("item", f"./{item.id}.json", JSON, title=item.id))
    return collection, items


def _item(record: Record, spec: dict[str, Any], coll_dir: str) -> pystac.Item:
    """The item of ``spec`` (one version of a datastore, or the dataset), with the extents
    and datacube fields of its own ``record``."""
    start, end = _times(record)
    properties = {"title": spec.get("title", record.title), **spec.get("properties", {})}
    item = pystac.Item(
        id=spec["id"],
        geometry=_geometry(record.bbox),
        bbox=list(record.bbox) if record.bbox else None,
        datetime=None if start else datetime.now(UTC),
        properties=properties,
        start_datetime=start,
        end_datetime=end,
    )
    href = relative_href(coll_dir, spec.get("href", record.href))
    item.add_asset("data", _asset(record, href, spec.get("media_type", record.media_type)))
    _apply_datacube(item, record)
    extra = [e for e in spec.get("stac_extensions", []) if e not in item.stac_extensions]
    item.stac_extensions += extra
    item.clear_links()
    item.collection_id = posixpath.basename(coll_dir)
    for rel, target in [("root", f"../{ROOT_KEY}"), ("parent", "./collection.json"),
                        ("collection", "./collection.json"), *spec.get("links", [])]:  # fmt: skip
        item.add_link(pystac.Link(rel, target, JSON))
    return item


def root(title: str, description: str, children: list[tuple[str, str]]) -> pystac.Catalog:
    """The root catalog linking each ``(collection id, title)``."""
    catalog = pystac.Catalog(id="jasmin-access-catalog", description=description, title=title)
    catalog.clear_links()
    catalog.add_link(pystac.Link("root", f"./{ROOT_KEY}", JSON))
    for cid, child_title in children:
        catalog.add_link(pystac.Link("child", f"./{collection_key(cid)}", JSON, title=child_title))
    return catalog


def to_json(obj: pystac.STACObject) -> bytes:
    """The JSON bytes of a STAC object, links as given (relative)."""
    import json

    data = obj.to_dict(include_self_link=False, transform_hrefs=False)
    return json.dumps(data, indent=1, ensure_ascii=False).encode()
