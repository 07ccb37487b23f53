"""Coordinates read when first used, so that opening a store costs one request.

xarray reads every dimension coordinate when it opens a store (to build its
pandas indexes) and the first and last value of every variable with time units
(to check that they decode): on a consolidated store that is one more GET per
coordinate chunk after the metadata, each a round trip on a remote store.  Here
both wait until they are needed:

- :class:`LazyIndex` is xarray's own :class:`~xarray.indexes.PandasIndex`,
  built from the coordinate's values the first time an operation needs it
  (``sel``, ``isel``, alignment, ``ds.indexes``).  The coordinate's values are
  read once, for the index and for ``.values`` alike.
- :class:`LazyTimeCoder` is xarray's CF datetime decoding without the probe:
  the decoded dtype is that of the units' reference date, decoded the same way.
  Dates that do not fit that dtype (a standard calendar beyond the range of
  ``datetime64[ns]``) fail with a message saying to open with
  ``use_cftime=True`` when they are read.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from functools import partial
from typing import Any

import numpy as np
import xarray as xr
from xarray.coding.times import CFDatetimeCoder, decode_cf_datetime
from xarray.coding.variables import lazy_elemwise_func, pop_to, unpack_for_decoding
from xarray.core import indexing
from xarray.core.indexes import PandasIndex, safe_cast_to_index

__all__ = ["LazyIndex", "LazyTimeCoder", "ReadOnce", "decode_lazily", "with_lazy_indexes"]


class LazyIndex(PandasIndex):
    """A :class:`~xarray.indexes.PandasIndex` whose values are read on first use.

    Operations that only carry the index along (copying, selecting variables,
    chunking other variables) keep it unread; anything that looks at its values
    reads them once and from then on it is an ordinary ``PandasIndex``.
    """

    __slots__ = ("_index", "_name", "_variable")

    @classmethod
    def of(cls, name: Hashable, variable: xr.Variable) -> LazyIndex:
        """The index of the 1-D coordinate ``variable`` named ``name``, unread."""
        obj = cls.__new__(cls)
        obj._index = None
        obj._name = name
        obj._variable = variable
        obj.dim = variable.dims[0]
        obj.coord_dtype = variable.dtype
        return obj

    @property  # type: ignore[override]
    def index(self) -> Any:
        """The pandas index (its values are read on first access)."""
        if self._index is None:
            index = safe_cast_to_index(self._variable).copy()
            index.name = self._name
            self._index = index
        return self._index

    @index.setter
    def index(self, value: Any) -> None:
        self._index = value

    @property
    def loaded(self) -> bool:
        """True once the values have been read."""
        return self._index is not None

    def _replace(self, index: Any, dim: Any = None, coord_dtype: Any = None) -> PandasIndex:
        dim = self.dim if dim is None else dim
        coord_dtype = self.coord_dtype if coord_dtype is None else coord_dtype
        return PandasIndex(index, dim, coord_dtype, fastpath=True)

    def _copy(self, deep: bool = True, memo: dict[int, Any] | None = None) -> Any:
        if self._index is None:
            return self.of(self._name, self._variable)
        return super()._copy(deep=deep, memo=memo)

    def rename(self, name_dict: Mapping[Any, Hashable], dims_dict: Mapping[Any, Hashable]) -> Any:
        if self._index is None and self._name not in name_dict and self.dim not in dims_dict:
            return self
        return super().rename(name_dict, dims_dict)

    def create_variables(self, variables: Mapping[Any, xr.Variable] | None = None) -> Any:
        if self._index is None:  # the coordinate stays as it is: lazily read, cached
            return {self._name: self._variable}
        return super().create_variables(variables)


class ReadOnce(indexing.ExplicitlyIndexedNDArrayMixin):
    """A small lazy array read whole on first use, then served from memory.

    Shallow copies of a variable share it (unlike xarray's ``MemoryCachedArray``,
    which copies start afresh), so the read that builds an index also serves
    the coordinate's ``.values`` in every dataset derived from the opened one.
    """

    __slots__ = ("_values", "array")

    def __init__(self, array: Any) -> None:
        self.array = array
        self._values: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(self.array.dtype)

    def get_duck_array(self) -> np.ndarray:
        if self._values is None:
            self._values = np.asarray(self.array.get_duck_array())
        return self._values

    def __getitem__(self, indexer: indexing.ExplicitIndexer) -> Any:
        return indexing.NumpyIndexingAdapter(self.get_duck_array())[indexer]

    def _oindex_get(self, indexer: indexing.OuterIndexer) -> Any:
        return indexing.NumpyIndexingAdapter(self.get_duck_array()).oindex[indexer]

    def _vindex_get(self, indexer: indexing.VectorizedIndexer) -> Any:
        return indexing.NumpyIndexingAdapter(self.get_duck_array()).vindex[indexer]


def with_lazy_indexes(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with a :class:`LazyIndex` on every dimension coordinate that has no index."""
    coords = {}
    indexes = {}
    for name, coord in ds.coords.items():
        if coord.dims != (name,) or name in ds.xindexes:
            continue
        var = coord.variable.to_base_variable()
        if not isinstance(var._data, (np.ndarray, ReadOnce)):
            var = xr.Variable(var.dims, ReadOnce(var._data), var.attrs, var.encoding, fastpath=True)
        coords[name] = var
        indexes[name] = LazyIndex.of(name, var)
    if not coords:
        return ds
    return ds.assign_coords(xr.Coordinates(coords, indexes=indexes))


def decode_lazily(ds: xr.Dataset, **options: Any) -> xr.Dataset:
    """:func:`xarray.decode_cf` of a dataset opened raw, reading no values.

    Times are decoded by :class:`LazyTimeCoder` (unless ``decode_times`` is
    False or a coder of the caller's) and dimension coordinates get a
    :class:`LazyIndex`.

    Parameters
    ----------
    ds
        A dataset opened with ``decode_cf=False`` and ``create_default_indexes=False``.
    **options
        Options of :func:`xarray.decode_cf` (``mask_and_scale``, ``decode_times``,
        ``use_cftime`` ...).
    """
    from xarray.conventions import decode_cf_variables

    if options.get("decode_times", True) is True:
        options["decode_times"] = LazyTimeCoder(use_cftime=options.pop("use_cftime", None))
    variables, attrs, coord_names = decode_cf_variables(ds.variables, ds.attrs, **options)
    dims = {d for v in variables.values() for d in v.dims}
    names = (set(coord_names) | set(ds.coords) | dims) & set(variables)
    coords = xr.Coordinates({n: variables[n] for n in variables if n in names}, indexes={})
    data = {n: v for n, v in variables.items() if n not in names}
    out = xr.Dataset(data, coords=coords, attrs=attrs)
    out.encoding = dict(ds.encoding)
    out.set_close(ds._close)
    return with_lazy_indexes(out)


class LazyTimeCoder(CFDatetimeCoder):
    """xarray's CF datetime decoding, without reading values to find the dtype.

    xarray decodes the first and last value of each time variable when it
    opens a dataset, to learn the decoded dtype and fail early on undecodable
    units: one or two requests per variable on a remote store.  This coder
    takes the dtype from the units' reference date instead, decoded with the
    same options; units it cannot decode that way, and standard-calendar units
    whose reference date is out of ``datetime64``'s range (where the values
    decide the dtype), are left to xarray.
    """

    def decode(self, variable: xr.Variable, name: Hashable = None) -> xr.Variable:
        units = variable.attrs.get("units")
        if not isinstance(units, str) or "since" not in units:
            return variable
        calendar = variable.attrs.get("calendar")
        decode = partial(
            decode_cf_datetime,
            units=units,
            calendar=calendar,
            use_cftime=self.use_cftime,
            time_unit=self.time_unit,
        )
        try:
            dtype = np.asarray(decode(np.zeros(1, dtype=variable.dtype))).dtype
        except Exception:  # xarray's own decoding then says what is wrong
            return super().decode(variable, name)
        if dtype.kind == "O" and _standard(calendar) and self.use_cftime is not True:
            # a reference date out of datetime64's range (``days since 0001-01-01``):
            # the values may fit it all the same, which only reading them tells
            return super().decode(variable, name)
        dims, data, attrs, encoding = unpack_for_decoding(variable)
        pop_to(attrs, encoding, "units")
        pop_to(attrs, encoding, "calendar")
        transform = partial(_decode_as, decode, dtype, name)
        return xr.Variable(dims, lazy_elemwise_func(data, transform, dtype), attrs, encoding)


def _standard(calendar: Any) -> bool:
    """True for the calendars whose dates may decode to ``datetime64``."""
    return calendar is None or str(calendar).lower() in _STANDARD


_STANDARD = ("standard", "gregorian", "proleptic_gregorian")


def _decode_as(decode: Any, dtype: np.dtype[Any], name: Hashable, values: Any) -> np.ndarray:
    """Decoded ``values`` of dtype ``dtype``, or a clear error when they do not fit it."""
    out = np.asarray(decode(values))
    if out.dtype == dtype:
        return out
    if out.dtype.kind == dtype.kind == "M":
        return out.astype(dtype)
    raise ValueError(
        f"the dates of '{name}' do not fit {dtype} (decoded as {out.dtype}): "
        "open with use_cftime=True"
    )
