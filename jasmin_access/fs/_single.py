"""Moving one object or file, verified, between any two backends.

Uploads from local files, downloads into a temporary file beside the target
(renamed into place once verified), server-side copies inside one backend, and
streamed copies between two remote backends (no local file, bounded memory).
Each backend verifies what it moved; the checks the two sides share decide
whether a destination already holds a source's content.
"""

from __future__ import annotations

from collections.abc import Callable

from ..backends import Obj, checksums
from ..backends.local import place, temp_beside
from ..stores import Location

__all__ = ["Tick", "same_content", "transfer_one"]

Tick = Callable[[int], None]


def _noop(_: int) -> None:
    return None


def transfer_one(src: Location, dst: Location, obj: Obj, target: str, tick: Tick = _noop) -> None:
    """Copy one object/file from ``src`` to the fs path ``target`` on ``dst``, verified.

    ``tick(n)`` is called as ``n`` more bytes have moved.
    """
    what = src.to_url(obj.path)
    if src.caps.local_path:
        dst.backend.upload(obj.path, target, what, tick)
    elif dst.caps.local_path:
        with temp_beside(target) as tmp:
            src.backend.download(obj, tmp, what, tick)
            place(tmp, target)
    elif src.backend is dst.backend and src.caps.server_side_copy:
        src.backend.copy(obj, target, what)
    else:
        dst.backend.receive(src.backend, obj, target, what, tick)


def same_content(src: Location, src_obj: Obj, dst: Location, found: Obj) -> bool:
    """True when ``found`` holds ``src_obj``'s content, by the strongest checksum both offer.

    Without a checksum both sides can compare, the answer is False (copy again).
    """
    src_kind, dst_kind = src.caps.checksum, dst.caps.checksum
    if src_kind == dst_kind == "md5-file":
        return checksums.local_etag(src_obj.path) == checksums.local_etag(found.path)
    if src_kind == dst_kind == "md5-etag":
        return bool(src_obj.etag) and src_obj.etag == found.etag
    if src_kind == "md5-file" and dst_kind == "md5-etag":
        return checksums.etag_matches(src_obj.path, found.etag) is True
    if src_kind == "md5-etag" and dst_kind == "md5-file":
        return checksums.etag_matches(found.path, src_obj.etag) is True
    if src_obj.etag and found.etag and src.backend is dst.backend:
        return src_obj.etag == found.etag  # one server's own tags (WebDAV, SFTP, Azure)
    return False
