"""Helpers for the converter tests."""

from __future__ import annotations

from pathlib import Path

import cftime
import netCDF4
import numpy as np
import xarray as xr

from jasmin_access.coverage import ACDD_KEYS


def reference(files: list[Path] | list[str], concat_dim: str = "time_counter") -> xr.Dataset:
    """What users expect: the sources opened and decoded by xarray, concatenated."""
    names = [str(f) for f in files]
    if len(names) == 1:
        return xr.open_dataset(names[0]).load()
    ds = xr.open_mfdataset(
        names,
        combine="nested",
        concat_dim=concat_dim,
        data_vars="minimal",
        coords="minimal",
        compat="override",
    )
    return ds.load()


def open_store(url: str, profile: str | None = None, group: str | None = None) -> xr.Dataset:
    """Open a converted store with plain xarray (consolidated metadata)."""
    return xr.open_zarr(zstore(url, profile), group=group, consolidated=True).load()


def zstore(url: str, profile: str | None = None, read_only: bool = True) -> object:
    """A zarr store for a URL (read-only unless asked)."""
    from jasmin_access.conversion.writer import StoreTarget
    from jasmin_access.stores import resolve

    loc = resolve(url, profile=profile)
    # cached stores have their S3 sessions closed by the next convert/verify
    return StoreTarget.of(loc, "tests").zarr_store(read_only=read_only)


def assert_attrs_equal(got: dict, want: dict, where: str) -> None:
    """Same keys and values; arrays item by item, NaN equal to NaN."""
    from jasmin_access.timecoord import same_value

    assert sorted(got) == sorted(want), where
    for key, value in want.items():
        assert same_value(got[key], value), f"{where}: {key} {got[key]!r} vs {value!r}"


def assert_same(store: xr.Dataset, ref: xr.Dataset) -> None:
    """Values, dims, coords, attributes (store adds provenance) and time decoding agree.

    Packed variables decode to float64 from Zarr (JSON attributes do not keep the
    float32 type of ``scale_factor``), so they are compared within float32 precision.
    """
    packed = [n for n, v in ref.variables.items() if "scale_factor" in v.encoding]
    xr.testing.assert_equal(store.drop_vars(packed), ref.drop_vars(packed))
    for name in packed:
        np.testing.assert_allclose(store[name].values, ref[name].values, rtol=1e-6)
    for name, var in ref.variables.items():
        assert store[name].dims == var.dims
        assert_attrs_equal(store[name].attrs, var.attrs, name)
        assert store[name].encoding.get("units") == var.encoding.get("units"), name
        assert store[name].encoding.get("calendar") == var.encoding.get("calendar"), name
        if name not in packed and var.dtype.kind not in "OU":  # strings: object or <U
            assert store[name].dtype == var.dtype, name
    extra = set(store.attrs) - set(ref.attrs)
    assert extra <= {"history", "jasmin_access", *ACDD_KEYS}  # coverage: tests/test_coverage.py
    for key, value in ref.attrs.items():
        if key != "history" and key not in ACDD_KEYS:  # the sources' own coverage is replaced
            assert store.attrs[key] == value, key


def write_feature_file(
    path: Path, fmt: str, calendar: str, start: int, n: int, units_origin: str
) -> Path:
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.title = "feature test"
        ds.history = "created for tests"
        ds.createDimension("time", None)
        ds.createDimension("lat", 3)
        ds.createDimension("lon", 4)
        ds.createDimension("bnds", 2)
        ds.createDimension("nchar", 6)
        t = ds.createVariable("time", "f8", ("time",))
        t.units = f"days since {units_origin}"
        t.calendar = calendar
        t.bounds = "time_bnds"
        days = np.arange(start, start + n, dtype="f8")
        dates = cftime.num2date(days, "days since 2000-01-01", calendar=calendar)
        days = np.asarray(cftime.date2num(dates, t.units, calendar=calendar), dtype="f8")
        t[:] = days
        tb = ds.createVariable("time_bnds", "f8", ("time", "bnds"))
        tb[:] = np.stack([days - 0.5, days + 0.5], axis=1)
        lat = ds.createVariable("lat", "f4", ("lat",))
        lat.units = "degrees_north"
        lat[:] = [-10.0, 0.0, 10.0]
        lon = ds.createVariable("lon", "f4", ("lon",))
        lon.units = "degrees_east"
        lon[:] = [0.0, 90.0, 180.0, 270.0]
        rng = np.random.default_rng(start)
        p = ds.createVariable("packed", "i2", ("time", "lat", "lon"), fill_value=np.int16(-32767))
        p.scale_factor = np.float32(0.01)
        p.add_offset = np.float32(273.15)
        p.missing_value = np.int16(-32766)
        p.set_auto_maskandscale(False)
        raw = rng.integers(-3000, 3000, size=(n, 3, 4)).astype("i2")
        raw[:, 0, 0] = -32767
        raw[:, 1, 1] = -32766
        p[:] = raw
        f = ds.createVariable("temp", "f4", ("time", "lat", "lon"), fill_value=np.float32(1e20))
        f.units = "K"
        f.set_auto_maskandscale(False)
        vals = rng.normal(280, 5, size=(n, 3, 4)).astype("f4")
        vals[:, 2, 3] = 1e20
        f[:] = vals
        c = ds.createVariable("station", "S1", ("lat", "nchar"))
        c[:] = netCDF4.stringtochar(np.array([b"alpha", b"beta", b"gamma6"], dtype="S6"))
        if fmt == "NETCDF4":
            s = ds.createVariable("label", str, ("lon",))
            s[:] = np.array(["north", "east", "south", "west"], dtype=object)
            g = ds.createGroup("extra")
            g.comment = "a sub group"
            g.createDimension("depth", 2)
            d = g.createVariable("depth", "f4", ("depth",))
            d[:] = [5.0, 15.0]
            w = g.createVariable("weights", "f8", ("depth",))
            w[:] = [0.25, 0.75]
    return path


def store_objects(url: str, profile: str | None) -> list[str]:
    """Every object under a store URL (empty when nothing was written)."""
    from jasmin_access.stores import resolve

    loc = resolve(url, profile=profile)
    try:
        return list(loc.fs.find(loc.path))
    except FileNotFoundError:
        return []
