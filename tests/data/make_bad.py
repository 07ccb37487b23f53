"""Generate the bad-input corpus: files and stores that commands must refuse cleanly.

Every case is made from a small valid NEMO-like set (``jasmin_access.samples``)
so nothing binary needs to be committed::

    from tests.data.make_bad import make_corpus
    cases = make_corpus(tmp_path)          # name -> path of the bad input

The names are the keys of :data:`CASES` (``truncated.nc``, ``plain.h5.nc`` ...).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import netCDF4
import numpy as np

from jasmin_access.samples import NemoSpec, write_nemo_set

__all__ = ["CASES", "make_corpus", "nemo_pair", "zarr_store"]

SPEC = NemoSpec(months=2, nx=8, ny=6, nz=2)


def nemo_pair(root: Path, **spec: object) -> list[Path]:
    """Two valid monthly files in ``root`` (the base of most cases)."""
    root.mkdir(parents=True, exist_ok=True)
    kw = {**SPEC.__dict__, **spec}
    return write_nemo_set(root, NemoSpec(**kw))  # type: ignore[arg-type]


def truncated(root: Path) -> Path:
    """A NetCDF file cut in half (an interrupted copy)."""
    good = nemo_pair(root / "src")[0]
    out = root / "truncated.nc"
    data = good.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def plain_hdf5(root: Path) -> Path:
    """An HDF5 file that is not NetCDF (no dimension scales, a bare dataset)."""
    import h5py

    out = root / "plain.h5.nc"
    with h5py.File(out, "w") as f:
        f.create_dataset("counts", data=np.arange(12).reshape(3, 4))
        f.attrs["title"] = "not netcdf"
    return out


def text_file(root: Path) -> Path:
    """A text file named ``.nc``."""
    out = root / "notes.nc"
    out.write_text("This is a README saved with the wrong name.\n")
    return out


def mismatched_grids(root: Path) -> Path:
    """Two files whose horizontal grids differ (8 x 6 against 9 x 6)."""
    first = nemo_pair(root / "grids", months=1)[0]
    other = nemo_pair(root / "grids-b", months=1, nx=9, start_year=1977)[0]
    shutil.move(other, first.parent / other.name)
    return first.parent


def no_record_dim(root: Path) -> Path:
    """Two files without any record (unlimited or time) dimension."""
    out = root / "norecord"
    out.mkdir()
    for i in range(2):
        with netCDF4.Dataset(out / f"static_{i}.nc", "w") as ds:
            ds.createDimension("y", 3)
            ds.createDimension("x", 4)
            v = ds.createVariable("depth", "f4", ("y", "x"))
            v[:] = np.full((3, 4), float(i), dtype="f4")
    return out


def non_monotonic(root: Path) -> Path:
    """Two files, the second with its time steps going backwards.

    (Files given out of order are sorted by time; steps out of order inside a
    file cannot be.)
    """
    out = root / "backwards"
    files = nemo_pair(root / "bw-src", frequency="1d")
    out.mkdir()
    shutil.copy(files[0], out / "part1_grid_T.nc")
    shutil.copy(files[1], out / "part2_grid_T.nc")
    with netCDF4.Dataset(out / "part2_grid_T.nc", "a") as ds:
        ds["time_counter"][:] = ds["time_counter"][::-1]
    return out


def zarr_store(root: Path, name: str = "good.zarr") -> Path:
    """A small valid Zarr v3 store converted from a NEMO pair (local path)."""
    from jasmin_access.conversion import convert

    files = nemo_pair(root / f"{name}-src")
    out = root / name
    convert([str(f) for f in files], str(out))
    return out


def unknown_codec(root: Path) -> Path:
    """A Zarr store whose ``thetao`` metadata names a codec nobody has."""
    out = zarr_store(root, "codec.zarr")
    unknown = {"name": "nosuchcodec", "configuration": {}}
    meta = out / "thetao" / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["codecs"][-1] = unknown
    meta.write_text(json.dumps(doc))
    meta = out / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["consolidated_metadata"]["metadata"]["thetao"]["codecs"][-1] = unknown
    meta.write_text(json.dumps(doc))
    return out


def missing_chunks(root: Path) -> Path:
    """A Zarr store with one chunk of ``thetao`` deleted (sources kept beside it)."""
    out = zarr_store(root, "holes.zarr")
    chunk = sorted(p for p in (out / "thetao" / "c").rglob("*") if p.is_file())[0]
    chunk.unlink()
    return out


def corrupt_metadata(root: Path) -> Path:
    """A Zarr store whose root ``zarr.json`` is cut mid-way (not JSON)."""
    out = zarr_store(root, "corrupt.zarr")
    meta = out / "zarr.json"
    meta.write_text(meta.read_text()[:40])
    return out


CASES: dict[str, Callable[[Path], Path]] = {
    "truncated.nc": truncated,
    "plain.h5.nc": plain_hdf5,
    "notes.nc": text_file,
    "mismatched-grids": mismatched_grids,
    "no-record-dim": no_record_dim,
    "non-monotonic": non_monotonic,
    "unknown-codec.zarr": unknown_codec,
    "missing-chunks.zarr": missing_chunks,
    "corrupt-metadata.zarr": corrupt_metadata,
}


def make_corpus(root: Path) -> dict[str, Path]:
    """Write every case under ``root``; returns case name -> path."""
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, make in CASES.items():
        here = root / name.replace(".", "_")
        here.mkdir()
        out[name] = make(here)
    return out


if __name__ == "__main__":  # python -m tests.data.make_bad [DIR] (default tests/data/bad)
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "bad")
    for case, where in make_corpus(target).items():
        print(f"{case}: {where}")
