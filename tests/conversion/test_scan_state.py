"""The scan: one read per file, the same answer locally and on S3, kept exactly in the run state."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from jasmin_access.conversion.runstate import load_scan, save_scan, scan_key
from jasmin_access.conversion.scan import Inventory, scan
from jasmin_access.conversion.sources import expand_sources
from jasmin_access.errors import InvalidInput
from jasmin_access.stores import resolve
from jasmin_access.timecoord import values_equal
from tests.data import producers
from tests.s3proxy import S3Proxy

from .helpers import assert_attrs_equal


def _assert_same_inventory(got: Inventory, want: Inventory) -> None:
    assert [r.url for r in got.sources] == [r.url for r in want.sources]
    assert list(got.groups) == list(want.groups)
    for path, w in want.groups.items():
        g = got.groups[path]
        assert (g.record_dim, g.counts, g.time_name) == (w.record_dim, w.counts, w.time_name)
        assert (g.units, g.calendars) == (w.units, w.calendars)
        assert_attrs_equal(g.attrs, w.attrs, f"group {path!r}")
        for name in ("record_values", "time_values"):
            a, b = getattr(g, name), getattr(w, name)
            assert (a is None) == (b is None) and (a is None or values_equal(a, b)), name
            assert a is None or a.dtype == b.dtype, name
        assert list(g.variables) == list(w.variables)
        for n, v in w.variables.items():
            mine = g.variables[n]
            assert (mine.dims, mine.shape, mine.dtype) == (v.dims, v.shape, v.dtype), n
            assert_attrs_equal(mine.attrs, v.attrs, n)
            for key, value in v.attrs.items():  # numpy types survive (fill values, packing)
                assert type(mine.attrs[key]) is type(value), f"{n}.{key}"


def _sets(root: Path, nemo_files: list[Path]) -> dict[str, list[Path]]:
    return {
        "nemo": nemo_files,
        "xios": producers.xios_monthly(root / "xios"),
        "stations-strings": producers.station_series(root / "stations"),
        "iris-um": producers.um_iris(root / "um"),
    }


@pytest.mark.parametrize("case", ["nemo", "xios", "stations-strings", "iris-um"])
def test_saved_scan_reads_back_exactly(case: str, nemo_files: list[Path], tmp_path: Path) -> None:
    files = _sets(tmp_path, nemo_files)[case]
    refs = expand_sources([str(f) for f in files])
    inventory = scan(refs)
    loc = resolve(str(tmp_path / "out.zarr"), write=True)
    key = scan_key(refs, {})
    save_scan(loc.fs, loc.path, key, inventory)
    back = load_scan(loc.fs, loc.path, key, refs)
    assert back is not None and back.cached
    _assert_same_inventory(back, inventory)
    assert load_scan(loc.fs, loc.path, scan_key(refs, {"concat_dim": "x"}), refs) is None
    assert load_scan(loc.fs, loc.path, scan_key(refs[::-1], {}), refs[::-1]) is None


@pytest.fixture(params=[None, 4096], ids=["whole", "blocks"])
def block(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int | None:
    """The header block size: the default (small files read whole) or 4 KiB (in blocks)."""
    from jasmin_access.conversion import headers

    if request.param:
        monkeypatch.setattr(headers, "HEADER_BLOCK", request.param)
    return request.param


def test_s3_scan_equals_local_scan_with_one_get_per_small_file(
    block: int | None,
    nemo_files: list[Path],
    s3_proxy: S3Proxy,
    proxied_profile: str,
    tmp_path: Path,
) -> None:
    """Small files are read whole by one GET; larger ones (a 4 KiB block) through h5netcdf."""
    from jasmin_access.conversion import headers

    files = _sets(tmp_path, nemo_files)["xios"]
    bucket = f"scan-counted-{block or 0}"
    loc = resolve(f"s3://{bucket}", profile=proxied_profile)
    loc.fs.mkdir(bucket)
    loc.fs.put([str(f) for f in files], f"{bucket}/x/")
    local = scan(expand_sources([str(f) for f in files]))
    loc.fs.invalidate_cache()
    s3_proxy.reset()
    remote = scan(expand_sources(f"s3://{bucket}/x/*.nc", profile=proxied_profile))
    gets, heads = s3_proxy.count(kind="get"), s3_proxy.count(kind="head")
    assert [r.name for r in remote.sources] == [r.name for r in local.sources]
    for path, want in local.groups.items():
        got = remote.groups[path]
        assert (got.counts, got.time_name, got.units) == (want.counts, want.time_name, want.units)
        assert values_equal(got.time_values, want.time_values)
        for n, v in want.variables.items():
            assert (got.variables[n].dims, got.variables[n].dtype) == (v.dims, v.dtype), n
            assert_attrs_equal(got.variables[n].attrs, v.attrs, n)
    assert heads == 0
    if block is None:  # the files are smaller than one header block: one ranged GET each
        assert max(f.stat().st_size for f in files) < headers.HEADER_BLOCK
        assert gets == len(files), gets  # each fetched whole by one GET
    else:  # files over several blocks: read through h5netcdf by further ranged GETs
        assert gets > len(files), gets


def test_a_bad_file_among_many_is_named(tmp_path: Path, nemo_files: list[Path]) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    names = []
    for i in range(40):
        target = folder / f"part_{i:03d}.nc"
        shutil.copy(nemo_files[0], target)
        names.append(str(target))
    Path(names[23]).write_bytes(Path(nemo_files[0]).read_bytes()[:4000])  # truncated
    with pytest.raises(InvalidInput) as info:
        scan(expand_sources(names))
    assert "part_023.nc" in str(info.value) and "not a readable NetCDF" in str(info.value)


def test_scan_reads_each_file_once(
    nemo_files: list[Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import netCDF4

    from jasmin_access.conversion import sources

    opened: list[str] = []
    real = netCDF4.Dataset

    def counting(path: str, *args: object, **kwargs: object) -> object:
        opened.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(netCDF4, "Dataset", counting)
    sources.close_all()
    files = [str(f) for f in nemo_files[::-1]]  # given out of order: sorted by time
    inventory = scan(expand_sources(files))
    assert inventory.sources[0].url.endswith(Path(nemo_files[0]).name)
    # one open per file, plus the file that turned out to be first (its attributes)
    assert sorted(set(opened)) == sorted(files) and len(opened) <= len(files) + 1, opened
    assert np.all(np.diff(inventory.groups[""].time_values) > 0)


def test_a_refused_remote_source_is_named(
    nemo_files: list[Path], s3_proxy: S3Proxy, proxied_profile: str
) -> None:
    from jasmin_access.errors import JasminAccessError

    fs = resolve("s3://scan-refused", profile=proxied_profile).fs
    fs.mkdir("scan-refused")
    fs.put([str(f) for f in nemo_files], "scan-refused/x/")
    refs = expand_sources("s3://scan-refused/x/*.nc", profile=proxied_profile)
    s3_proxy.fail(method="GET", path=f"/scan-refused/x/{Path(nemo_files[1]).name}")
    with pytest.raises(JasminAccessError) as info:
        scan(refs)
    assert Path(nemo_files[1]).name in str(info.value), info.value
    assert "denied" in str(info.value).lower(), info.value


@pytest.mark.parametrize("block", [None, 512])
def test_netcdf3_on_s3_scans_as_locally(
    block: int | None,
    feature_files: Callable[..., list[Path]],
    proxied_profile: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NetCDF3 files: whole in the first block, or larger (read through xarray's scipy engine)."""
    from jasmin_access.conversion import headers

    if block:
        monkeypatch.setattr(headers, "HEADER_BLOCK", block)
    files = feature_files("NETCDF3_64BIT_OFFSET", nfiles=3)
    assert block is None or min(f.stat().st_size for f in files) > block
    bucket = f"scan-nc3-{block or 0}"
    fs = resolve(f"s3://{bucket}", profile=proxied_profile).fs
    fs.mkdir(bucket)
    fs.put([str(f) for f in files], f"{bucket}/x/")
    local = scan(expand_sources([str(f) for f in files]))
    remote = scan(expand_sources(f"s3://{bucket}/x/*.nc", profile=proxied_profile))
    assert [r.name for r in remote.sources] == [r.name for r in local.sources]
    for path, want in local.groups.items():
        got = remote.groups[path]
        assert (got.counts, got.time_name) == (want.counts, want.time_name)
        assert values_equal(got.time_values, want.time_values)
        for n, v in want.variables.items():
            assert (got.variables[n].dims, got.variables[n].dtype) == (v.dims, v.dtype), n
            assert_attrs_equal(got.variables[n].attrs, v.attrs, n)


def test_a_source_replaced_after_listing_is_named_as_changed(
    block: int | None, nemo_files: list[Path], proxied_profile: str, tmp_path: Path
) -> None:
    """Read whole (small) or in blocks: a listed size gone stale is not blamed on the file."""
    import xarray as xr

    bucket = f"scan-replaced-{block or 0}"
    fs = resolve(f"s3://{bucket}", profile=proxied_profile).fs
    fs.mkdir(bucket)
    fs.put([str(f) for f in nemo_files], f"{bucket}/x/")
    refs = expand_sources(f"s3://{bucket}/x/*.nc", profile=proxied_profile)
    bigger = tmp_path / "bigger.nc"  # a larger NetCDF-4 file under the same name
    xr.Dataset({"v": ("n", np.arange(60_000.0))}).to_netcdf(bigger, engine="netcdf4")
    name = Path(nemo_files[1]).name
    assert bigger.stat().st_size > Path(nemo_files[1]).stat().st_size
    fs.put(str(bigger), f"{bucket}/x/{name}")
    with pytest.raises(InvalidInput) as info:
        scan(refs)
    text = str(info.value)
    assert name in text and "changed while the sources were scanned" in text, text
    assert "not a readable NetCDF" not in text
