"""Publish and search a static STAC catalog of the datasets on a store.

::

    import jasmin_access as ja
    ja.catalog.build("s3://bucket/runs/", to="s3://bucket/catalog", title="NEMO runs")
    items = ja.catalog.search("s3://bucket/catalog", bbox=(-30, 40, 10, 65),
                              time="1990-01/2000-12", variables="thetao")
    ds = ja.open_dataset(items[0])

``build`` walks prefixes for Zarr stores (v2, v3), datastores and reference
indexes of NetCDF sets, writes one STAC Collection (with the dataset as
collection-level asset and the datacube extension) and Item per dataset (per
version for a datastore, with the version extension), a parquet search index
and a self-contained ``index.html``; rebuilds rewrite only what changed and
publish the root last.  ``search`` reads only the parquet index, with byte
ranges.  New kinds of datasets plug in with
:func:`~jasmin_access.catalog.discover.register_finder` and
:func:`~jasmin_access.catalog.describe.register_describer`.
"""

from __future__ import annotations

from .build import BuildReport, build
from .search import search

__all__ = ["BuildReport", "build", "search"]
