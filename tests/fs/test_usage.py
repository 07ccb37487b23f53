"""du: totals per prefix, depth, summaries, and Zarr stores counted as one unit."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from jasmin_access import fs
from jasmin_access.errors import NotFound


def by_path(rows: list[fs.Usage]) -> dict[str, fs.Usage]:
    return {r.path: r for r in rows}


def test_du_per_prefix(tree_bucket: str, profile_for) -> None:
    rows = fs.du(tree_bucket, profile=profile_for(tree_bucket))
    got = {r.path: (r.bytes, r.objects) for r in rows}
    assert got[f"{tree_bucket}/run1/"] == (18, 3)
    assert got[f"{tree_bucket}/run1/sub/"] == (5, 1)
    assert got[f"{tree_bucket}/run10/"] == (7, 1)
    assert rows[-1].path == tree_bucket and (rows[-1].bytes, rows[-1].objects) == (28, 5)
    record = rows[0].to_dict()
    assert {"path", "bytes", "objects"} <= set(record)
    assert "<table>" in rows._repr_html_()


def test_du_depth_summarize_and_boundary(tree_bucket: str, profile_for) -> None:
    p = profile_for(tree_bucket)
    shallow = [r.path for r in fs.du(tree_bucket, depth=1, profile=p)]
    assert f"{tree_bucket}/run1/sub/" not in shallow and f"{tree_bucket}/run1/" in shallow
    [total] = fs.du(f"{tree_bucket}/run1", summarize=True, profile=p)
    assert (total.bytes, total.objects) == (18, 3)  # run10/ not counted
    [single] = fs.du(f"{tree_bucket}/top.txt", profile=p)
    assert single.type == "file" and single.bytes == 3
    with pytest.raises(NotFound):
        fs.du(f"{tree_bucket}/nothing", profile=p)


def _dataset() -> xr.Dataset:
    rng = np.random.default_rng(0)
    ones = np.ones((4, 6, 8), dtype="float32")
    return xr.Dataset(
        {
            "thetao": (("time", "y", "x"), ones * 10),
            "so": (("time", "y", "x"), rng.random((4, 6, 8)).astype("float64")),
        },
        coords={"time": np.arange(4)},
    )


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_du_zarr_store_is_one_unit(
    bucket: str, put, profile_for, zarr_format: int, tmp_path
) -> None:
    p = profile_for(bucket)
    store_url = f"{bucket}/runs/model.zarr"
    ds = _dataset().chunk({"time": 1})
    ds.to_zarr(tmp_path / "model.zarr", zarr_format=zarr_format, mode="w", consolidated=True)
    fs.cp(str(tmp_path / "model.zarr"), store_url, recursive=True, profile=p)
    put(f"{bucket}/runs/notes.txt", b"hello")

    rows = by_path(fs.du(bucket, profile=p))
    store = rows[f"{store_url}/"]
    assert store.type == "zarr"
    assert not [r for r in rows if r.startswith(f"{store_url}/") and r != f"{store_url}/"]
    z = store.zarr
    assert z is not None and z.zarr_format == zarr_format
    assert z.variables == ["so", "thetao", "time"]
    assert z.chunks == 4 + 4 + 1  # one chunk per time step for each 3-D variable, one for time
    assert z.bytes_uncompressed == 4 * 6 * 8 * (4 + 8) + 4 * 8
    assert z.bytes_stored == store.bytes and store.bytes > 0
    assert z.ratio == pytest.approx(z.bytes_uncompressed / store.bytes)
    record = store.to_dict()
    assert record["type"] == "zarr" and record["chunks"] == 9 and "ratio" in record
    assert rows[f"{bucket}/runs/"].objects == store.objects + 1

    inside = by_path(fs.du(store_url, expand=True, profile=p))
    assert f"{store_url}/thetao/" in inside
    assert inside[store_url + "/"].type == "zarr"
