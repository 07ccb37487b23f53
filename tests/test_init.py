"""The package root exposes the API as functions, whatever was imported first."""

from __future__ import annotations

import subprocess
import sys

import jasmin_access as ja


def test_api_names_are_callables_even_after_submodule_imports() -> None:
    # importing a subpackage binds its name on the package: it must not shadow a function
    import jasmin_access.conversion.chunking
    import jasmin_access.fs.listing  # noqa: F401

    for name in ja.__all__:
        if name.startswith("__") or name in ("JasminAccessError", "catalog"):
            continue
        assert callable(getattr(ja, name)), f"ja.{name} is not callable"
    # the one namespace: ja.catalog.build(...), ja.catalog.search(...)
    assert callable(ja.catalog.build) and callable(ja.catalog.search)


def test_import_is_light() -> None:
    """``import jasmin_access`` must not pull in xarray, dask or s3fs."""
    code = (
        "import sys, jasmin_access; "
        "print(sorted(m for m in ('xarray', 'dask', 's3fs') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        ja.no_such_function  # noqa: B018
    except AttributeError as exc:
        assert "no_such_function" in str(exc)
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("expected AttributeError")
