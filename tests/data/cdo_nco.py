"""Files written by CDO and NCO (Debian packages ``cdo`` and ``nco``) from one daily base file.

* :func:`cdo_nco_set`: 64-bit offset and CDF5 formats (``ncks -6``/``-5``),
  ``ncpdq`` packing to int16 then ``ncks -d`` record slices, ``cdo splityear``
  across a year boundary, NCO's long ``history`` grown by many edits.
* :func:`packed_separately`: halves packed one by one, so their packing
  attributes differ (a real mismatch the converter must refuse).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import netCDF4
import numpy as np

from .producers import _field

__all__ = ["cdo_nco_set", "packed_separately"]


# --------------------------------------------------------------------------- CDO / NCO


def _daily_base(path: Path) -> Path:
    units = "days since 2014-01-01 00:00:00"
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.setncatts({"Conventions": "CF-1.6", "history": "created as a CDO/NCO input"})
        ds.createDimension("time", None)
        ds.createDimension("lat", 4)
        ds.createDimension("lon", 6)
        t = ds.createVariable("time", "f8", ("time",))
        t.setncatts({"standard_name": "time", "units": units, "calendar": "standard", "axis": "T"})
        t[:] = 350.5 + np.arange(30.0)  # 2014-12-17 .. 2015-01-15
        lat = ds.createVariable("lat", "f8", ("lat",))
        lat.setncatts({"standard_name": "latitude", "units": "degrees_north", "axis": "Y"})
        lat[:] = np.linspace(45, 60, 4)
        lon = ds.createVariable("lon", "f8", ("lon",))
        lon.setncatts({"standard_name": "longitude", "units": "degrees_east", "axis": "X"})
        lon[:] = np.linspace(-20, 5, 6)
        sst = ds.createVariable("sst", "f4", ("time", "lat", "lon"), fill_value=np.float32(-9e33))
        sst.setncatts({"standard_name": "sea_surface_temperature", "units": "K"})
        sst[:] = _field((30, 4, 6), 285.0)
    return path


def _run(*cmd: str | Path) -> None:
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True)


def cdo_nco_set(root: Path) -> dict[str, list[Path]]:
    """Files written by CDO and NCO from one daily base file (empty when neither is installed).

    Keys: ``cdf5`` and ``offset64`` (whole file, NCO), ``packed`` (``ncpdq``,
    int16, then split by ``ncks -d``), ``splityear`` (``cdo -f nc2 splityear``:
    64-bit offset files for 2014 and 2015), ``long_history`` (NCO history
    grown by many edits).
    """
    work = root / "work"
    work.mkdir(parents=True, exist_ok=True)
    base = _daily_base(work / "base.nc")
    out: dict[str, list[Path]] = {}
    if shutil.which("ncks"):
        out["cdf5"] = [root / "cdf5.nc"]
        _run("ncks", "-O", "-5", base, out["cdf5"][0])
        out["offset64"] = [root / "offset64.nc"]
        _run("ncks", "-O", "-6", base, out["offset64"][0])
        packed = work / "packed_all.nc"
        _run("ncpdq", "-O", "-P", "all_new", base, packed)
        out["packed"] = [root / "packed_1.nc", root / "packed_2.nc"]
        _run("ncks", "-O", "-d", "time,0,13", packed, out["packed"][0])
        _run("ncks", "-O", "-d", "time,14,", packed, out["packed"][1])
        long = root / "long_history.nc"
        _run("ncks", "-O", "-3", base, long)
        for i in range(40):
            _run(
                "ncatted",
                "-O",
                "-a",
                f"edit_{i},global,o,c,step {i} of a long processing chain",
                long,
            )
        out["long_history"] = [long]
    if shutil.which("cdo"):
        _run("cdo", "-s", "-f", "nc2", "splityear", base, root / "cdo_")
        out["splityear"] = sorted(root.glob("cdo_*.nc"))
    return out


def packed_separately(root: Path) -> list[Path]:
    """Two halves packed one by one by ``ncpdq``: packing attributes differ (a real mismatch)."""
    work = root / "work"
    work.mkdir(parents=True, exist_ok=True)
    base = _daily_base(work / "base.nc")
    halves = [work / "half_1.nc", work / "half_2.nc"]
    _run("ncks", "-O", "-d", "time,0,13", base, halves[0])
    _run("ncks", "-O", "-d", "time,14,", base, halves[1])
    out = [root / "sep_1.nc", root / "sep_2.nc"]
    for half, packed in zip(halves, out, strict=True):
        _run("ncpdq", "-O", "-P", "all_new", half, packed)
    return out
