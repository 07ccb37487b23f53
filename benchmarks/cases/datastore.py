"""Datastores: a push after a one-month append, and a 1,000,000-object manifest.

Push: a 12-month NEMO-like run converted locally is the datastore's first
version (set up before each run, not measured); the measured command pushes
the same run with a 13th month appended.  Peers re-upload the appended store
the way users do today: ``jasmin-access cp -r`` and ``aws s3 cp --recursive``
(whole store), ``rclone sync`` onto a copy of the 12-month store (changed
files only, by size and time).  The target: bytes uploaded by the push at
most 1.1x that month's chunks plus the metadata that changed.

Manifest: a version of 1,000,000 objects, read from disk and parsed (index
included) in a fresh process: time and peak RSS against 2 s and 500 MB.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
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
    base_env,
    find_row,
    measure,
    not_available,
    python_cmd,
    skipped,
)
from ._common import BUCKET, cli_has
from ._common import set_up_cli as _ours

__all__ = ["NAME", "checks", "parse_manifest", "run"]

NAME = "datastore"
MANIFEST_OBJECTS = 1_000_000
PUSH_CASE = "datastore push after a one-month append"
MANIFEST_CASE = "datastore manifest of 1M objects: read + parse"


def _digests(root: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and ".jasmin-access" not in p.parts:
            data = p.read_bytes()
            out[p.relative_to(root).as_posix()] = (hashlib.sha256(data).hexdigest(), len(data))
    return out


def _stores(bench: Bench) -> dict[str, Any]:
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
    old, new = _digests(d12), _digests(d13)
    known = {d for d, _ in old.values()}
    month = sum(n for d, n in {d: n for d, n in new.values() if d not in known}.items())
    info = {
        "d12": d12,
        "d13": d13,
        "month_bytes": month,
        "total_bytes": sum(n for _d, n in new.values()),
    }
    bench.cache["datastore"] = info
    return info


def _push(bench: Bench, info: dict[str, Any]) -> Measured:
    url = f"s3://{BUCKET}/{bench.run_id}-datastore"

    def before() -> None:
        if _exists(bench, url):
            _ours(bench, "datastore", "rm", url)
        _ours(bench, "datastore", "create", url, "--from", str(info["d12"]))

    def check(run: Run) -> str:
        up = int(run.result.get("uploaded_bytes", -1))
        bench.cache["datastore_uploaded"] = up
        return f"uploaded {up / 1e6:.1f} MB = {up / max(info['month_bytes'], 1):.2f}x the month"

    return Measured(
        "jasmin-access datastore push",
        [bench.cli, "--json", "-p", "bench", "datastore", "push", url, str(info["d13"])],
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
    from jasmin_access.datastore.manifest import Manifest, encode

    path = bench.data_dir / f"manifest-{n}.jdm"
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
    info = _stores(bench)
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
    return rows + run_icechunk(bench, info)


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


# --------------------------------------------------------------------------- Icechunk

ICE_COMMIT = "datastore vs Icechunk: commit of a one-month append"
ICE_OPEN = "datastore vs Icechunk: open a version"


def _files_for_zarr(root: Path) -> list[Path]:
    """Files of a Zarr store, metadata before chunks (Icechunk wants the nodes first)."""
    files = [p for p in root.rglob("*") if p.is_file() and ".jasmin-access" not in p.parts]
    return sorted(files, key=lambda p: (p.name != "zarr.json", len(p.parts), str(p)))


def _ice_repo(endpoint: str, prefix: str, create: bool) -> Any:
    import icechunk

    from ..server import BENCH_KEY, BENCH_SECRET

    storage = icechunk.s3_storage(bucket=BUCKET, prefix=prefix, endpoint_url=endpoint,
                                  allow_http=True, access_key_id=BENCH_KEY,
                                  secret_access_key=BENCH_SECRET, region="us-east-1",
                                  force_path_style=True)  # fmt: skip
    open_ = icechunk.Repository.create if create else icechunk.Repository.open
    return open_(storage)


def _ice_put(session: Any, root: Path, only: set[str] | None = None) -> None:
    import asyncio

    from zarr.core.buffer import default_buffer_prototype

    async def put() -> None:
        for p in _files_for_zarr(root):
            key = p.relative_to(root).as_posix()
            if only is None or key in only:
                buf = default_buffer_prototype().buffer.from_bytes(p.read_bytes())
                await session.store.set(key, buf)

    asyncio.run(put())


def icechunk_setup(endpoint: str, prefix: str, d12: str) -> dict[str, Any]:
    """Worker (not measured): a new repository holding the 12-month store as one commit."""
    repo = _ice_repo(endpoint, prefix, create=True)
    session = repo.writable_session("main")
    _ice_put(session, Path(d12))
    return {"snapshot": session.commit("12 months")}


def icechunk_commit(endpoint: str, prefix: str, d12: str, d13: str) -> dict[str, Any]:
    """Worker (measured): write the keys the append changed, commit."""
    old, new = _digests(Path(d12)), _digests(Path(d13))
    changed = {k for k, v in new.items() if old.get(k) != v}
    repo = _ice_repo(endpoint, prefix, create=False)
    session = repo.writable_session("main")
    _ice_put(session, Path(d13), changed)
    return {"snapshot": session.commit("one more month"), "keys": len(changed)}


def icechunk_open(endpoint: str, prefix: str) -> dict[str, Any]:
    """Worker (measured): open the repository's main branch as a Dataset."""
    import xarray as xr

    repo = _ice_repo(endpoint, prefix, create=False)
    ds = xr.open_zarr(repo.readonly_session("main").store, consolidated=False)
    return {"time_counter": int(ds.sizes["time_counter"])}


def ours_open(url: str) -> dict[str, Any]:
    """Worker (measured): open a datastore version as a Dataset."""
    import jasmin_access as ja

    ds = ja.open_dataset(url, profile="bench", chunks=None)
    return {"time_counter": int(ds.sizes["time_counter"])}


def run_icechunk(bench: Bench, info: dict[str, Any]) -> list[Row]:
    """Commit of the one-month append and opening a version, Icechunk 1.x beside ours
    (conditional writes allowed for Icechunk, as it needs them)."""
    try:
        import icechunk  # noqa: F401
    except ImportError:
        why = "icechunk not installed (pip install 'icechunk<2'; 2.x needs Python >= 3.12)"
        return [skipped(ICE_COMMIT, "icechunk", why), skipped(ICE_OPEN, "icechunk", why)]
    assert bench.server is not None
    endpoint = bench.server.endpoint
    prefix = f"{bench.run_id}-ice"
    url = f"s3://{BUCKET}/{bench.run_id}-ds-ice"
    env = base_env(bench.ours_env(), bench.work_dir / "home")
    fs = bench.server.s3fs()

    def ice_before() -> None:
        if fs.exists(f"{BUCKET}/{prefix}"):
            fs.rm(f"{BUCKET}/{prefix}", recursive=True)
        fs.invalidate_cache()
        cmd = python_cmd(bench, "benchmarks.cases.datastore:icechunk_setup", endpoint=endpoint,
                         prefix=prefix, d12=str(info["d12"]))  # fmt: skip
        subprocess.run(cmd, env=env, check=True, capture_output=True)

    def ours_before() -> None:
        if _exists(bench, url):
            _ours(bench, "datastore", "rm", url)
        _ours(bench, "datastore", "create", url, "--from", str(info["d12"]))

    rows = [
        measure(bench, ICE_COMMIT, Measured(
            "jasmin-access datastore push",
            [bench.cli, "-q", "-p", "bench", "datastore", "push", url, str(info["d13"])],
            env=bench.ours_env(), ours=True, before=ours_before)),
        measure(bench, ICE_COMMIT, Measured(
            "icechunk commit (changed keys only)",
            python_cmd(bench, "benchmarks.cases.datastore:icechunk_commit", endpoint=endpoint,
                       prefix=prefix, d12=str(info["d12"]), d13=str(info["d13"])),
            env=bench.ours_env(), before=ice_before)),
    ]  # fmt: skip
    rows += [
        measure(bench, ICE_OPEN, Measured(
            "jasmin_access.open_dataset(URL@latest)",
            python_cmd(bench, "benchmarks.cases.datastore:ours_open", url=f"{url}@latest"),
            env=bench.ours_env(), ours=True)),
        measure(bench, ICE_OPEN, Measured(
            "icechunk readonly_session + xr.open_zarr",
            python_cmd(bench, "benchmarks.cases.datastore:icechunk_open", endpoint=endpoint,
                       prefix=prefix),
            env=bench.ours_env())),
    ]  # fmt: skip
    return rows
