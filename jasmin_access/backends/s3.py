"""S3-compatible object stores (JASMIN, moto, AWS) and public https object URLs.

Keeps the fast paths: listings through botocore's ``list_objects_v2`` pages
(v1 fallback, sub-prefixes in parallel), bulk deletes with a one-by-one
fallback, uploads and downloads streamed on the s3fs loop with parallel parts
(:mod:`._s3_transfer`, :mod:`._s3_upload`), server-side copies.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from .. import paths
from ..caches import BoundedCache
from ..config import Profile, get_profile, load_config
from ..errors import IntegrityError, NotFound, translate
from . import checksums
from ._s3_list import _etag, botocore_pages
from .base import Backend, Capabilities, Obj, Request, Tick, _noop, instance, is_marker
from .fanout import fan_out
from .s3read import PathNotListable, S3Reader, credential_key, nameable

if TYPE_CHECKING:
    from .s3client import JasminS3FileSystem

__all__ = ["HttpsBackend", "S3Backend"]

log = logging.getLogger(__name__)

LIST_WORKERS = 16
DELETE_BATCH = 1000
DELETE_WORKERS = 16


# --------------------------------------------------------------------------- the backend


class S3Backend(Backend):
    """An S3-compatible store reached with one profile."""

    scheme = "s3"
    caps = Capabilities(
        buckets=True, server_side_copy=True, bulk_delete=True, multipart=True, checksum="md5-etag"
    )
    url_root = "s3://"

    @classmethod
    def credential_key(cls, profile: Profile | None) -> tuple[Any, ...]:
        """The resolved credentials (environment variables may change them)."""
        return credential_key(profile)

    @classmethod
    def resolve(cls, scheme: str, text: str, rest: str, request: Request) -> tuple[Backend, str]:
        """``s3://bucket/key`` on the chosen profile (the embedded store for ``local``)."""
        prof = request.profile
        if not (isinstance(prof, Profile) and prof.type in ("s3", "local")):
            prof = _s3_profile(request)
        if prof.is_local:
            from .local import StoreBackend

            return StoreBackend.resolve("local", text, rest, Request(profile=prof))
        return instance(cls, prof), rest

    @property
    def identity(self) -> str:
        """Scheme, endpoint and profile name (no secret)."""
        prof = self.profile
        endpoint = prof.resolved_endpoint if prof else None
        return f"{self.scheme}:{endpoint or 'aws'}:{prof.name if prof else ''}"

    def filesystem(self, asynchronous: bool = False) -> JasminS3FileSystem:
        """An s3fs filesystem for this backend's profile."""
        assert self.profile is not None
        from .s3client import s3_filesystem

        if asynchronous:
            return _async_fs(self.profile, self.credential_key(self.profile), os.getpid())
        return s3_filesystem(self.profile)

    @cached_property
    def transfer_fs(self) -> JasminS3FileSystem:
        """The filesystem of the transfer engine: every body it sends carries its MD5."""
        from .s3client import s3_filesystem

        assert self.profile is not None
        return s3_filesystem(self.profile, md5_bodies=True)

    @property
    def reader(self) -> S3Reader | None:
        """The compiled client of the read path (None: botocore reads too, see :mod:`.s3read`)."""
        from .s3read import reader

        held = self.__dict__.get("_reader")
        if held is None or held[0] != os.getpid():  # a forked copy asks again
            assert self.profile is not None
            held = (os.getpid(), reader(self.profile, self.credential_key(self.profile)))
            self.__dict__["_reader"] = held
        return held[1]

    def zarr_store(self, fs_path: str, *, read_only: bool = False) -> Any:
        """A read-only store over obstore; for writing, zarr's ``FsspecStore`` on async s3fs."""
        import zarr.storage

        if (read_only or self.caps.read_only) and self.reader is not None:
            from .s3zarr import S3ReadStore

            return S3ReadStore(self.reader, fs_path)

        return zarr.storage.FsspecStore(
            fs=self.filesystem(asynchronous=True),
            path=fs_path,
            read_only=read_only or self.caps.read_only,
        )

    # ------------------------------------------------------------------ listing

    def _pages(
        self, bucket: str, prefix: str, delimiter: bool, after: str | None = None
    ) -> Iterator[tuple[list[Obj], list[str]]]:
        """Pages of ``(objects, common prefixes)`` through botocore (see :mod:`._s3_list`)."""
        refused = self.reader is not None and self.reader.v2_refused
        return botocore_pages(self.fs, bucket, prefix, delimiter, after, refused)

    def _level(self, bucket: str, prefix: str, markers: bool) -> tuple[list[Obj], list[str]] | None:
        """One level through the compiled client; None where botocore must list it."""
        return self.reader.level(bucket, prefix, markers) if self.reader is not None else None

    def _flat_pages(self, bucket: str, prefix: str) -> Iterator[list[Obj]]:
        """Every object below ``prefix`` a page at a time, markers included (``key/``)."""
        after = None
        if self.reader is not None:
            try:
                yield from self.reader.flat(bucket, prefix)
                return
            except PathNotListable as exc:  # botocore resumes after the last exact key
                after = exc.after
        for objs, _dirs in self._pages(bucket, prefix, delimiter=False, after=after):
            yield objs

    def list_level(self, fs_dir: str) -> tuple[list[Obj], list[str]]:
        """One level below ``fs_dir``; zero-byte directory markers dropped."""
        bucket, key = paths.split_bucket(fs_dir)
        listed = self._level(bucket, paths.as_dir(key), markers=False)
        if listed is not None:
            return listed
        objs: list[Obj] = []
        dirs: list[str] = []
        for page_objs, page_dirs in self._pages(bucket, paths.as_dir(key), delimiter=True):
            objs.extend(o for o in page_objs if not is_marker(o))
            dirs.extend(page_dirs)
        return objs, dirs

    def walk_pages(self, fs_dir: str, markers: bool = False) -> Iterator[list[Obj]]:
        """The first level with a delimiter, then each sub-prefix flat, in parallel.

        Pages stream through a bounded queue, so memory stays flat however
        many keys there are.
        """
        bucket, key = paths.split_bucket(fs_dir)
        subdirs: list[str] = []
        listed = self._level(bucket, paths.as_dir(key), markers)
        pages = [listed] if listed is not None else None
        for objs, dirs in pages or self._pages(bucket, paths.as_dir(key), delimiter=True):
            objs = [o for o in objs if markers or not is_marker(o)]
            if objs:
                yield objs
            subdirs.extend(dirs)
        if subdirs:
            yield from self._parallel_pages(bucket, subdirs, markers)

    def flat_pages(self, fs_dir: str) -> Iterator[list[Obj]]:
        """Every object below ``fs_dir``, one flat listing of pages of 1,000 keys."""
        bucket, key = paths.split_bucket(fs_dir)
        for objs in self._flat_pages(bucket, paths.as_dir(key)):
            yield [o for o in objs if not is_marker(o)]

    def prefix_exists(self, fs_dir: str) -> bool:
        """Anything below ``fs_dir``, if only a zero-byte directory marker (one request)."""
        bucket, key = paths.split_bucket(fs_dir)
        found = self.reader.exists(bucket, paths.as_dir(key)) if self.reader is not None else None
        if found is not None:
            return found
        objs, dirs = next(self._pages(bucket, paths.as_dir(key), delimiter=False), ([], []))
        return bool(objs or dirs)

    def _parallel_pages(
        self, bucket: str, subdirs: list[str], markers: bool = False
    ) -> Iterator[list[Obj]]:
        def pages_of(sub: str) -> Iterator[list[Obj]]:
            for objs in self._flat_pages(bucket, paths.as_dir(paths.split_bucket(sub)[1])):
                yield [o for o in objs if markers or not is_marker(o)]

        return fan_out(pages_of, subdirs, LIST_WORKERS)

    def head(self, fs_path: str) -> Obj | None:
        """HEAD the object (a prefix is not an object)."""
        bucket, key = paths.split_bucket(fs_path)
        if not key or key.endswith("/"):
            return None
        if self.reader is not None and nameable(key):
            try:
                return self.reader.head(fs_path)
            except FileNotFoundError:
                return None
        try:
            resp = self.fs.call_s3("head_object", Bucket=bucket, Key=key)
        except Exception as exc:
            if isinstance(translate(exc), NotFound) and not isinstance(exc, PermissionError):
                return None
            raise
        return Obj(
            fs_path, int(resp["ContentLength"]), resp.get("LastModified"), _etag(resp.get("ETag"))
        )

    def describe(self, fs_path: str) -> dict[str, Any]:
        """Content type and user metadata from a HEAD."""
        bucket, key = paths.split_bucket(fs_path)
        raw = self.fs.call_s3("head_object", Bucket=bucket, Key=key)
        return {"content_type": raw.get("ContentType"), "metadata": dict(raw.get("Metadata") or {})}

    def open_random(self, fs_path: str, block_size: int, cache_type: str = "blockcache") -> Any:
        """Blocks fetched by ranged GETs."""
        return self.fs.open(fs_path, "rb", block_size=block_size, cache_type=cache_type)

    def list_buckets(self) -> list[str]:
        """Bucket names."""
        resp = self.fs.call_s3("list_buckets")
        return sorted(b["Name"] for b in resp.get("Buckets", []))

    def bucket_exists(self, bucket: str) -> bool:
        """HEAD the bucket."""
        try:
            self.fs.call_s3("head_bucket", Bucket=bucket)
        except Exception as exc:
            if isinstance(translate(exc), NotFound):
                return False
            raise
        return True

    def make_bucket(self, bucket: str) -> None:
        """Create the bucket."""
        self.fs.mkdir(bucket)

    # ------------------------------------------------------------------ writing

    def write_bytes(self, fs_path: str, data: bytes, content_type: str | None = None) -> None:
        """One PUT."""
        extra = {"ContentType": content_type} if content_type else {}
        self.fs.pipe_file(fs_path, data, **extra)

    def read_tail(self, fs_path: str, length: int) -> tuple[int, bytes]:
        """One suffix-range GET (the size comes back in ``Content-Range``; public
        buckets often allow GET but not HEAD)."""
        bucket, name = paths.split_bucket(fs_path)
        if self.reader is not None and nameable(name):
            return self.reader.tail(fs_path, length)
        fs = self.fs

        async def tail() -> tuple[int, bytes]:
            resp = await fs._call_s3(
                "get_object", Bucket=bucket, Key=name, Range=f"bytes=-{length}"
            )
            async with resp["Body"] as body:
                data = await body.read()
            total = str(resp.get("ContentRange") or "").rpartition("/")[2]
            return (int(total) if total.isdigit() else len(data)), bytes(data)

        from fsspec import asyn

        return asyn.sync(fs.loop, tail)

    def read_bytes(self, fs_path: str) -> bytes:
        """One GET: no HEAD for a size first."""
        if self.reader is not None and nameable(fs_path):
            return self.reader.get(fs_path)
        return bytes(self.fs.cat_file(fs_path, max_concurrency=1))

    def read_range(self, fs_path: str, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of the object (one ranged GET)."""
        if self.reader is not None and nameable(fs_path):
            return self.reader.get_range(fs_path, start, stop)
        return super().read_range(fs_path, start, stop)

    def delete_many(self, fs_paths: list[str]) -> tuple[list[tuple[str, str]], bool]:
        """DeleteObjects 1,000 keys a request; one DELETE per key once a bulk one is refused."""
        failures: list[tuple[str, str]] = []
        bulk_refused = False
        for i in range(0, len(fs_paths), DELETE_BATCH):
            batch = fs_paths[i : i + DELETE_BATCH]
            bucket = paths.split_bucket(batch[0])[0]
            if not bulk_refused and all(paths.split_bucket(p)[0] == bucket for p in batch):
                try:
                    errors = self._bulk(bucket, batch)
                except Exception as exc:
                    log.warning("bulk delete refused (%s); deleting one by one", translate(exc))
                    bulk_refused = True
                else:
                    failures += self._delete_singly([f"{bucket}/{e['Key']}" for e in errors])
                    continue
            failures += self._delete_singly(batch)
        return failures, bulk_refused

    def _bulk(self, bucket: str, batch: list[str]) -> list[dict[str, str]]:
        keys = [{"Key": paths.split_bucket(p)[1]} for p in batch]
        resp = self.fs.call_s3(
            "delete_objects", Bucket=bucket, Delete={"Objects": keys, "Quiet": True}
        )
        return list(resp.get("Errors", []))

    def _delete_singly(self, fs_paths: list[str]) -> list[tuple[str, str]]:
        def one(fs_path: str) -> tuple[str, str] | None:
            bucket, key = paths.split_bucket(fs_path)
            try:
                self.fs.call_s3("delete_object", Bucket=bucket, Key=key)
            except Exception as exc:
                url = self.to_url(fs_path)
                return url, str(translate(exc, action="deleting", url=url))
            return None

        if not fs_paths:
            return []
        with ThreadPoolExecutor(max_workers=min(DELETE_WORKERS, len(fs_paths))) as pool:
            return [r for r in pool.map(one, fs_paths) if r is not None]

    def upload(self, local_path: str, target: str, what: str, tick: Tick = _noop) -> None:
        """One PUT (MD5 checked against the ETag) or parallel multipart parts.

        Bodies are read from the file as they are sent (small files at once),
        so memory does not grow with the file or with the number of files.
        """
        from fsspec import asyn

        from . import _s3_transfer as engine
        from . import _s3_upload as uploads

        size = os.path.getsize(local_path)
        chunk = checksums.part_size(size)
        bucket, key = paths.split_bucket(target)
        content_type = mimetypes.guess_type(local_path)[0]
        extra = {"ContentType": content_type} if content_type else {}
        fs = self.transfer_fs
        if not checksums.is_multipart(size, chunk):
            send = uploads.upload_single if size <= engine.SMALL else uploads.upload_stream
            expected, got = asyn.sync(fs.loop, send, fs, local_path, bucket, key, extra, tick)
            self.fs.invalidate_cache(target)
            if got and got != expected:
                raise IntegrityError(
                    f"upload of {what} did not verify: sent MD5 {expected}, store reports {got}",
                    "re-run the same command to upload it again",
                )
            return
        expected, got = asyn.sync(
            fs.loop, uploads.upload_multipart, fs, local_path, bucket, key, chunk, extra, tick
        )
        self.fs.invalidate_cache(target)
        if not got:  # a store that does not report the ETag on completion
            landed = self.head(target)
            got = (landed.etag or expected) if landed and landed.size == size else "nothing"
        if got != expected:
            raise IntegrityError(
                f"upload of {what} did not verify: expected ETag {expected}, store has {got}",
                "re-run the same command to upload it again",
            )

    def download(self, obj: Obj, tmp: str, what: str, tick: Tick = _noop) -> None:
        """Ranged GETs hashed as they arrive, written straight into ``tmp``."""
        from fsspec import asyn

        from . import _s3_transfer as engine

        bucket, key = paths.split_bucket(obj.path)
        fs = self.fs
        digest = asyn.sync(fs.loop, engine.download, fs, bucket, key, obj.size, obj.etag, tmp, tick)
        if digest.done != obj.size:
            raise IntegrityError(
                f"size mismatch for {what}: expected {obj.size} bytes, got {digest.done}",
                "re-run the same command to transfer it again",
            )
        if obj.etag and digest.etag() != obj.etag:
            if "-" not in obj.etag:
                raise IntegrityError(
                    f"checksum mismatch for {what}: content does not match ETag {obj.etag}",
                    "re-run the same command to transfer it again",
                )
            checksums.verify_file(tmp, obj.size, obj.etag, what)  # other part sizes

    def copy(self, obj: Obj, target: str, what: str) -> None:
        """CopyObject, verified by size and (single-part) ETag."""
        self.fs.copy(obj.path, target)
        landed = self.head(target)
        multipart = bool(obj.etag and "-" in obj.etag)
        if (
            landed is None
            or landed.size != obj.size
            or (not multipart and obj.etag and landed.etag != obj.etag)
        ):
            raise IntegrityError(f"server-side copy of {what} did not verify", "re-run the copy")


def _s3_profile(request: Request) -> Profile:
    """The profile for an ``s3://`` URL, with the command line's overrides.

    A named profile of another type is for the command's other URL (``cp
    webdav://a s3://b -p nc``): this one then takes the default profile.
    """
    named = request.profile
    name = named.name if isinstance(named, Profile) else named
    config = request.config or load_config()
    if name in config.profiles and config.profiles[name].type not in ("s3", "local"):
        name = None
    return get_profile(name, endpoint_url=request.endpoint_url, anon=request.anon, config=config)


_async_cache: BoundedCache[tuple[Any, ...], JasminS3FileSystem] = BoundedCache(32)


def _async_fs(profile: Profile, creds: tuple[Any, ...], pid: int) -> JasminS3FileSystem:
    """Asynchronous instances per process: a forked worker must not reuse its parent's."""
    from .s3client import s3_filesystem

    return _async_cache.get_or_make(
        (profile, creds, pid), lambda: s3_filesystem(profile, asynchronous=True)
    )


# --------------------------------------------------------------------------- https


class HttpsBackend(S3Backend):
    """Public object URLs (``https://host/bucket/key``), read anonymously, path-style."""

    scheme = "https"
    caps = Capabilities(buckets=True, read_only=True, checksum="md5-etag")

    def __init__(self, profile: Profile | None = None, *args: Any) -> None:
        super().__init__(profile, *args)
        self.url_root = f"{args[0]}/" if args else ""

    @classmethod
    def resolve(cls, scheme: str, text: str, rest: str, request: Request) -> tuple[Backend, str]:
        """An anonymous read-only location, or the chosen profile's when it has this host."""
        parts = urlsplit(text)
        endpoint = f"{parts.scheme}://{parts.netloc}"
        path = unquote(parts.path).strip("/")  # object URLs are percent-encoded
        paths.validate_key(path)
        if request.profile is not None:
            named = request.profile
            prof = (
                named if isinstance(named, Profile) else get_profile(named, config=request.config)
            )
            if prof.resolved_endpoint and urlsplit(prof.resolved_endpoint).netloc == parts.netloc:
                return instance(S3Backend, prof), path
        public = Profile(name="public", endpoint_url=endpoint, anon=True, source="env")
        return instance(cls, public, endpoint), path

    def to_url(self, fs_path: str) -> str:
        """A usable object URL: the key percent-encoded."""
        bucket, key = paths.split_bucket(fs_path)
        return self.url_root + (paths.join(bucket, quote(key, safe="/")) if key else fs_path)

    def require_writable(self, url: str) -> None:
        """Public URLs are read-only."""
        from ..errors import ReadOnly

        raise ReadOnly(
            f"{url} is a read-only public URL",
            "write through an s3:// URL with a profile that has credentials",
        )
