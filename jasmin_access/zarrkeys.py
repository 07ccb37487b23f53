"""Names defined once: Zarr metadata documents and this package's run-state objects.

A store being written holds a run-state prefix (:data:`STATE_PREFIX`) with the
in-progress marker (:data:`MARKER`), the progress journal (:data:`JOURNAL`)
and the scan of the sources (:data:`SCAN`); readers refuse a store whose marker is present.
A finished store keeps only the scan there.
"""

from __future__ import annotations

__all__ = [
    "JOURNAL",
    "MARKER",
    "METADATA_NAMES",
    "ROOT_METADATA",
    "SCAN",
    "STATE_PREFIX",
    "STORE_MARKERS",
    "is_metadata_key",
]

STATE_PREFIX = ".jasmin-access"
MARKER = f"{STATE_PREFIX}/in-progress.json"
JOURNAL = f"{STATE_PREFIX}/progress.json"
SCAN = f"{STATE_PREFIX}/scan.json"
"""The scan of the sources, kept so that a resumed conversion and ``verify`` do not rescan."""

METADATA_NAMES = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"})
"""Zarr metadata documents, v3 and v2."""
STORE_MARKERS = METADATA_NAMES - {".zattrs"}
"""Names whose presence makes a prefix a Zarr store or array."""
ROOT_METADATA = ("zarr.json", ".zgroup", ".zmetadata", ".zattrs")
"""Root metadata of a store, written last and removed first."""


def is_metadata_key(key: str) -> bool:
    """True for zarr metadata documents (v2 and v3)."""
    return key.rsplit("/", 1)[-1] in METADATA_NAMES
