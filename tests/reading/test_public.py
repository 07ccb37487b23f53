"""Anonymous reads of public buckets through https URLs: no credentials sent."""

from __future__ import annotations

import json
from collections.abc import Callable

import xarray as xr

import jasmin_access as ja
from jasmin_access.stores import resolve
from tests.reading.counting import CountingServer
from tests.reading.helpers import COUNTED_PROFILE, counted_bucket_url


def _make_public(bucket_url: str) -> None:
    loc = resolve(bucket_url, profile=COUNTED_PROFILE)
    name = loc.bucket
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{name}/*"],
            }
        ],
    }
    loc.fs.call_s3("put_bucket_policy", Bucket=name, Policy=json.dumps(policy))


def test_https_url_opens_anonymously(
    counted: CountingServer, make_store: Callable[..., str], nemo_ref: xr.Dataset
) -> None:
    bucket = counted_bucket_url(counted)
    url = make_store(f"{bucket}/run.zarr", COUNTED_PROFILE, 3)
    _make_public(bucket)
    public = f"{counted.url}/{url[5:]}"  # https://<tenancy>-o.s3-ext.../bucket/run.zarr form
    loc = resolve(public)
    assert loc.fs.anon and loc.read_only and loc.profile.credentials() == {}
    counted.log.clear()
    ds = ja.open_dataset(public)  # no profile, no AWS_* variables (isolated_env)
    xr.testing.assert_equal(ds.tos.load(), nemo_ref.tos)
    assert counted.log.requests
    assert not [r for r in counted.log.requests if r.signed]
