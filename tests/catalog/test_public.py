"""A public catalog read anonymously over http(s): three requests a search, none signed."""

from __future__ import annotations

import json

import pytest

import jasmin_access as ja
from jasmin_access.stores import resolve
from tests.catalog.conftest import CatalogEnv
from tests.s3proxy import S3Proxy


def make_public(env: CatalogEnv) -> None:
    """A bucket policy letting anyone GET objects (as on a public JASMIN bucket)."""
    loc = resolve(f"s3://{env.bucket}", profile=env.profile)
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{env.bucket}/*"],
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    loc.fs.call_s3("put_bucket_policy", Bucket=env.bucket, Policy=json.dumps(policy))


def test_search_public_catalog_in_three_unsigned_requests(
    catalog_env: CatalogEnv, s3_proxy: S3Proxy
) -> None:
    make_public(catalog_env)
    public = f"{s3_proxy.url}/{catalog_env.bucket}/catalog/catalog.json"
    s3_proxy.requests.clear()
    items = ja.catalog.search(public, bbox="-30,40,-10,60", variables="tos")
    assert len(s3_proxy.requests) <= 3, s3_proxy.requests
    assert {r[1].rsplit("/", 1)[-1] for r in s3_proxy.requests} == {"index.parquet"}
    assert not s3_proxy.authorized_requests
    hrefs = sorted(item.assets["data"].href for item in items)
    base = f"{s3_proxy.url}/{catalog_env.bucket}/runs"
    assert hrefs == [f"{base}/NATL/NATL_360day.zarr", f"{base}/ORCA1_global.zarr"]
    ds = ja.open_dataset(items[0], variables="tos")  # anonymous, through the same URL
    assert ds["tos"].shape[0] == 3
    assert float(ds["tos"].isel(time_counter=0).mean()) == float(ds["tos"][0].mean().load())
    assert not s3_proxy.authorized_requests


def test_pystac_reads_the_public_catalog(catalog_env: CatalogEnv, s3_endpoint: str) -> None:
    """Another STAC reader follows the relative links over plain http."""
    import pystac

    make_public(catalog_env)
    root = pystac.Catalog.from_file(f"{s3_endpoint}/{catalog_env.bucket}/catalog/catalog.json")
    items = list(root.get_items(recursive=True))
    assert len(items) == 3 and len(list(root.get_children())) == 3
    natl = next(i for i in items if i.id.startswith("runs_NATL"))
    href = natl.assets["data"].get_absolute_href()
    assert href == f"{s3_endpoint}/{catalog_env.bucket}/runs/NATL/NATL_360day.zarr"
    assert "tos" in ja.open_dataset(natl).data_vars  # a plain pystac item opens too


def test_public_search_of_a_missing_catalog_says_what_to_do(
    catalog_env: CatalogEnv, s3_endpoint: str
) -> None:
    from jasmin_access.errors import NotFound

    make_public(catalog_env)
    with pytest.raises(NotFound, match="catalog build"):
        ja.catalog.search(f"{s3_endpoint}/{catalog_env.bucket}/no-catalog-here")
