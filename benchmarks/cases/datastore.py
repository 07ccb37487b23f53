"""Datastores: a push after a one-month append, and a 1,000,000-object manifest.

Push: a 12-month NEMO-like run converted locally is the datastore's first
version (set up before each run, not measured); a 13th month is then appended
in place (only the files the append changes are rewritten) and the measured
command pushes it, so the local hash cache knows the unchanged files.  Peers
re-upload the appended store the way users do today: ``jasmin-access cp -r``
and ``aws s3 cp --recursive`` (whole store), ``rclone sync`` onto a copy of
the 12-month store (changed files only, by size and time).  The target: bytes
uploaded by the push at most 1.1x that month's chunks plus the metadata that
changed.

Manifest: a version of 1,000,000 objects, read from disk and parsed (index
included) in a fresh process: time and peak RSS against 2 s and 500 MB.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..datasets import nemo_spec
from ..harness import (
    Bench,
    Check,
    Measured,
    Row,
    Run,
    find_row,
    measure,
    not_available,
    python_cmd,
    skipped,
)
from ._common import BUCKET, cli_has
from ._common import set_up_cli as _ours

__all__ = ["NAME", "appended_in_place", "checks", "parse_manifest", "run", "stores"]

NAME = "datastore"
MANIFEST_OBJECTS = 1_000_000
PUSH_CASE = "datastore push after a one-month append"
MANIFEST_CASE = "datastore manifest of 1M objects: read + parse"


def tree_digests(root: Path) -> dict[str, tuple[str, int]]:
    """SHA-256 and size of every file under ``root`` (run state left out), by relative path."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and ".jasmin-access" not in p.parts:
            data = p.read_bytes()
            out[p.relative_to(root).as_posix()] = (hashlib.sha256(data).hexdigest(), len(data))
    return out


def stores(bench: Bench) -> dict[str, Any]:
    """The 12-month store and the same with a 13th month appended (made once per run)."""
    if "datastore" in bench.cache:
        return dict(bench.cache["datastore"])
    import jasmin_access as ja
    from jasmin_access.samples import write_nemo_set

    spec = nemo_spec(bench.scale)
    spec = replace(spec, months=spec.months + 1)
    src = bench.data_dir / f"ds-nemo-{spec.nx}x{spec.ny}x{spec.nz}x{spec.months}"
    files = sorted(src.glob("*.nc")) if src.is_dir() else []
    if len(files) != spec.months:
        shutil.rmtree(src, ignore_errors=True)
        files = write_nemo_set(src, spec)
    d12, d13 = bench.work_dir / "ds-12.zarr", bench.work_dir / "ds-13.zarr"
    ja.convert([str(p) for p in files[:-1]], str(d12))
    shutil.copytree(d12, d13)
    ja.append([str(files[-1])], str(d13))
    old, new = tree_digests(d12), tree_digests(d13)
    known = {d for d, _ in old.values()}
    month = sum(n for d, n in {d: n for d, n in new.values() if d not in known}.items())
    info = {
        "d12": d12,
        "d13": d13,
        "month_bytes": month,
        "total_bytes": sum(n for _d, n in new.values()),
        "changed": sorted(k for k, v in new.items() if old.get(k) != v),
        "removed": sorted(set(old) - set(new)),
    }
    bench.cache["datastore"] = info
    return info


def appended_in_place(bench: Bench, info: dict[str, Any], url: str, work: Path) -> None:
    """Set-up of a measured push, as a user's month goes: ``work`` holds the 12-month store
    and is its datastore's first version, then the append rewrites in place the files it
    changes (new inodes, the rest untouched), and the push of ``work`` is what is measured."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(info["d12"], work)
    if _exists(bench, url):
        _ours(bench, "datastore", "rm", url)
    _ours(bench, "datastore", "create", url, "--from", str(work))
    for key in info["changed"]:
        target = work / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        shutil.copy2(info["d13"] / key, target)
    for key in info["removed"]:
        (work / key).unlink(missing_ok=True)


def _push(bench: Bench, info: dict[str, Any]) -> Measured:
    url = f"s3://{BUCKET}/{bench.run_id}-datastore"
    work = bench.work_dir / "ds-work.zarr"

    def before() -> None:
        appended_in_place(bench, info, url, work)

    def check(run: Run) -> str:
        up = int(run.result.get("uploaded_bytes", -1))
        bench.cache["datastore_uploaded"] = up
        return f"uploaded {up / 1e6:.1f} MB = {up / max(info['month_bytes'], 1):.2f}x the month"

    return Measured(
        "jasmin-access datastore push",
        [bench.cli, "--json", "-p", "bench", "datastore", "push", url, str(work)],
        env=bench.ours_env(),
        ours=True,
        nbytes=info["month_bytes"],
        before=before,
        check=check,
    )


def _exists(bench: Bench, url: str) -> bool:
    assert bench.server is not None
    fs = bench.server.s3fs()
    fs.invalidate_cache()
    return bool(fs.exists(url.removeprefix("s3://") + "/datastore.json"))


def _peers(bench: Bench, info: dict[str, Any]) -> list[Measured | Row]:
    assert bench.server is not None
    fs = bench.server.s3fs()
    peers: Any = bench.peers
    out: list[Measured | Row] = []
    for tool, key in (("jasmin-access cp -r (whole store)", "cp"),
                      ("aws s3 cp --recursive (whole store)", "aws"),
                      ("rclone sync (changed files)", "rclone")):  # fmt: skip
        dest = f"{BUCKET}/{bench.run_id}-ds-{key}"
        exe = tool.split()[0]
        if exe != "jasmin-access" and not peers.have(exe):
            out.append(skipped(PUSH_CASE, tool, peers.missing(exe)))
            continue

        def before(dest: str = dest, key: str = key) -> None:
            if fs.exists(dest):
                fs.rm(dest, recursive=True)
            if key == "rclone":  # rclone starts from the 12-month store already there
                fs.put(str(info["d12"]), dest, recursive=True)
            fs.invalidate_cache()

        if key == "cp":
            cmd = [bench.cli, "cp", "-r", str(info["d13"]), f"s3://{dest}", "-p", "bench"]
            env = bench.ours_env()
        elif key == "aws":
            cmd, env = peers.aws("cp", "--recursive", "--only-show-errors", str(info["d13"]),
                                 f"s3://{dest}/")  # fmt: skip
        else:
            cmd, env = peers.rclone("sync", str(info["d13"]), f"bench:{dest}")
        out.append(Measured(tool, cmd, env=env, before=before, nbytes=info["month_bytes"]))
    return out


def parse_manifest(path: str) -> dict[str, Any]:
    """Worker: read and parse a manifest file, look a key up (timed inside)."""
    from jasmin_access.datastore.manifest import decode

    started = time.perf_counter()
    with open(path, "rb") as fh:
        m = decode(fh.read(), path)
    m.lookup(m.keys[len(m.keys) // 2])
    return {"seconds": time.perf_counter() - started, "objects": m.count}


def _manifest_file(bench: Bench, n: int) -> Path:
    """A manifest of ``n`` chunk-like keys, written once per data directory."""
    import numpy as np

    from jasmin_access.datastore import layout
    from jasmin_access.datastore.manifest import MAGIC, Manifest, encode

    version = MAGIC.decode().strip()  # a file per manifest format: never an older one
    path = bench.data_dir / f"manifest-{n}-{version}.jdm"
    if path.exists():
        return path
    per = n // 10
    keys = sorted(f"var{v:02d}/c/{i // 360}/{i % 360 // 20}/{i % 20}/0" for v in range(10)
                  for i in range(per))  # fmt: skip
    digests = b"".join(hashlib.sha256(k.encode()).digest() for k in keys)
    m = Manifest(id=layout.new_version_id(), parent=None, created="", author="bench",
                 message="", keys=keys, digests=digests,
                 sizes=np.full(len(keys), 14_000_000, dtype="<u8"))  # fmt: skip
    path.write_bytes(encode(m))
    return path


def run(bench: Bench) -> list[Row]:
    """The push after a one-month append (ours and peers), then the manifest parse."""
    rows: list[Row] = []
    why = cli_has(bench, "datastore")
    if why:
        return [not_available(PUSH_CASE, "jasmin-access datastore push", why)]
    assert bench.server is not None
    fs = bench.server.s3fs()
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    info = stores(bench)
    rows.append(measure(bench, PUSH_CASE, _push(bench, info)))
    for m in _peers(bench, info):
        rows.append(m if isinstance(m, Row) else measure(bench, PUSH_CASE, m))
    path = _manifest_file(bench, MANIFEST_OBJECTS)  # cheap enough for the quick run too
    case = MANIFEST_CASE
    m = Measured("jasmin_access.datastore.manifest.decode",
                 python_cmd(bench, "benchmarks.cases.datastore:parse_manifest", path=str(path)),
                 ours=True)  # fmt: skip

    def note(run: Run) -> str:
        bench.cache["manifest_parse_s"] = float(run.result.get("seconds", 0.0))
        return f"parse in process {bench.cache['manifest_parse_s']:.2f} s"

    m.check = note
    rows.append(measure(bench, case, m))
    return rows


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """Bytes uploaded by the push, and the 1M manifest's parse time and memory."""
    out = []
    info = bench.cache.get("datastore") or {}
    up = bench.cache.get("datastore_uploaded")
    month = info.get("month_bytes")
    target = "push after a one-month append uploads ≤ 1.1x that month's chunks + metadata"
    if up is None or not month:
        out.append(Check(target, "not measured", None))
    else:
        out.append(Check(target, f"{up / month:.2f}x ({up / 1e6:.1f} of {month / 1e6:.1f} MB)",
                         up <= 1.1 * month))  # fmt: skip
    ours = find_row(rows, PUSH_CASE, "jasmin-access datastore push")
    for peer in ("jasmin-access cp -r (whole store)", "rclone sync (changed files)"):
        theirs = find_row(rows, PUSH_CASE, peer)
        if ours and theirs and ours.ok and theirs.ok and ours.seconds:
            ratio = float(theirs.seconds or 0) / ours.seconds
            out.append(Check(f"push time vs {peer}", f"{ratio:.2f}x faster", None, info=True))
    row = find_row(rows, MANIFEST_CASE)
    target = "manifest of 1M objects: read + parse < 2 s, peak RSS < 500 MB"
    if row is None or not row.ok:
        out.append(Check(target, "not measured", None))
    else:
        parse = float(bench.cache.get("manifest_parse_s", row.seconds or 0.0))
        rss = float(row.rss_mb or 0.0)
        out.append(Check(target, f"{parse:.2f} s, {rss:.0f} MB", parse < 2.0 and rss < 500))
    return out
