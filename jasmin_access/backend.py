"""The ``jasmin`` xarray backend: ``xr.open_dataset(url, engine="jasmin", ...)``.

::

    ds = xr.open_dataset("s3://bucket/run.zarr", engine="jasmin", profile="jasmin",
                         chunks={})
    ds = xr.open_dataset("s3://bucket/run.zarr", engine="jasmin",
                         storage_options={"endpoint_url": "...", "anon": True})

It accepts everything :func:`jasmin_access.open_dataset` opens (Zarr stores,
NetCDF objects, indexes) and its selections (``variables``, ``time``, ``bbox``,
``cache``).  Arrays are returned lazily indexed; xarray applies ``chunks``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

from .config import Profile, get_profile
from .errors import InvalidInput, register_secret

__all__ = ["JasminBackendEntrypoint", "profile_from_storage_options"]

_NOT_STORES = ("", "file", "http", "https")  # schemes the engine does not claim
_KNOWN_OPTIONS = {"endpoint_url", "anon", "key", "secret", "token", "client_kwargs", "profile"}


def profile_from_storage_options(
    options: dict[str, Any], profile: str | None = None
) -> Profile | str | None:
    """Turn fsspec-style ``storage_options`` into a profile (secrets stay in memory).

    Parameters
    ----------
    options
        ``endpoint_url`` (or ``client_kwargs={"endpoint_url": ...}``), ``anon``,
        ``key``/``secret``/``token``, or ``profile`` (a profile name).
    profile
        Base profile name.
    """
    if not options:
        return profile
    unknown = set(options) - _KNOWN_OPTIONS
    if unknown:
        raise InvalidInput(
            f"unsupported storage_options: {', '.join(sorted(unknown))}",
            f"use {', '.join(sorted(_KNOWN_OPTIONS))}, or a profile",
        )
    name = options.get("profile") or profile
    endpoint = options.get("endpoint_url") or (options.get("client_kwargs") or {}).get(
        "endpoint_url"
    )
    base = get_profile(name, endpoint_url=endpoint, anon=bool(options.get("anon")) or None)
    changes: dict[str, Any] = {"source": "env"} if not name else {}
    for field in ("key", "secret", "token"):
        if options.get(field):
            register_secret(str(options[field]))
            changes[field] = str(options[field])
    return replace(base, **changes) if changes else base


class JasminBackendEntrypoint(BackendEntrypoint):
    """xarray backend for JASMIN object-store data (Zarr, NetCDF in place, indexes)."""

    description = "Zarr stores and NetCDF objects on S3/JASMIN object stores (jasmin-access)"
    url = "https://github.com/jasmin-access/jasmin-access"
    open_dataset_parameters = (
        "filename_or_obj",
        "drop_variables",
        "profile",
        "storage_options",
        "variables",
        "time",
        "bbox",
        "cache",
        "decode_times",
        "mask_and_scale",
    )

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: str | os.PathLike[str] | Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        profile: str | None = None,
        storage_options: dict[str, Any] | None = None,
        variables: list[str] | str | None = None,
        time: Any = None,
        bbox: Any = None,
        cache: str | bool | None = None,
        decode_times: Any = True,
        mask_and_scale: bool = True,
    ) -> xr.Dataset:
        """Open ``filename_or_obj`` lazily (see :func:`jasmin_access.open_dataset`)."""
        from .open import open_dataset

        if not isinstance(filename_or_obj, (str, os.PathLike)):
            raise InvalidInput("the jasmin engine opens URLs", "pass a URL string")
        chosen = profile_from_storage_options(storage_options or {}, profile)
        return open_dataset(
            os.fspath(filename_or_obj),
            profile=chosen,
            variables=variables,
            time=time,
            bbox=bbox,
            chunks=None,
            cache=cache,
            drop_variables=drop_variables,
            decode_times=decode_times,
            mask_and_scale=mask_and_scale,
        )

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """Claim Zarr stores and indexes behind any registered storage scheme (s3://, az://...)."""
        if not isinstance(filename_or_obj, str):
            return False
        from .backends import known_schemes

        text = filename_or_obj.rstrip("/")
        scheme = text.split("://", 1)[0].lower() if "://" in text else ""
        claimed = scheme not in _NOT_STORES and scheme in known_schemes()
        return claimed and text.endswith((".zarr", ".index.json"))
