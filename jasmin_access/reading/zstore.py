"""Zarr stores over a :class:`~jasmin_access.stores.Location`, tuned for reading.

Each backend makes its own zarr store (an S3 one on an asynchronous s3fs
instance with a large connection pool, which pickles by profile, never by
secret); this module adds the one-request metadata layer on top.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import zarr
import zarr.storage
from zarr.storage import WrapperStore

from ..caches import BoundedCache
from ..errors import InvalidInput, NotFound
from ..stores import Location
from ..zarrkeys import MARKER, is_metadata_key

__all__ = [
    "MetadataStore",
    "configure_zarr",
    "open_metadata",
    "read_store",
]

log = logging.getLogger(__name__)


def read_store(location: Location) -> zarr.abc.store.Store:
    """A read-only zarr store over ``location`` (the backend's own zarr store)."""
    return location.zarr_store(read_only=True)


def configure_zarr(concurrency: int) -> None:
    """Raise zarr's async concurrency so one task fetches many chunks at once."""
    current = int(zarr.config.get("async.concurrency") or 10)
    if concurrency > current:
        zarr.config.set({"async.concurrency": concurrency})


# --------------------------------------------------------------------------- metadata


IN_PROGRESS_KEY = MARKER


class MetadataStore(WrapperStore[Any]):
    """A store whose metadata documents come from one consolidated read.

    Opening a store through it costs a single request (``zarr.json`` for v3,
    ``.zmetadata`` for v2) whatever the number of arrays; every other metadata
    lookup is answered from memory.  Chunk reads go to the wrapped store.  A v2
    store costs one miss on ``zarr.json`` first, unless a store of that format
    was already found next to it (see :func:`_probe_order`).
    """

    def __init__(self, store: Any, metadata: dict[str, bytes] | None = None) -> None:
        super().__init__(store)
        self.metadata = dict(metadata or {})

    def _with_store(self, store: Any) -> MetadataStore:
        return type(self)(store, self.metadata)

    def __str__(self) -> str:
        return str(self._store)

    def __repr__(self) -> str:
        return f"MetadataStore({self._store!r})"

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        if is_metadata_key(key):
            data = self.metadata.get(key)
            return None if data is None else prototype.buffer.from_bytes(data)
        return await self._store.get(key, prototype, byte_range)

    async def exists(self, key: str) -> bool:
        if is_metadata_key(key):
            return key in self.metadata
        return bool(await self._store.exists(key))


async def _fetch(store: Any, key: str) -> bytes | None:
    from zarr.core.buffer import default_buffer_prototype

    try:
        buf = await store.get(key, default_buffer_prototype())
    except FileNotFoundError:  # a local store whose directory does not exist
        return None
    return None if buf is None else buf.to_bytes()


def _v3_documents(root: dict[str, Any]) -> dict[str, bytes] | None:
    consolidated = root.get("consolidated_metadata")
    if not isinstance(consolidated, dict) or "metadata" not in consolidated:
        return None
    docs = {"zarr.json": json.dumps(root).encode()}
    for path, meta in consolidated["metadata"].items():
        docs[f"{path}/zarr.json"] = json.dumps(meta).encode()
    return docs


def _v2_documents(raw: bytes) -> dict[str, bytes]:
    meta = json.loads(raw).get("metadata", {})
    docs = {key: json.dumps(value).encode() for key, value in meta.items()}
    docs[".zmetadata"] = raw
    return docs


# the root document last found in each prefix: "zarr.json" (v3) or ".zmetadata" (v2)
_FOUND_IN: BoundedCache[str, str] = BoundedCache(1024)


def _probe_order(url: str) -> tuple[str, str]:
    """Root documents to try, in order: v3's first, unless v2's was found in this prefix.

    Stores side by side (the months of a run, the tasks of one store) are
    usually of one format: once a v2 store is found, the next one opened in
    the same prefix (or the same store again) costs one request, not a miss
    first.  A v3 store is always one request where no v2 store was seen.
    """
    if _FOUND_IN.get(url.rstrip("/").rsplit("/", 1)[0]) == ".zmetadata":
        return ".zmetadata", "zarr.json"
    return "zarr.json", ".zmetadata"


async def _load_metadata(store: Any, url: str) -> tuple[dict[str, bytes] | None, bytes | None]:
    for key in _probe_order(url):
        raw = await _fetch(store, key)
        if raw is not None:
            doc = _parse(raw, url, key)
            _FOUND_IN[url.rstrip("/").rsplit("/", 1)[0]] = key
            return (_v3_documents(doc) if key == "zarr.json" else _v2_documents(raw)), raw
    return None, None


def _parse(raw: bytes, url: str, key: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"{url}: corrupt metadata, {key} is not valid JSON ({exc})",
            "the store is damaged: re-run the convert that wrote it with --overwrite, "
            f"or restore {key}",
        ) from exc
    if not isinstance(doc, dict):
        raise InvalidInput(
            f"{url}: corrupt metadata, {key} is not a JSON object",
            f"the store is damaged: re-run the convert that wrote it, or restore {key}",
        )
    return doc


def _codec_names(codecs: Any) -> list[str]:
    """Names of a v3 codec pipeline, sharding's inner codecs included."""
    names = []
    for codec in codecs if isinstance(codecs, list) else []:
        name = codec if isinstance(codec, str) else (codec or {}).get("name")
        names.append(str(name))
        config = {} if isinstance(codec, str) else (codec.get("configuration") or {})
        names += _codec_names(config.get("codecs")) + _codec_names(config.get("index_codecs"))
    return names


def check_codecs(docs: dict[str, bytes], url: str) -> None:
    """Raise when an array of a v3 store needs a codec that is not installed here.

    Raises
    ------
    InvalidInput
        Naming the store, the variable and the codec.
    """
    from zarr.registry import get_codec_class

    for key, raw in sorted(docs.items()):
        meta = json.loads(raw) if key.endswith("zarr.json") else {}
        if meta.get("node_type") != "array":
            continue
        for name in _codec_names(meta.get("codecs")):
            try:
                get_codec_class(name)
            except KeyError:
                var = key.rsplit("/", 1)[0] if "/" in key else "(root)"
                raise InvalidInput(
                    f"{url}: variable '{var}' uses codec '{name}', which is not installed here",
                    "install the package providing that codec, or re-convert the store "
                    "with a standard compressor (zstd)",
                ) from None


def open_metadata(store: Any, url: str) -> tuple[Any, bytes]:
    """Wrap ``store`` with its consolidated metadata read in one request.

    Returns
    -------
    tuple
        The store to give to zarr/xarray and the raw root document (used to
        key the chunk cache: a rewritten store gets a new cache namespace).

    Raises
    ------
    NotFound
        When there is no zarr store at ``url``; the message says so when it is
        an unfinished conversion.
    InvalidInput
        Corrupt (non-JSON) metadata, or a codec that is not installed here.
    """
    from zarr.core.sync import sync

    docs, raw = sync(_load_metadata(store, url))
    if raw is None:
        if sync(_fetch(store, IN_PROGRESS_KEY)) is not None:
            raise NotFound(
                f"{url} is an unfinished conversion (no root metadata yet)",
                "re-run the same convert command to resume it, then open the store",
            )
        raise NotFound(
            f"no Zarr store at {url}",
            "check the URL with `jasmin-access ls`; NetCDF objects must end in .nc",
        )
    if docs is None:  # not consolidated: zarr reads each array's metadata itself
        log.info("%s has no consolidated metadata; opening costs one request per array", url)
        return store, raw
    check_codecs(docs, url)
    return MetadataStore(store, docs), raw
