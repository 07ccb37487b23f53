"""Moving one object or file, verified: upload, download, local and server-side copies.

Uploads and downloads run on the s3fs event loop (:mod:`._transfer_async`);
downloads land in a temporary file beside the target and are renamed into
place only once their checksum matches.
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fsspec import asyn

from .. import paths
from ..errors import IntegrityError, InvalidInput
from ..stores import TMP_PREFIX, Location
from . import _transfer_async as engine
from . import checksums
from ._backend import Obj, head, is_remote

__all__ = ["Tick", "transfer_one"]


def _content_type(local_path: str) -> dict[str, str]:
    content_type = mimetypes.guess_type(local_path)[0]
    return {"ContentType": content_type} if content_type else {}


def _noop(_: int) -> None:
    return None


Tick = Callable[[int], None]


def _put_small(local_path: str, dst: Location, target: str, what: str, tick: Tick) -> None:
    """One PUT from memory; the MD5 of those bytes must equal the ETag returned."""
    bucket, key = paths.split_bucket(target)
    extra = _content_type(local_path)
    expected, got = asyn.sync(
        dst.fs.loop, engine.upload_single, dst.fs, local_path, bucket, key, extra, tick
    )
    dst.fs.invalidate_cache(target)
    if got and got != expected:
        raise IntegrityError(
            f"upload of {what} did not verify: sent MD5 {expected}, store reports {got}",
            "re-run the same command to upload it again",
        )


def _upload(local_path: str, dst: Location, target: str, what: str, tick: Tick = _noop) -> None:
    size = os.path.getsize(local_path)
    chunk = checksums.part_size(size)
    if not checksums.is_multipart(size, chunk):
        return _put_small(local_path, dst, target, what, tick)
    bucket, key = paths.split_bucket(target)
    expected, got = asyn.sync(
        dst.fs.loop,
        engine.upload_multipart,
        dst.fs,
        local_path,
        bucket,
        key,
        chunk,
        _content_type(local_path),
        tick,
    )
    dst.fs.invalidate_cache(target)
    if not got:  # a store that does not report the ETag on completion
        landed = head(dst, target)
        got = (landed.etag or expected) if landed and landed.size == size else "nothing"
    if got != expected:
        raise IntegrityError(
            f"upload of {what} did not verify: expected ETag {expected}, store has {got}",
            "re-run the same command to upload it again",
        )


def _prepare_local(target: str) -> None:
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise _same_name(target)
    try:
        os.makedirs(directory, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise _same_name(target) from exc


def _same_name(target: str) -> InvalidInput:
    return InvalidInput(
        f"cannot write {target}: a local store cannot hold an object and a prefix "
        "with the same name",
        "choose another destination name",
    )


def _place(tmp: str, target: str) -> None:
    os.chmod(tmp, 0o644)
    try:
        os.replace(tmp, target)
    except (IsADirectoryError, NotADirectoryError) as exc:
        raise _same_name(target) from exc


@contextmanager
def _temp_beside(target: str) -> Iterator[str]:
    _prepare_local(target)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=os.path.dirname(target))
    os.close(fd)
    try:
        yield tmp
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _download(src: Location, obj: Obj, target: str, what: str, tick: Tick = _noop) -> None:
    """Stream ``obj`` into a temporary file beside ``target``, verified as it arrives."""
    bucket, key = paths.split_bucket(obj.path)
    with _temp_beside(target) as tmp:
        digest = asyn.sync(
            src.fs.loop, engine.download, src.fs, bucket, key, obj.size, obj.etag, tmp, tick
        )
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
        _place(tmp, target)


def _local_copy(obj: Obj, target: str, what: str, tick: Tick = _noop) -> None:
    with _temp_beside(target) as tmp:
        with open(obj.path, "rb") as src, open(tmp, "wb") as dst:
            while block := src.read(8 << 20):  # in blocks, so a progress bar moves by bytes
                dst.write(block)
                tick(len(block))
        if checksums.local_etag(tmp) != checksums.local_etag(obj.path):
            raise IntegrityError(f"copy of {what} does not match its source", "re-run the copy")
        _place(tmp, target)


def _server_copy(loc: Location, obj: Obj, target: str, what: str) -> None:
    loc.fs.copy(obj.path, target)
    landed = head(loc, target)
    multipart = bool(obj.etag and "-" in obj.etag)
    if (
        landed is None
        or landed.size != obj.size
        or (not multipart and obj.etag and landed.etag != obj.etag)
    ):
        raise IntegrityError(f"server-side copy of {what} did not verify", "re-run the copy")


def transfer_one(src: Location, dst: Location, obj: Obj, target: str, tick: Tick = _noop) -> None:
    """Copy one object/file from ``src`` to the fs path ``target`` on ``dst``, verified.

    ``tick(n)`` is called as ``n`` more bytes have moved (uploads and downloads).
    """
    what = src.to_url(obj.path)
    if not is_remote(src) and not is_remote(dst):
        _local_copy(obj, target, what, tick)
    elif not is_remote(src):
        _upload(obj.path, dst, target, what, tick)
    elif not is_remote(dst):
        _download(src, obj, target, what, tick)
    elif src.fs is dst.fs and src.kind == dst.kind:
        _server_copy(src, obj, target, what)
    else:
        with tempfile.TemporaryDirectory(prefix=TMP_PREFIX) as tmpdir:
            relay = os.path.join(tmpdir, "relay")
            _download(src, obj, relay, what)
            _upload(relay, dst, target, what)
