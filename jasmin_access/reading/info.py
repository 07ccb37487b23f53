"""A dataset summary: dims, variables, chunks, codecs, stored vs uncompressed bytes, time range.

Works on Zarr stores (from their consolidated metadata plus one listing for the
stored sizes) and on NetCDF4 objects (from the HDF5 headers, read by ranges).
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, translating
from ..stores import Location, resolve
from .netcdf import is_netcdf

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["DatasetInfo", "VariableInfo", "info"]

log = logging.getLogger(__name__)


@dataclass
class VariableInfo:
    """One variable of a :class:`DatasetInfo`."""

    name: str
    dtype: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    chunks: tuple[int, ...] | None
    codecs: list[str]
    nbytes: int
    stored_bytes: int | None = None
    shards: tuple[int, ...] | None = None


@dataclass
class DatasetInfo:
    """Summary of a Zarr store or NetCDF object (see :func:`info`)."""

    url: str
    format: str
    dims: dict[str, int]
    variables: list[VariableInfo]
    stored_bytes: int | None
    nbytes: int
    time_start: str | None = None
    time_end: str | None = None
    calendar: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    time_variable: str | None = None

    @property
    def ratio(self) -> float | None:
        """Uncompressed / stored bytes."""
        return self.nbytes / self.stored_bytes if self.stored_bytes else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    def _rows(self) -> list[tuple[str, ...]]:
        rows = []
        for v in self.variables:
            rows.append(
                (
                    v.name,
                    v.dtype,
                    f"({', '.join(v.dims)})",
                    "x".join(map(str, v.shape)) or "scalar",
                    "x".join(map(str, v.chunks)) if v.chunks else "-",
                    ", ".join(v.codecs) or "-",
                    _size(v.stored_bytes),
                    _size(v.nbytes),
                )
            )
        return rows

    def __str__(self) -> str:
        return self.text()

    def text(self, width: int | None = None) -> str:
        """The summary as text; with ``width``, the table is made to fit that many columns.

        Codec parameters go first (``blosc`` instead of ``blosc(cname=zstd,...)``),
        then the codecs column.
        """
        dims = ", ".join(f"{k}: {n}" for k, n in self.dims.items())
        lines = [f"{self.url} ({self.format})", f"dims: {dims}"]
        if self.time_start:
            source = f", from {self.time_variable}" if self.time_variable not in self.dims else ""
            lines.append(f"time: {self.time_start} .. {self.time_end} ({self.calendar}{source})")
        ratio = f" (x{self.ratio:.2f})" if self.ratio else ""
        sizes = f"stored: {_size(self.stored_bytes)}, uncompressed: {_size(self.nbytes)}"
        lines.append(sizes + ratio)
        header = ("variable", "dtype", "dims", "shape", "chunks", "codecs", "stored", "raw")
        rows = [header, *self._rows()]
        table = _table(rows)
        if width and max(map(len, table)) > width:  # codec names only
            rows = [(*r[:5], re.sub(r"\([^)]*\)", "", r[5]), *r[6:]) for r in rows]
            table = _table(rows)
        if width and max(map(len, table)) > width:  # no codecs column
            table = _table([(*r[:5], *r[6:]) for r in rows])
        if width and max(map(len, table)) > width:  # dims and chunks on a line of their own
            short = _table([(r[0], r[1], r[3], r[6], r[7]) for r in rows])
            table = short[:1] + [
                line
                for row, text in zip(rows[1:], short[1:], strict=True)
                for line in (text, f"    {row[2]}, chunks {row[4]}")
            ]
        return "\n".join(lines + table)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(
            f"<th>{h}</th>"
            for h in ("variable", "dtype", "dims", "shape", "chunks", "codecs", "stored", "raw")
        )
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in self._rows()
        )
        dims = ", ".join(f"{esc(k)}: {n}" for k, n in self.dims.items())
        time = (
            f"<br>time: {esc(str(self.time_start))} .. {esc(str(self.time_end))}"
            if self.time_start
            else ""
        )
        return (
            f"<div><b>{esc(self.url)}</b> ({esc(self.format)})<br>dims: {dims}{time}<br>"
            f"stored {esc(_size(self.stored_bytes))}, uncompressed {esc(_size(self.nbytes))}"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        )


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def _codec_text(codec: Any) -> str:
    if hasattr(codec, "to_dict"):
        d = codec.to_dict()
        name, cfg = d.get("name", type(codec).__name__), dict(d.get("configuration") or {})
    elif hasattr(codec, "get_config"):
        cfg = dict(codec.get_config())
        name = cfg.pop("id", type(codec).__name__)
    else:
        return type(codec).__name__
    keep = {k: v for k, v in cfg.items() if isinstance(v, (int, float, str)) and k != "typesize"}
    args = ",".join(f"{k}={v}" for k, v in keep.items())
    return f"{name}({args})" if args else str(name)


def _time_range(ds: xr.Dataset) -> dict[str, Any]:
    """First and last date of the time coordinate (none when no coordinate holds dates)."""
    from .subset import time_coordinate, time_index

    name = time_coordinate(ds)
    if name is None or ds[name].size == 0:
        return {}
    index = time_index(ds, name)
    calendar = ds[name].encoding.get("calendar") or getattr(index, "calendar", None)
    return {
        "time_start": str(index[0]),
        "time_end": str(index[-1]),
        "calendar": calendar,
        "time_variable": name,
    }


def _zarr_info(location: Location, version: Any = None) -> DatasetInfo:
    import xarray as xr
    import zarr

    from .metainfo import stored_sizes
    from .zstore import open_metadata, read_store

    url = location.url if version is None else f"{location.url}@{version.manifest.id}"
    store, root = open_metadata(version or read_store(location), url)
    fmt = 3 if b'"zarr_format": 3' in root or b'"zarr_format":3' in root else 2
    group = zarr.open_group(store, mode="r", zarr_format=fmt, use_consolidated=True)
    if version is None:
        stored = stored_sizes(location)
    else:
        from ..datastore.zstore import stored_by_array

        stored = stored_by_array(version.manifest)
    ds = xr.open_zarr(store, zarr_format=fmt, consolidated=None, chunks=None)
    variables = []
    for name, arr in sorted(group.arrays()):
        codecs = [*arr.filters, *([arr.serializer] if fmt == 3 else []), *arr.compressors]
        dims = tuple(map(str, ds[name].dims)) if name in ds.variables else ()
        variables.append(
            VariableInfo(
                name=name,
                dtype=str(arr.dtype),
                dims=dims,
                shape=tuple(arr.shape),
                chunks=tuple(arr.chunks),
                codecs=[_codec_text(c) for c in codecs if c is not None],
                nbytes=int(arr.nbytes),
                stored_bytes=stored.get(name, 0),
                shards=tuple(arr.shards) if getattr(arr, "shards", None) else None,
            )
        )
    return DatasetInfo(
        url=url,
        format=f"zarr v{fmt}",
        dims={str(k): int(v) for k, v in ds.sizes.items()},
        variables=variables,
        stored_bytes=sum(stored.values()),
        nbytes=sum(v.nbytes for v in variables),
        **_time_range(ds),
        attrs=dict(group.attrs),
    )


def _h5_codecs(var: Any) -> list[str]:
    out = []
    if var.shuffle:
        out.append("shuffle")
    if var.compression:
        level = var.compression_opts
        out.append(f"{var.compression}({level})" if level is not None else var.compression)
    if var.fletcher32:
        out.append("fletcher32")
    return out


def _netcdf_info(location: Location) -> DatasetInfo:
    import h5netcdf
    import numpy as np

    from .netcdf import open_netcdf, open_netcdf_file

    with translating("reading", location.url, location.profile_name):
        size = int(location.fs.info(location.path)["size"])
        with h5netcdf.File(open_netcdf_file(location), "r", phony_dims="sort") as f:
            variables = []
            for name, var in sorted(f.variables.items()):
                nbytes = int(np.prod(var.shape, dtype="i8")) * var.dtype.itemsize
                stored = int(var._h5ds.id.get_storage_size())
                variables.append(
                    VariableInfo(
                        name=name,
                        dtype=str(var.dtype),
                        dims=tuple(var.dimensions),
                        shape=tuple(var.shape),
                        chunks=tuple(var.chunks) if var.chunks else None,
                        codecs=_h5_codecs(var),
                        nbytes=nbytes,
                        stored_bytes=stored,
                    )
                )
            dims = {str(k): int(d.size) for k, d in f.dimensions.items()}
            attrs = dict(f.attrs)
        ds = open_netcdf([location], chunks=None)
    plain = any(name.startswith("phony_dim_") for name in dims)  # HDF5 without dimensions
    return DatasetInfo(
        url=location.url,
        format="hdf5" if plain else "netcdf4",
        dims=dims,
        variables=variables,
        stored_bytes=size,
        nbytes=sum(v.nbytes for v in variables),
        **_time_range(ds),
        attrs={k: (v.item() if hasattr(v, "item") else v) for k, v in attrs.items()},
    )


def _ref_size(value: Any) -> int:
    if isinstance(value, list):
        return int(value[2]) if len(value) == 3 else 0
    return len(value)


def _index_info(location: Location) -> DatasetInfo:
    import json

    import numpy as np

    from .index import load_index, open_index

    refs = load_index(location)["refs"]
    variables = []
    for key in sorted(k for k in refs if k.endswith("/.zarray")):
        name = key[: -len("/.zarray")]
        meta = json.loads(refs[key])
        attrs = json.loads(refs.get(f"{name}/.zattrs", "{}"))
        codecs = [f.get("id", "?") for f in meta.get("filters") or []]
        if meta.get("compressor"):
            codecs.append(meta["compressor"].get("id", "?"))
        stored = sum(
            _ref_size(v) for k, v in refs.items() if k.startswith(f"{name}/") and "/." not in k
        )
        shape = tuple(meta["shape"])
        variables.append(
            VariableInfo(
                name=name,
                dtype=str(np.dtype(meta["dtype"])),
                dims=tuple(attrs.get("_ARRAY_DIMENSIONS", [])),
                shape=shape,
                chunks=tuple(meta["chunks"]),
                codecs=codecs,
                nbytes=int(np.prod(shape, dtype="i8")) * np.dtype(meta["dtype"]).itemsize,
                stored_bytes=stored,
            )
        )
    ds = open_index(location, chunks=None, verify=False)
    return DatasetInfo(
        url=location.url,
        format="kerchunk index",
        dims={str(k): int(v) for k, v in ds.sizes.items()},
        variables=variables,
        stored_bytes=sum(v.stored_bytes or 0 for v in variables),
        nbytes=sum(v.nbytes for v in variables),
        **_time_range(ds),
        attrs=dict(ds.attrs),
    )


def info(
    url: str,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> DatasetInfo:
    """Summarise a Zarr store, NetCDF object or index without reading its data.

    Parameters
    ----------
    url
        Store or object URL.
    profile, endpoint_url, anon
        Store access.

    Returns
    -------
    DatasetInfo
        Dims, variables (dtype, shape, chunks, codecs), stored and uncompressed
        bytes, time range in the dataset's calendar.  Printable; renders as
        HTML in notebooks; ``.as_dict()`` for JSON.
    """
    from ..datastore.reading import has_selector, open_version
    from .metainfo import metadata_info

    kw = {"profile": profile, "endpoint_url": endpoint_url, "anon": anon}
    if has_selector(url):
        return _version_info(url, False, kw)
    location = resolve(url, **kw)
    if is_netcdf(location.path):
        return _netcdf_info(location)
    if location.path.endswith(".json"):
        return _index_info(location)
    fast = _fast(lambda: metadata_info(location))
    if fast is not None:
        return fast
    if location.key:  # no store here: maybe a datastore, summarised from its latest version
        with contextlib.suppress(NotFound):  # then the xarray path says what is missing
            fast = _fast(lambda: _metadata_version_info(url, kw))
        if fast is not None:
            return fast
    try:
        return _zarr_info(location)
    except NotFound:
        if not location.key:
            raise
        found = open_version(url, check_marker=True, **kw)
        if found is None:
            raise
        return _zarr_info(found[1], found[0])


def _fast(summarise: Callable[[], DatasetInfo | None]) -> DatasetInfo | None:
    """The metadata-only summary; None where the xarray-based path must make it."""
    from .metainfo import Unsupported

    try:
        return summarise()
    except Unsupported as exc:
        log.debug("info from xarray: %s", exc)
        return None


def _metadata_version_info(url: str, kw: dict[str, Any]) -> DatasetInfo | None:
    """A datastore version from its manifest (None when ``url`` names no version)."""
    from ..datastore.repo import open_datastore
    from .metainfo import stored_by_array, version_info

    ds, selector = open_datastore(url, **kw)
    if selector is not None:
        vid = ds.select(selector)
    else:
        ids = ds.version_ids()
        if not ids:
            return None
        vid = ids[-1]
    manifest = ds.manifest(vid)
    stored = stored_by_array(manifest.keys, manifest.sizes)
    return version_info(f"{ds.location.url}@{manifest.id}", manifest.metadata, stored)


def _version_info(url: str, check_marker: bool, kw: dict[str, Any]) -> DatasetInfo:
    from ..datastore.reading import open_version

    fast = _fast(lambda: _metadata_version_info(url, kw))
    if fast is not None:
        return fast
    found = open_version(url, check_marker=check_marker, **kw)
    assert found is not None
    return _zarr_info(found[1], found[0])
