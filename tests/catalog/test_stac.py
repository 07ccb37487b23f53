"""The published catalog: valid STAC (checked offline by stac-validator), Zarr best practices,
datacube fields, extents in each dataset's own calendar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jasmin_access.stores import resolve
from tests.catalog.conftest import CatalogEnv

SCHEMAS = Path(__file__).parent.parent / "data" / "stac_schemas"


def _schema_map(tmp: Path) -> dict[str, str]:
    """Every schema the catalog needs, from files on this machine (no network)."""
    from pystac.validation.local_validator import get_local_schema_cache

    out = {}
    for n, (url, schema) in enumerate(get_local_schema_cache().items()):
        path = tmp / f"core-{n}.json"
        path.write_text(json.dumps(schema))
        out[url] = str(path)
    for ext in ("datacube/v2.2.0", "version/v1.2.0"):
        out[f"https://stac-extensions.github.io/{ext}/schema.json"] = str(
            SCHEMAS / ext / "schema.json"
        )
    return out


@pytest.fixture(scope="module")
def published(catalog_env: CatalogEnv, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The catalog prefix downloaded as it is on the store."""
    loc = resolve(catalog_env.catalog, profile=catalog_env.profile)
    local = tmp_path_factory.mktemp("published")
    for path in loc.fs.find(loc.path):
        target = local / path[len(loc.path) :].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(loc.fs.cat_file(path))
    return local


def test_valid_for_an_independent_validator(published: Path, tmp_path: Path) -> None:
    from stac_validator.validate import StacValidate

    validator = StacValidate(
        str(published / "catalog.json"), recursive=True, schema_map=_schema_map(tmp_path)
    )
    assert validator.run(), json.dumps(validator.message, indent=1)[:3000]
    checked = {Path(m["path"]).name for m in validator.message}
    assert {"catalog.json", "collection.json"} <= checked
    assert len(validator.message) == 7  # root, three collections, three items
    assert all(m["valid_stac"] for m in validator.message)
    extensions = {s for m in validator.message for s in m.get("validated_against", m["schema"])}
    assert any("datacube" in s for s in extensions)


def test_validator_would_catch_a_broken_entry(published: Path, tmp_path: Path) -> None:
    """The check above can fail: a dimension without its extent is refused."""
    from stac_validator.validate import StacValidate

    path = next(published.glob("runs_NATL*/collection.json"))
    doc = json.loads(path.read_text())
    del doc["cube:dimensions"]["time_counter"]["extent"]
    broken = tmp_path / "collection.json"
    broken.write_text(json.dumps(doc))
    validator = StacValidate(str(broken), schema_map=_schema_map(tmp_path))
    assert not validator.run()


def _doc(published: Path, pattern: str) -> dict:
    return json.loads(next(published.glob(pattern)).read_text())


def test_zarr_best_practices_and_datacube(published: Path) -> None:
    v3 = _doc(published, "runs_ORCA1*/collection.json")
    v2 = _doc(published, "runs_NATL*/collection.json")
    assert v3["assets"]["data"]["type"] == "application/vnd.zarr; version=3"
    assert v2["assets"]["data"]["type"] == "application/vnd.zarr; version=2"
    assert v3["assets"]["data"]["href"] == "../../runs/ORCA1_global.zarr"  # relative: https too
    tos = v2["cube:variables"]["tos"]
    assert tos["standard_name"] == "sea_surface_temperature"
    assert (tos["unit"], tos["description"]) == ("degC", "sea surface temperature")
    assert tos["dimensions"] == ["time_counter", "y", "x"]
    assert v3["cube:variables"]["nav_lat"]["type"] == "auxiliary"
    assert v3["cube:variables"]["time_counter_bounds"]["type"] == "auxiliary"
    assert v3["cube:dimensions"]["deptht"]["axis"] == "z"
    assert "curvilinear" in v3["cube:dimensions"]["x"]["description"]


def test_extents_in_the_data_calendar(published: Path) -> None:
    natl = _doc(published, "runs_NATL*/collection.json")
    time = natl["cube:dimensions"]["time_counter"]
    assert time["calendar"] == "360_day"
    assert time["extent"] == ["1990-01-16T00:00:00", "1990-03-16T00:00:00"]
    interval = natl["extent"]["temporal"]["interval"]
    assert interval == [["1990-01-16T00:00:00Z", "1990-03-16T00:00:00Z"]]
    west, south, east, north = natl["extent"]["spatial"]["bbox"][0]
    assert (west, south) == (-60.0, 30.0)
    assert 11.9 < east <= 12.0 and 71.0 < north <= 71.5  # the distorted curvilinear corners
    pac = _doc(published, "nc_PAC*/nc_PAC*.json")
    assert pac["bbox"][0] == 150.0 and pac["bbox"][2] == -148.0  # crosses the dateline
    assert pac["geometry"]["type"] == "MultiPolygon"
    world = _doc(published, "runs_ORCA1*/collection.json")["extent"]["spatial"]["bbox"][0]
    assert world[0] == -180.0 and world[2] == 180.0
