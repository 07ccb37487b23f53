"""Small files laid out, attribute for attribute, the way other producers write them.

Each writer reproduces the structure of real output of one producer (names,
dimensions, attributes, types, storage layout and file format) on a tiny grid:

* :func:`xios_monthly`: NEMO output written by XIOS: ``time_counter`` without
  units (0 in every file), the time in ``time_centered`` with bounds,
  ``360_day``; ``nav_lat``/``nav_lon``; NETCDF4_CLASSIC, deflate level 1,
  chunked one level per chunk.
* :func:`um_iris`: Met Office Unified Model fields as iris saves them: NaN
  ``_FillValue``, ``360_day``, scalar coordinates, a scalar int
  ``grid_mapping`` variable (rotated pole), ``forecast_period`` /
  ``forecast_reference_time``, hybrid-height auxiliary coordinates.
* :func:`ostia_daily`: OSTIA L4 analyses: packed int16 and int8 with
  ``scale_factor``/``add_offset``, flag variables, time bounds, one record a file.
* :func:`station_series`: a CF timeSeries station file with vlen string
  and char variables; :func:`argo_profiles`: CF profile files whose record
  dimension is ``profile`` and whose time is ``juld(profile)``.
* :func:`descending_latitude` and :func:`polar_stereographic`: descending
  axes, including a projection ``y`` that is the file's unlimited dimension.

Files written by CDO and NCO themselves are made in :mod:`tests.data.cdo_nco`.
"""

from __future__ import annotations

from pathlib import Path

import cftime
import netCDF4
import numpy as np

__all__ = [
    "argo_profiles",
    "descending_latitude",
    "ostia_daily",
    "polar_stereographic",
    "station_series",
    "um_iris",
    "xios_monthly",
]

_RNG = np.random.default_rng(14)


def _field(shape: tuple[int, ...], base: float, spread: float = 5.0) -> np.ndarray:
    return (base + spread * _RNG.standard_normal(shape)).astype("f4")


# --------------------------------------------------------------------------- XIOS / NEMO


def _xios_file(
    path: Path, year: int, month: int, nrec: int, ny: int, nx: int, nz: int, origin: str
) -> None:
    units = f"seconds since {origin}"
    day = 86400.0
    start = cftime.date2num(cftime.Datetime360Day(year, month, 1), units, calendar="360_day")
    step = 30 * day / nrec
    with netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC") as ds:
        ds.setncatts(
            {
                "name": path.stem,
                "description": "ocean T grid variables",
                "title": "ocean T grid variables",
                "Conventions": "CF-1.6",
                "timeStamp": f"{year}-{month:02d}-30 23:00:00 GMT",
                "uuid": f"3f0b6c1e-9d2a-4c57-8e55-{year:04d}{month:02d}000000",
            }
        )
        ds.createDimension("axis_nbounds", 2)
        ds.createDimension("x", nx)
        ds.createDimension("y", ny)
        ds.createDimension("deptht", nz)
        ds.createDimension("time_counter", None)
        lat = ds.createVariable("nav_lat", "f4", ("y", "x"), zlib=True, complevel=1)
        lat.setncatts(
            {"standard_name": "latitude", "long_name": "Latitude", "units": "degrees_north"}
        )
        lon = ds.createVariable("nav_lon", "f4", ("y", "x"), zlib=True, complevel=1)
        lon.setncatts(
            {"standard_name": "longitude", "long_name": "Longitude", "units": "degrees_east"}
        )
        yy, xx = np.meshgrid(np.linspace(-60, 70, ny), np.linspace(-180, 170, nx), indexing="ij")
        lat[:] = yy + 0.3 * np.sin(np.radians(xx))
        lon[:] = xx
        dep = ds.createVariable("deptht", "f4", ("deptht",), zlib=True, complevel=1)
        dep.setncatts(
            {
                "name": "deptht",
                "long_name": "Vertical T levels",
                "units": "m",
                "positive": "down",
                "bounds": "deptht_bounds",
            }
        )
        levels = np.cumsum(np.linspace(1.0, 50.0, nz)).astype("f4")
        dep[:] = levels
        depb = ds.createVariable(
            "deptht_bounds", "f4", ("deptht", "axis_nbounds"), zlib=True, complevel=1
        )
        depb[:] = np.stack([np.concatenate([[0.0], levels[:-1]]), levels], axis=1)
        tc = ds.createVariable("time_centered", "f8", ("time_counter",), zlib=True, complevel=1)
        tc.setncatts(
            {
                "standard_name": "time",
                "long_name": "Time axis",
                "calendar": "360_day",
                "units": units,
                "time_origin": origin,
                "bounds": "time_centered_bounds",
            }
        )
        edges = start + step * np.arange(nrec + 1)
        tc[:] = (edges[:-1] + edges[1:]) / 2
        tcb = ds.createVariable(
            "time_centered_bounds", "f8", ("time_counter", "axis_nbounds"), zlib=True, complevel=1
        )
        tcb[:] = np.stack([edges[:-1], edges[1:]], axis=1)
        cnt = ds.createVariable("time_counter", "f8", ("time_counter",), zlib=True, complevel=1)
        cnt.setncatts(
            {
                "axis": "T",
                "standard_name": "time",
                "long_name": "Time axis",
                "bounds": "time_counter_bounds",
            }
        )
        cnt[:] = np.zeros(nrec)
        cntb = ds.createVariable(
            "time_counter_bounds", "f8", ("time_counter", "axis_nbounds"), zlib=True, complevel=1
        )
        cntb[:] = np.zeros((nrec, 2))
        data = _field((nrec, nz, ny, nx), 12.0)
        data[:, :, 0, :2] = 1e20  # land
        dims = ("time_counter", "deptht", "y", "x")
        _xios_field(ds, "thetao", dims, "sea_water_potential_temperature", "temperature")[:] = data
        tos = _xios_field(
            ds, "tos", dims[:1] + dims[2:], "sea_surface_temperature", "sea surface temperature"
        )
        tos[:] = data[:, 0]


def _xios_field(
    ds: netCDF4.Dataset, name: str, dims: tuple[str, ...], standard: str, long: str
) -> netCDF4.Variable:
    """A float32 field as XIOS writes it: one level per chunk, deflate 1, 1e20 over land."""
    chunks = tuple(1 if d in ("time_counter", "deptht") else len(ds.dimensions[d]) for d in dims)
    var = ds.createVariable(
        name, "f4", dims, zlib=True, complevel=1, chunksizes=chunks, fill_value=np.float32(1e20)
    )
    var.setncatts(
        {
            "standard_name": standard,
            "long_name": long,
            "units": "degC",
            "online_operation": "average",
            "interval_operation": "1 h",
            "interval_write": "1 month",
            "cell_methods": "time: mean (interval: 1 h)",
            "missing_value": np.float32(1e20),
            "coordinates": "time_centered nav_lat nav_lon",
        }
    )
    return var


def xios_monthly(
    root: Path,
    months: int = 3,
    nrec: int = 1,
    start: tuple[int, int] = (1976, 11),
    units_change: bool = False,
) -> list[Path]:
    """Monthly XIOS files ``ORCA_1m_YYYYMM_grid_T.nc`` (``nrec`` steps each).

    ``units_change``: every second file counts its time from another origin
    (as after a model restart with a new reference date).
    """
    root.mkdir(parents=True, exist_ok=True)
    out = []
    year, month = start
    for _ in range(months):
        path = root / f"ORCA_1m_{year}{month:02d}_grid_T.nc"
        origin = "1950-01-01 00:00:00" if units_change and len(out) % 2 else "1900-01-01 00:00:00"
        _xios_file(path, year, month, nrec, ny=5, nx=6, nz=3, origin=origin)
        out.append(path)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


# --------------------------------------------------------------------------- UM via iris


def _um_cubes(hours: np.ndarray, run_start: float, ny: int = 4, nx: int = 5, nz: int = 3) -> list:
    """Two UM fields as iris cubes: a rotated-pole surface field and a hybrid-height one."""
    import iris.aux_factory
    import iris.coord_systems
    import iris.coords
    import iris.cube
    from cf_units import Unit

    cs = iris.coord_systems.RotatedGeogCS(
        37.5, 177.5, ellipsoid=iris.coord_systems.GeogCS(6371229.0)
    )
    tunit = Unit("hours since 1970-01-01 00:00:00", calendar="360_day")
    bounds = np.stack([hours - 3.0, hours + 3.0], axis=1)

    def common() -> dict:
        time = iris.coords.DimCoord(hours, standard_name="time", units=tunit, bounds=bounds)
        glat = iris.coords.DimCoord(
            np.linspace(-2.0, 2.0, ny, dtype="f4"),
            standard_name="grid_latitude",
            units="degrees",
            coord_system=cs,
        )
        glon = iris.coords.DimCoord(
            np.linspace(357.0, 363.0, nx, dtype="f4"),
            standard_name="grid_longitude",
            units="degrees",
            coord_system=cs,
        )
        fp = iris.coords.AuxCoord(
            hours - run_start,
            standard_name="forecast_period",
            units="hours",
            bounds=bounds - run_start,
        )
        frt = iris.coords.AuxCoord(run_start, standard_name="forecast_reference_time", units=tunit)
        return {"time": time, "glat": glat, "glon": glon, "fp": fp, "frt": frt}

    c = common()
    attrs = {"source": "Data from Met Office Unified Model", "um_version": "11.1"}
    values = _field((len(hours), ny, nx), 280.0)
    values[:, 0, 0] = np.nan
    tas = iris.cube.Cube(
        values,
        standard_name="air_temperature",
        units="K",
        attributes={**attrs, "STASH": "m01s03i236"},
        dim_coords_and_dims=[(c["time"], 0), (c["glat"], 1), (c["glon"], 2)],
        aux_coords_and_dims=[
            (c["fp"], 0),
            (c["frt"], None),
            (iris.coords.AuxCoord(1.5, standard_name="height", units="m"), None),
        ],
        cell_methods=[iris.coords.CellMethod("mean", coords="time", intervals="1 hour")],
    )
    c = common()
    level = iris.coords.DimCoord(
        np.arange(1, nz + 1, dtype="i4"), standard_name="model_level_number", units="1"
    )
    delta = iris.coords.AuxCoord(
        np.array([5.0, 21.7, 45.0][:nz], dtype="f4"),
        long_name="level_height",
        var_name="level_height",
        units="m",
    )
    sigma = iris.coords.AuxCoord(
        np.array([0.999, 0.997, 0.994][:nz], dtype="f4"), long_name="sigma", units="1"
    )
    orog = iris.coords.AuxCoord(
        (100.0 + 40.0 * np.cos(np.arange(ny * nx)).reshape(ny, nx)).astype(
            "f4"
        ),  # same in every file
        standard_name="surface_altitude",
        units="m",
    )
    wind = iris.cube.Cube(
        _field((len(hours), nz, ny, nx), 3.0),
        standard_name="x_wind",
        units="m s-1",
        attributes={**attrs, "STASH": "m01s00i002"},
        dim_coords_and_dims=[(c["time"], 0), (level, 1), (c["glat"], 2), (c["glon"], 3)],
        aux_coords_and_dims=[
            (c["fp"], 0),
            (c["frt"], None),
            (delta, 1),
            (sigma, 1),
            (orog, (2, 3)),
        ],
    )
    wind.add_aux_factory(
        iris.aux_factory.HybridHeightFactory(delta=delta, sigma=sigma, orography=orog)
    )
    return [tas, wind]


def um_iris(root: Path) -> list[Path]:
    """Two UM files of 6-hourly means across the 1999/2000 boundary (360_day), saved by iris."""
    import iris

    iris.FUTURE.save_split_attrs = True
    root.mkdir(parents=True, exist_ok=True)
    units = "hours since 1970-01-01 00:00:00"
    first = cftime.date2num(cftime.Datetime360Day(1999, 12, 30, 12), units, calendar="360_day")
    hours = first + 6.0 * np.arange(8)
    out = [root / "umnsaa_pa1999.nc", root / "umnsaa_pa2000.nc"]
    for path, part in zip(out, (hours[:4], hours[4:]), strict=True):
        iris.save(_um_cubes(part, first - 12.0), str(path), fill_value=np.nan)
    return out


# --------------------------------------------------------------------------- OSTIA


def _ostia_file(path: Path, day: int, ny: int = 6, nx: int = 8) -> None:
    units = "seconds since 1981-01-01 00:00:00"
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.setncatts(
            {
                "Conventions": "CF-1.4, ACDD-1.3",
                "title": "Global SST & Sea Ice Analysis, L4 OSTIA",
                "institution": "UKMO",
                "id": "OSTIA-UKMO-L4-GLOB-v2.0",
                "gds_version_id": "2.0",
                "start_time": f"202001{day:02d}T000000Z",
                "stop_time": f"202001{day + 1:02d}T000000Z",
                "summary": "A merged, multi-sensor L4 Foundation SST product",
            }
        )
        ds.createDimension("time", 1)
        ds.createDimension("lat", ny)
        ds.createDimension("lon", nx)
        ds.createDimension("nv", 2)
        t = ds.createVariable("time", "i4", ("time",))
        t.setncatts(
            {
                "long_name": "reference time of sst field",
                "standard_name": "time",
                "axis": "T",
                "units": units,
                "calendar": "gregorian",
                "bounds": "time_bnds",
            }
        )
        t0 = int(
            cftime.date2num(cftime.DatetimeGregorian(2020, 1, day, 12), units, calendar="gregorian")
        )
        t[:] = [t0]
        tb = ds.createVariable("time_bnds", "i4", ("time", "nv"))
        tb[:] = [[t0 - 43200, t0 + 43200]]
        lat = ds.createVariable("lat", "f4", ("lat",))
        lat.setncatts(
            {
                "long_name": "latitude",
                "standard_name": "latitude",
                "axis": "Y",
                "units": "degrees_north",
                "valid_min": -90.0,
                "valid_max": 90.0,
            }
        )
        lat[:] = np.linspace(-50, 50, ny)
        lon = ds.createVariable("lon", "f4", ("lon",))
        lon.setncatts(
            {
                "long_name": "longitude",
                "standard_name": "longitude",
                "axis": "X",
                "units": "degrees_east",
                "valid_min": -180.0,
                "valid_max": 180.0,
            }
        )
        lon[:] = np.linspace(-170, 170, nx)
        sst = ds.createVariable(
            "analysed_sst",
            "i2",
            ("time", "lat", "lon"),
            zlib=True,
            complevel=1,
            chunksizes=(1, ny, nx),
            fill_value=np.int16(-32768),
        )
        sst.set_auto_maskandscale(False)
        sst.setncatts(
            {
                "long_name": "analysed sea surface temperature",
                "standard_name": "sea_surface_foundation_temperature",
                "units": "kelvin",
                "add_offset": np.float32(273.15),
                "scale_factor": np.float32(0.01),
                "valid_min": np.int16(-300),
                "valid_max": np.int16(4500),
                "source": "AVHRR18_G-NAVO, AVHRR_SST_METOP_B-OSISAF",
            }
        )
        raw = np.round((_field((1, ny, nx), 290.0, 3.0) - 273.15) / 0.01).astype("i2")
        raw[0, 0, :3] = -32768
        sst[:] = raw
        ice = ds.createVariable(
            "sea_ice_fraction",
            "i1",
            ("time", "lat", "lon"),
            zlib=True,
            complevel=1,
            fill_value=np.int8(-128),
        )
        ice.set_auto_maskandscale(False)
        ice.setncatts(
            {
                "long_name": "sea ice area fraction",
                "units": "1",
                "standard_name": "sea_ice_area_fraction",
                "add_offset": np.float32(0.0),
                "scale_factor": np.float32(0.01),
                "valid_min": np.int8(0),
                "valid_max": np.int8(100),
            }
        )
        ice[:] = np.where(_RNG.random((1, ny, nx)) > 0.7, 50, -128).astype("i1")
        mask = ds.createVariable(
            "mask", "i1", ("time", "lat", "lon"), zlib=True, complevel=1, fill_value=np.int8(-128)
        )
        mask.set_auto_maskandscale(False)
        mask.setncatts(
            {
                "long_name": "land sea ice lake bit mask",
                "flag_masks": np.array([1, 2, 4, 8, 16], dtype="i1"),
                "flag_meanings": "water land optional_lake_surface sea_ice optional_river_surface",
                "valid_min": np.int8(1),
                "valid_max": np.int8(31),
            }
        )
        mask[:] = np.ones((1, ny, nx), dtype="i1")


def ostia_daily(root: Path, days: int = 3) -> list[Path]:
    """One-record daily OSTIA files named as the real ones (``20200101120000-UKMO-L4_...nc``)."""
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for day in range(1, days + 1):
        path = root / f"202001{day:02d}120000-UKMO-L4_GHRSST-SSTfnd-OSTIA-GLOB-v02.0-fv02.0.nc"
        _ostia_file(path, day)
        out.append(path)
    return out


# --------------------------------------------------------------------------- stations


def station_series(root: Path) -> list[Path]:
    """Two CF timeSeries files of 3 stations: vlen string and char name variables."""
    root.mkdir(parents=True, exist_ok=True)
    units = "days since 2010-01-01"
    out = []
    for part in range(2):
        path = root / f"stations_{part + 1}.nc"
        with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
            ds.setncatts({"featureType": "timeSeries", "Conventions": "CF-1.8"})
            ds.createDimension("station", 3)
            ds.createDimension("name_strlen", 8)
            ds.createDimension("time", None)
            name = ds.createVariable("station_name", str, ("station",))
            name.setncatts({"cf_role": "timeseries_id", "long_name": "station name"})
            for i, text in enumerate(["Plymouth L4", "E1", "Stonehaven"]):
                name[i] = text
            code = ds.createVariable("wmo_code", "S1", ("station", "name_strlen"))
            code.long_name = "WMO code"
            code[:] = netCDF4.stringtochar(np.array(["62103", "62105", "6210"], dtype="S8"))
            lat = ds.createVariable("lat", "f4", ("station",))
            lat.setncatts({"standard_name": "latitude", "units": "degrees_north"})
            lat[:] = [50.25, 50.03, 56.96]
            lon = ds.createVariable("lon", "f4", ("station",))
            lon.setncatts({"standard_name": "longitude", "units": "degrees_east"})
            lon[:] = [-4.22, -4.37, -2.1]
            t = ds.createVariable("time", "f8", ("time",))
            t.setncatts({"standard_name": "time", "units": units, "calendar": "gregorian"})
            t[:] = part * 5 + np.arange(5.0)
            flag = ds.createVariable("qc_comment", str, ("time",))
            for i in range(5):
                flag[i] = "ok" if i % 2 else "checked by hand"
            temp = ds.createVariable(
                "sea_water_temperature", "f4", ("station", "time"), fill_value=np.float32(-999.0)
            )
            temp.setncatts(
                {
                    "standard_name": "sea_water_temperature",
                    "units": "degC",
                    "coordinates": "lat lon station_name",
                }
            )
            temp[:] = _field((3, 5), 11.0, 2.0)
        out.append(path)
    return out


def argo_profiles(root: Path) -> list[Path]:
    """Two CF profile files (3 profiles each) whose record dimension is ``profile``.

    The time is ``juld(profile)`` (``standard_name = time``), not a coordinate
    of its own; platform codes are vlen strings; pressure runs down the column.
    """
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for part in range(2):
        path = root / f"argo_profiles_{part + 1}.nc"
        with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
            ds.setncatts({"featureType": "profile", "Conventions": "CF-1.8"})
            ds.createDimension("profile", None)
            ds.createDimension("level", 4)
            juld = ds.createVariable("juld", "f8", ("profile",))
            juld.setncatts(
                {
                    "standard_name": "time",
                    "long_name": "Julian day of the profile",
                    "units": "days since 1950-01-01 00:00:00 UTC",
                    "axis": "T",
                }
            )
            juld[:] = 26000.0 + part * 10 + np.array([0.25, 3.5, 7.75])
            code = ds.createVariable("platform_number", str, ("profile",))
            code.long_name = "Float unique identifier"
            for i, text in enumerate(["6901234", "6901235", "3902101"]):
                code[i] = text
            lat = ds.createVariable("latitude", "f8", ("profile",))
            lat.setncatts({"standard_name": "latitude", "units": "degree_north"})
            lat[:] = [48.1, 47.9, 45.0 - part]
            lon = ds.createVariable("longitude", "f8", ("profile",))
            lon.setncatts({"standard_name": "longitude", "units": "degree_east"})
            lon[:] = [-20.5, -19.8, -15.0 + part]
            pres = ds.createVariable(
                "pres", "f4", ("profile", "level"), fill_value=np.float32(99999.0)
            )
            pres.setncatts({"standard_name": "sea_water_pressure", "units": "decibar", "axis": "Z"})
            pres[:] = np.tile(np.array([5.0, 50.0, 200.0, 1000.0], dtype="f4"), (3, 1))
            temp = ds.createVariable(
                "temp", "f4", ("profile", "level"), fill_value=np.float32(99999.0)
            )
            temp.setncatts(
                {
                    "standard_name": "sea_water_temperature",
                    "units": "degree_Celsius",
                    "coordinates": "juld latitude longitude pres",
                }
            )
            values = _field((3, 4), 10.0, 3.0)
            values[2, 3] = 99999.0  # a profile that stopped short
            temp[:] = values
        out.append(path)
    return out


# --------------------------------------------------------------------------- descending axes


def descending_latitude(root: Path) -> list[Path]:
    """Two daily files with latitude from north to south (as ECMWF writes it)."""
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for part in range(2):
        path = root / f"era_t2m_{part + 1}.nc"
        with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
            ds.createDimension("longitude", 8)
            ds.createDimension("latitude", 5)
            ds.createDimension("time", None)
            lon = ds.createVariable("longitude", "f4", ("longitude",))
            lon.setncatts({"units": "degrees_east", "long_name": "longitude"})
            lon[:] = np.arange(0, 360, 45)
            lat = ds.createVariable("latitude", "f4", ("latitude",))
            lat.setncatts({"units": "degrees_north", "long_name": "latitude"})
            lat[:] = np.linspace(80, -80, 5)
            t = ds.createVariable("time", "i4", ("time",))
            t.setncatts(
                {
                    "units": "hours since 1900-01-01 00:00:00.0",
                    "long_name": "time",
                    "calendar": "gregorian",
                }
            )
            t[:] = 1051896 + 24 * (part * 2 + np.arange(2))
            t2m = ds.createVariable(
                "t2m", "i2", ("time", "latitude", "longitude"), fill_value=np.int16(-32767)
            )
            t2m.set_auto_maskandscale(False)
            t2m.setncatts(
                {
                    "scale_factor": 0.0016,
                    "add_offset": 265.0,
                    "missing_value": np.int16(-32767),
                    "units": "K",
                    "long_name": "2 metre temperature",
                }
            )
            t2m[:] = _RNG.integers(-20000, 20000, (2, 5, 8)).astype("i2")
        out.append(path)
    return out


def polar_stereographic(root: Path, y_unlimited: bool = True) -> Path:
    """A sea-ice grid on a polar stereographic projection, ``y`` from +x to -x.

    ``y_unlimited``: a static grid file whose unlimited dimension is ``y`` and
    that has no time at all; otherwise one daily field with a ``time`` axis.
    """
    root.mkdir(parents=True, exist_ok=True)
    path = root / ("nsidc_grid_y_unlimited.nc" if y_unlimited else "nsidc_seaice.nc")
    dims = ("y", "x") if y_unlimited else ("time", "y", "x")
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.createDimension("y", None if y_unlimited else 6)
        ds.createDimension("x", 5)
        crs = ds.createVariable("crs", "i4")
        crs.setncatts(
            {
                "grid_mapping_name": "polar_stereographic",
                "straight_vertical_longitude_from_pole": -45.0,
                "latitude_of_projection_origin": 90.0,
                "standard_parallel": 70.0,
                "false_easting": 0.0,
                "false_northing": 0.0,
                "semi_major_axis": 6378273.0,
                "inverse_flattening": 298.279411123064,
            }
        )
        y = ds.createVariable("y", "f8", ("y",))
        y.setncatts({"standard_name": "projection_y_coordinate", "units": "meters", "axis": "Y"})
        y[:] = np.linspace(5837500.0, -5337500.0, 6)
        x = ds.createVariable("x", "f8", ("x",))
        x.setncatts({"standard_name": "projection_x_coordinate", "units": "meters", "axis": "X"})
        x[:] = np.linspace(-3837500.0, 3737500.0, 5)
        if not y_unlimited:
            _daily_time(ds)
        conc = ds.createVariable("cdr_seaice_conc", "u1", dims, fill_value=np.uint8(255))
        conc.set_auto_maskandscale(False)
        conc.setncatts(
            {
                "standard_name": "sea_ice_area_fraction",
                "units": "1",
                "scale_factor": np.float32(0.01),
                "grid_mapping": "crs",
                "flag_values": np.array([251, 252, 253, 254], dtype="u1"),
                "flag_meanings": "pole_hole lakes coastal land",
            }
        )
        conc[:] = _RNG.integers(0, 101, (1, 6, 5)).astype("u1").reshape(conc.shape)
    return path


def _daily_time(ds: netCDF4.Dataset) -> None:
    ds.createDimension("time", 1)
    t = ds.createVariable("time", "f8", ("time",))
    t.setncatts(
        {
            "standard_name": "time",
            "units": "days since 1601-01-01 00:00:00",
            "calendar": "gregorian",
            "axis": "T",
        }
    )
    t[:] = [152477.0]
