"""Synthetic NEMO-like model output, for demos, tests and benchmarks.

Files look like what NEMO/XIOS writes: one file per period for the ``grid_T``
grid, record dimension ``time_counter`` (unlimited), ``deptht``, ``y``, ``x``,
2-D curvilinear ``nav_lat``/``nav_lon``, ``time_counter_bounds``,
``time_centered``, float32 fields with ``_FillValue = 1e20`` over land, NETCDF4
with deflate chunked one level and one step at a time.

Run ``python -m jasmin_access.samples DIR`` for a small set.
"""

from __future__ import annotations

import argparse
import calendar as pycalendar
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["NemoSpec", "write_nemo_set"]

log = logging.getLogger(__name__)

FILL = np.float32(1e20)
_DAYS_360 = [30] * 12
_DAYS_NOLEAP = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


@dataclass(frozen=True)
class NemoSpec:
    """Shape and time layout of a synthetic NEMO set.

    Attributes
    ----------
    nx, ny, nz
        Grid size (eORCA1 is 360 x 331 x 75).
    months
        Number of monthly files.
    frequency
        ``"1m"`` (one monthly mean per file) or ``"1d"`` (daily steps, 28-31 per file).
    calendar
        ``"gregorian"``, ``"noleap"`` or ``"360_day"``.
    start_year
        First year.
    deflate
        zlib level (0 for none).
    seed
        Random seed for the noise.
    prefix
        File name prefix.
    """

    nx: int = 36
    ny: int = 30
    nz: int = 5
    months: int = 3
    frequency: str = "1m"
    calendar: str = "gregorian"
    start_year: int = 1976
    deflate: int = 1
    seed: int = 0
    prefix: str = "ORCA1_test"

    @classmethod
    def eorca1(cls, months: int = 12, **kw: object) -> NemoSpec:
        """The benchmark grid: eORCA1, 75 levels (~72 MB per monthly file)."""
        return cls(nx=360, ny=331, nz=75, months=months, **kw)  # type: ignore[arg-type]


def _days_in_month(year: int, month: int, cal: str) -> int:
    if cal == "360_day":
        return _DAYS_360[month - 1]
    if cal in ("noleap", "365_day"):
        return _DAYS_NOLEAP[month - 1]
    return pycalendar.monthrange(year, month)[1]


def _days_before(year: int, month: int, start_year: int, cal: str) -> int:
    days = 0
    for y in range(start_year, year + 1):
        for m in range(1, 13):
            if (y, m) >= (year, month):
                return days
            days += _days_in_month(y, m, cal)
    return days


def _grid(spec: NemoSpec) -> tuple[np.ndarray, np.ndarray]:
    j, i = np.meshgrid(np.arange(spec.ny), np.arange(spec.nx), indexing="ij")
    lat = -78.0 + 168.0 * j / max(spec.ny - 1, 1)
    lon = -180.0 + 360.0 * (i + 0.5) / spec.nx
    # A gentle distortion towards the north, as on a tripolar grid.
    bend = np.clip((lat - 40.0) / 50.0, 0.0, None)
    nav_lat = lat + 3.0 * bend * np.cos(np.deg2rad(lon))
    nav_lon = ((lon + 10.0 * bend * np.sin(np.deg2rad(lat)) + 180.0) % 360.0) - 180.0
    return nav_lat.astype("f4"), nav_lon.astype("f4")


def _land(spec: NemoSpec, nav_lat: np.ndarray, nav_lon: np.ndarray) -> np.ndarray:
    """Boolean (nz, ny, nx) land mask: continents that grow with depth."""
    depth_frac = np.linspace(0.0, 1.0, spec.nz)[:, None, None]
    shape = np.sin(np.deg2rad(nav_lon) * 2.0) * np.cos(np.deg2rad(nav_lat) * 3.0)
    land2d = (shape[None] > 0.55 - 0.5 * depth_frac) | (nav_lat[None] < -70.0)
    return np.broadcast_to(land2d, (spec.nz, spec.ny, spec.nx))


def write_nemo_set(directory: str | Path, spec: NemoSpec | None = None) -> list[Path]:
    """Write a synthetic NEMO ``grid_T`` set, one file per month.

    Parameters
    ----------
    directory
        Where to write (created if needed).
    spec
        Shape and layout; defaults to a small grid.

    Returns
    -------
    list of Path
        The files written, in time order.
    """

    spec = spec or NemoSpec()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    nav_lat, nav_lon = _grid(spec)
    land = _land(spec, nav_lat, nav_lon)
    depth = (5.0 * np.arange(spec.nz) ** 1.5 + 0.5).astype("f4")
    base_t = (28.0 * np.cos(np.deg2rad(nav_lat)) ** 2 - 1.5).astype("f4")
    files = []
    for index in range(spec.months):
        year = spec.start_year + index // 12
        month = index % 12 + 1
        ndays = _days_in_month(year, month, spec.calendar)
        first_day = _days_before(year, month, spec.start_year, spec.calendar)
        if spec.frequency == "1d":
            centres = first_day + np.arange(ndays) + 0.5
            half = np.full(ndays, 0.5)
        else:
            centres = np.array([first_day + ndays / 2.0])
            half = np.array([ndays / 2.0])
        end = f"{year:04d}{month:02d}{ndays:02d}"
        name = f"{spec.prefix}_{spec.frequency}_{year:04d}{month:02d}01_{end}_grid_T.nc"
        path = out / name
        _write_file(path, spec, nav_lat, nav_lon, land, depth, base_t, centres, half, rng)
        files.append(path)
        log.info("wrote %s", path)
    return files


def _write_file(
    path: Path,
    spec: NemoSpec,
    nav_lat: np.ndarray,
    nav_lon: np.ndarray,
    land: np.ndarray,
    depth: np.ndarray,
    base_t: np.ndarray,
    centres: np.ndarray,
    half: np.ndarray,
    rng: np.random.Generator,
) -> None:
    import netCDF4

    units = f"seconds since {spec.start_year:04d}-01-01 00:00:00"
    len(centres)
    comp = {"zlib": spec.deflate > 0, "complevel": spec.deflate or 1}
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.createDimension("axis_nbounds", 2)
        ds.createDimension("x", spec.nx)
        ds.createDimension("y", spec.ny)
        ds.createDimension("deptht", spec.nz)
        ds.createDimension("time_counter", None)
        ds.setncatts(
            {
                "name": path.stem,
                "description": "ocean T grid variables",
                "title": "synthetic NEMO-like output",
                "Conventions": "CF-1.6",
                "timeStamp": "synthetic",
                "uuid": f"{spec.seed}-{path.stem}",
            }
        )
        for vname, data, std in (
            ("nav_lat", nav_lat, "latitude"),
            ("nav_lon", nav_lon, "longitude"),
        ):
            v = ds.createVariable(vname, "f4", ("y", "x"), **comp)
            v.setncatts(
                {
                    "standard_name": std,
                    "long_name": std.capitalize(),
                    "units": "degrees_north" if std == "latitude" else "degrees_east",
                }
            )
            v[:] = data
        v = ds.createVariable("deptht", "f4", ("deptht",))
        v.setncatts(
            {
                "name": "deptht",
                "long_name": "Vertical T levels",
                "units": "m",
                "positive": "down",
                "bounds": "deptht_bounds",
            }
        )
        v[:] = depth
        b = ds.createVariable("deptht_bounds", "f4", ("deptht", "axis_nbounds"))
        edges = np.concatenate([[0.0], (depth[1:] + depth[:-1]) / 2, [depth[-1] * 1.05]])
        b[:] = np.stack([edges[:-1], edges[1:]], axis=1)
        seconds = centres * 86400.0
        for tname in ("time_centered", "time_counter"):
            t = ds.createVariable(tname, "f8", ("time_counter",))
            t.setncatts(
                {
                    "standard_name": "time",
                    "long_name": "Time axis",
                    "calendar": spec.calendar,
                    "units": units,
                    "time_origin": f"{spec.start_year:04d}-01-01 00:00:00",
                    "bounds": f"{tname}_bounds",
                }
            )
            t[:] = seconds
            tb = ds.createVariable(f"{tname}_bounds", "f8", ("time_counter", "axis_nbounds"))
            tb[:] = np.stack([seconds - half * 86400.0, seconds + half * 86400.0], axis=1)
        _write_fields(ds, spec, land, depth, base_t, centres, rng, comp)


def _write_fields(
    ds: object,
    spec: NemoSpec,
    land: np.ndarray,
    depth: np.ndarray,
    base_t: np.ndarray,
    centres: np.ndarray,
    rng: np.random.Generator,
    comp: dict[str, object],
) -> None:
    nt, nz, ny, nx = len(centres), spec.nz, spec.ny, spec.nx
    common = {"fill_value": FILL, **comp}
    specs = {
        "thetao": (("time_counter", "deptht", "y", "x"), "sea_water_potential_temperature", "degC"),
        "so": (("time_counter", "deptht", "y", "x"), "sea_water_salinity", "1e-3"),
        "tos": (("time_counter", "y", "x"), "sea_surface_temperature", "degC"),
        "zos": (("time_counter", "y", "x"), "sea_surface_height_above_geoid", "m"),
    }
    variables = {}
    for name, (dims, std, unit) in specs.items():
        chunks = (1, 1, ny, nx) if len(dims) == 4 else (1, ny, nx)
        v = ds.createVariable(name, "f4", dims, chunksizes=chunks, **common)  # type: ignore[attr-defined]
        v.setncatts(
            {
                "standard_name": std,
                "long_name": std.replace("_", " "),
                "units": unit,
                "online_operation": "average",
                "interval_operation": "1 h",
                "interval_write": "1 month" if spec.frequency == "1m" else "1 d",
                "cell_methods": "time: mean (interval: 1 h)",
                "coordinates": "time_centered nav_lat nav_lon",
            }
        )
        variables[name] = v
    decay = np.exp(-depth / 800.0)[:, None, None]
    for t in range(nt):
        season = np.float32(2.0 * np.sin(2 * np.pi * centres[t] / 365.0))
        noise = rng.standard_normal((nz, ny, nx), dtype="f4") * np.float32(0.05)
        theta = (base_t[None] + season) * decay + 1.0 + noise
        salt = 34.5 + 0.5 * (1 - decay) + noise * 0.2
        variables["thetao"][t] = np.where(land, FILL, theta).astype("f4")
        variables["so"][t] = np.where(land, FILL, salt).astype("f4")
        variables["tos"][t] = np.where(land[0], FILL, theta[0]).astype("f4")
        zos = 0.5 * np.sin(np.deg2rad(base_t * 10)) + 0.1 * season + noise[0]
        variables["zos"][t] = np.where(land[0], FILL, zos).astype("f4")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: ``python -m jasmin_access.samples DIR [options]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--frequency", choices=["1m", "1d"], default="1m")
    parser.add_argument("--calendar", default="gregorian")
    parser.add_argument("--eorca1", action="store_true", help="full eORCA1 grid (75 x 331 x 360)")
    args = parser.parse_args(argv)
    base = NemoSpec.eorca1() if args.eorca1 else NemoSpec()
    spec = NemoSpec(
        **{
            **base.__dict__,
            "months": args.months,
            "frequency": args.frequency,
            "calendar": args.calendar,
        }
    )
    for path in write_nemo_set(args.directory, spec):
        print(path)


if __name__ == "__main__":
    main()
