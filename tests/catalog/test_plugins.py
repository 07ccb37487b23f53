"""A new kind of dataset plugs into discovery and description without changes to either.

The kind here is a stand-in for versioned datastores: a prefix holding ``VERSIONS.json``
and one Zarr store per version.  It gets one item per version with the STAC version
extension, and the catalog still validates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import jasmin_access as ja
from jasmin_access.catalog import describe as describe_mod
from jasmin_access.catalog import discover as discover_mod
from jasmin_access.catalog._storage import Access, fingerprint
from jasmin_access.catalog.describe import Record, describe_zarr
from jasmin_access.catalog.discover import Found, Source
from jasmin_access.fs import Entry
from tests.catalog.test_stac import _schema_map

VERSION_EXT = "https://stac-extensions.github.io/version/v1.2.0/schema.json"


def versions_finder(prefix: str, entries: list[Entry]) -> Found:
    marker = next((e for e in entries if e.name == "VERSIONS.json"), None)
    if marker is None:
        return Found()
    claimed = {e.path for e in entries if e.type == "directory"}
    return Found([Source(prefix.rstrip("/"), "versioned", fingerprint(marker))], claimed)


def describe_versions(source: Source, access: Access) -> Record:
    names = json.loads(ja.cat(f"{source.url}/VERSIONS.json", **access.kwargs))
    latest = f"{source.url}/{names[-1]}.zarr"
    record = describe_zarr(Source(latest, "zarr", source.fingerprint), access)
    record.source, record.href = source, latest
    base = source.url.rsplit("/", 1)[-1]
    record.items = []
    for n, name in enumerate(names):
        links = [("latest-version", f"./{base}-{names[-1]}.json")]
        if n:
            links.append(("predecessor-version", f"./{base}-{names[n - 1]}.json"))
        record.items.append(
            {"id": f"{base}-{name}", "href": f"{source.url}/{name}.zarr",
             "properties": {"version": name, "deprecated": name != names[-1]},
             "stac_extensions": [VERSION_EXT], "links": links}
        )  # fmt: skip
    return record


@pytest.fixture
def plugged() -> Iterator[None]:
    discover_mod.register_finder(versions_finder)
    describe_mod.register_describer("versioned")(describe_versions)
    try:
        yield
    finally:
        discover_mod._FINDERS.remove(versions_finder)
        describe_mod._DESCRIBERS.pop("versioned")


def test_one_item_per_version(
    plugged: None, s3_bucket: str, s3_profile: str, tmp_path: Path
) -> None:
    from stac_validator.validate import StacValidate

    from jasmin_access.samples import NemoSpec, write_nemo_set

    for n, name in enumerate(["v1", "v2"]):
        spec = NemoSpec(prefix=name, nx=8, ny=6, nz=2, months=1 + n)
        files = write_nemo_set(tmp_path / name, spec)
        ja.convert([str(p) for p in files], f"{s3_bucket}/ds/{name}.zarr", profile=s3_profile)
    loc = ja.resolve(f"{s3_bucket}/ds/VERSIONS.json", profile=s3_profile)
    loc.fs.pipe_file(loc.path, b'["v1", "v2"]')

    report = ja.catalog.build(s3_bucket, to=f"{s3_bucket}/catalog", profile=s3_profile)
    assert report.written == [f"{s3_bucket}/ds"]  # the stores are its versions, not datasets
    items = ja.catalog.search(f"{s3_bucket}/catalog", profile=s3_profile)
    assert sorted(i.id for i in items) == ["ds-v1", "ds-v2"]
    v1 = next(i for i in items if i.id == "ds-v1")
    assert ja.open_dataset(v1).sizes["time_counter"] == 1

    local = tmp_path / "published"
    cat = ja.resolve(f"{s3_bucket}/catalog", profile=s3_profile)
    for path in cat.fs.find(cat.path):
        target = local / path.split("/catalog/", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(cat.fs.cat_file(path))
    item = json.loads((local / "ds" / "ds-v2.json").read_text())
    assert item["properties"]["version"] == "v2" and VERSION_EXT in item["stac_extensions"]
    rels = {link["rel"]: link["href"] for link in item["links"]}
    assert rels["predecessor-version"] == "./ds-v1.json"
    validator = StacValidate(
        str(local / "catalog.json"), recursive=True, schema_map=_schema_map(tmp_path)
    )
    assert validator.run(), json.dumps(validator.message, indent=1)[:3000]
    assert len(validator.message) == 4  # root, collection, two versions
