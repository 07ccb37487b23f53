"""Search a STAC catalog on the S3 server: our parquet index against fetching every JSON.

Two synthetic catalogs are published once per run (not measured) in a public
bucket, read anonymously over http like a public JASMIN bucket:

- ``catalog-100k``: the search index of 100,000 items (10,000 when quick),
  written by :func:`jasmin_access.catalog.table.write_table`.  Ours only: its
  JSON would take the server (~220 PUT/s) most of an hour to store, and the
  peer over 100,000 GETs longer still.
- ``catalog-small``: 2,000 items (500 when quick) as STAC JSON (root, one
  collection per item, items) *and* its index.  Ours:
  ``jasmin_access.catalog.search``; peer: ``pystac.Catalog.from_file(...)
  .get_items(recursive=True)`` and the same bbox/time/variable filter in Python
  (what searching a static catalog without an index costs today).

Both sides answer the same query and must find the same items.  In-process
times (libraries imported) are reported beside the whole-process ones.
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..harness import Bench, Check, Measured, Row, Run, find_row, measure_group, python_cmd
from ._common import human_count

__all__ = [
    "NAME", "checks", "ours_search", "peer_search", "prepare", "prepare_rebuild", "rebuild", "run",
]  # fmt: skip

NAME = "catalog"
BUCKET = "bench-catalog"
QUERY = {"bbox": [-30.0, 40.0, -10.0, 60.0], "time": ["1990-01", "2000-12"], "var": "thetao"}
VARIABLES = ["thetao", "so", "tos", "zos", "uo", "vo", "mlotst", "siconc"]


def _rows(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Synthetic index rows: regional boxes, decades of monthly output, a few variables."""
    from jasmin_access.catalog.extents import stac_datetime

    rng = random.Random(seed)
    rows = []
    for n in range(count):
        w, s = rng.uniform(-180, 150), rng.uniform(-80, 60)
        y0 = rng.randint(1950, 2080)
        names = sorted(rng.sample(VARIABLES, 3))
        cal = rng.choice(["gregorian", "noleap", "360_day"])
        cid = f"run{n:06d}"
        rows.append(
            {
                "id": cid, "collection": cid, "west": w, "south": s,
                "east": w + rng.uniform(5, 30), "north": s + rng.uniform(5, 20),
                "time_start": f"{y0}-01-16T00:00:00", "time_end": f"{y0 + 9}-12-16T00:00:00",
                "calendar": cal, "variables": names,
                "standard_names": [f"standard_{v}" for v in names],
                "text": f"{cid} eorca1 {cal} {' '.join(names)}", "title": cid,
                "item_href": f"{cid}/{cid}.json", "asset_href": f"../runs/{cid}.zarr",
                "media_type": "application/vnd.zarr; version=3", "format": "zarr v3",
                "datetime_start": stac_datetime(f"{y0}-01-16"),
                "datetime_end": stac_datetime(f"{y0 + 9}-12-16"), "nbytes": 1 << 30,
                "stored_bytes": None, "source_url": f"s3://{BUCKET}/runs/{cid}.zarr",
                "fingerprint": "x", "summary": "{}",
            }
        )  # fmt: skip
    return rows


def _item_json(row: dict[str, Any]) -> bytes:
    from jasmin_access.catalog.extents import stac_datetime

    w, s, e, n = row["west"], row["south"], row["east"], row["north"]
    item = {
        "type": "Feature", "stac_version": "1.1.0", "id": row["id"], "collection": row["id"],
        "geometry": {"type": "Polygon",
                     "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "bbox": [w, s, e, n],
        "properties": {
            "datetime": None,
            "start_datetime": stac_datetime(row["time_start"]).isoformat(),  # type: ignore[union-attr]
            "end_datetime": stac_datetime(row["time_end"]).isoformat(),  # type: ignore[union-attr]
            "cube:variables": {v: {"dimensions": ["time", "y", "x"]} for v in row["variables"]},
        },
        "links": [{"rel": "root", "href": "../catalog.json"},
                  {"rel": "parent", "href": "./collection.json"}],
        "assets": {"data": {"href": "../" + row["asset_href"], "roles": ["data"]}},
    }  # fmt: skip
    return json.dumps(item).encode()


def _collection_json(row: dict[str, Any]) -> bytes:
    coll = {
        "type": "Collection", "stac_version": "1.1.0", "id": row["id"], "description": row["id"],
        "license": "other",
        "extent": {"spatial": {"bbox": [[row["west"], row["south"], row["east"], row["north"]]]},
                   "temporal": {"interval": [[None, None]]}},
        "links": [{"rel": "root", "href": "../catalog.json"},
                  {"rel": "parent", "href": "../catalog.json"},
                  {"rel": "item", "href": f"./{row['id']}.json"}],
    }  # fmt: skip
    return json.dumps(coll).encode()


def prepare(endpoint: str, big: int, small: int) -> dict[str, Any]:
    """Publish both catalogs in a public bucket (worker; not measured)."""
    from jasmin_access.catalog._storage import Access, CatalogStore
    from jasmin_access.catalog.table import write_table
    from jasmin_access.stores import resolve

    access = Access(profile="bench")
    fs = resolve(f"s3://{BUCKET}", profile="bench").fs
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
              "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{BUCKET}/*"]}]}  # fmt: skip
    fs.call_s3("put_bucket_policy", Bucket=BUCKET, Policy=json.dumps(policy))
    size = write_table(CatalogStore(f"s3://{BUCKET}/catalog-100k", access), _rows(big), "big")
    rows = _rows(small, seed=1)
    store = CatalogStore(f"s3://{BUCKET}/catalog-small", access)
    write_table(store, rows, "small")
    root = {"type": "Catalog", "stac_version": "1.1.0", "id": "small", "description": "small",
            "links": [{"rel": "root", "href": "./catalog.json"}]
            + [{"rel": "child", "href": f"./{r['id']}/collection.json"} for r in rows]}  # fmt: skip
    writes = [("catalog.json", json.dumps(root).encode())]
    for row in rows:
        writes.append((f"{row['id']}/collection.json", _collection_json(row)))
        writes.append((row["item_href"], _item_json(row)))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: store.write(kv[0], kv[1], "application/json"), writes))
    return {"index_bytes": size, "objects": len(writes)}


def ours_search(url: str) -> dict[str, Any]:
    """``jasmin_access.catalog.search`` of the public catalog (worker)."""
    import time

    import jasmin_access as ja

    ja.catalog.search  # noqa: B018 - import outside the timed part
    started, cpu = time.perf_counter(), time.process_time()
    items = ja.catalog.search(url, bbox=QUERY["bbox"], time="/".join(QUERY["time"]),
                              variables=QUERY["var"])  # fmt: skip
    seconds = time.perf_counter() - started
    return {"found": sorted(i.id for i in items), "inprocess_s": seconds,
            "cpu_s": time.process_time() - cpu}  # fmt: skip


def peer_search(url: str) -> dict[str, Any]:
    """pystac: read every JSON of the catalog, then filter in Python (worker)."""
    import time

    import pystac

    started = time.perf_counter()
    catalog = pystac.Catalog.from_file(url)
    w, s, e, n = QUERY["bbox"]
    start, end = QUERY["time"]
    found = []
    for item in catalog.get_items(recursive=True):
        iw, is_, ie, in_ = item.bbox
        props = item.properties
        if not (iw <= e and w <= ie and is_ <= n and s <= in_):
            continue
        if props["start_datetime"][: len(end)] > end or props["end_datetime"] < start:
            continue
        if QUERY["var"] in props.get("cube:variables", {}):
            found.append(item.id)
    seconds = time.perf_counter() - started
    return {"found": sorted(found), "inprocess_s": seconds}


def _same_items(bench: Bench, key: str) -> Any:
    def check(run: Run) -> str:
        found = run.result.get("found")
        seen = bench.cache.setdefault(key, found)
        if found is None or found != seen:
            raise ValueError(f"found {len(found or [])} items, the other side {len(seen or [])}")
        inner, cpu = run.result.get("inprocess_s"), run.result.get("cpu_s")
        bench.cache.setdefault(f"{key}:inprocess", []).append(float(inner or 0))
        if cpu is not None:
            bench.cache.setdefault(f"{key}:cpu", []).append(float(cpu))
        extra = f" (CPU {float(cpu):.3f} s)" if cpu is not None else ""
        return f"{len(found)} found; search in process {float(inner or 0):.3f} s{extra}"

    return check


def run(bench: Bench) -> list[Row]:
    """Publish the catalogs once, then search them."""
    from ..harness import base_env, run_once

    assert bench.server is not None
    big, small = (10_000, 500) if bench.quick else (100_000, 2_000)
    cmd = python_cmd(
        bench, "benchmarks.cases.catalog:prepare", endpoint=bench.server.endpoint, big=big,
        small=small,
    )  # fmt: skip
    prep = run_once(cmd, base_env(bench.ours_env(), bench.work_dir / "home"))
    if prep.returncode != 0:
        raise RuntimeError(f"could not publish the catalogs: {prep.failure()}")
    base = f"{bench.server.endpoint}/{BUCKET}"
    rows = []
    big_case = f"catalog search, {human_count(big)} items (index only)"
    ours = Measured("jasmin_access.catalog.search",
                    python_cmd(bench, "benchmarks.cases.catalog:ours_search",
                               url=f"{base}/catalog-100k"),
                    ours=True, check=_same_items(bench, "big"))  # fmt: skip
    rows += measure_group(bench, big_case, [ours])
    small_case = f"catalog search, {human_count(small)} items"
    sides = []
    for tool, func, is_ours in (
        ("jasmin_access.catalog.search", "ours_search", True),
        ("pystac get_items(recursive=True) + filter", "peer_search", False),
    ):
        cmd = python_cmd(bench, f"benchmarks.cases.catalog:{func}",
                         url=f"{base}/catalog-small/catalog.json")  # fmt: skip
        sides.append(Measured(tool, cmd, ours=is_ours, check=_same_items(bench, "small")))
    rows += measure_group(bench, small_case, sides)  # in turns: ours, pystac, ours ...
    rows += _rebuild_rows(bench, 10 if bench.quick else 40)
    bench.cache["catalog_cases"] = (big_case, small_case)
    return rows


# --------------------------------------------------------------------------- rebuild

REBUILD_CASE = "catalog rebuild after one of {} stores changed"


def prepare_rebuild(stores: int) -> dict[str, Any]:
    """``stores`` small converted stores and a catalog of them (worker; not measured)."""
    import tempfile
    from pathlib import Path

    import jasmin_access as ja
    from jasmin_access.samples import NemoSpec, write_nemo_set

    with tempfile.TemporaryDirectory() as tmp:
        files = write_nemo_set(Path(tmp), NemoSpec(prefix="run", nx=8, ny=6, nz=2, months=2))
        local = f"{tmp}/run.zarr"
        ja.convert([str(p) for p in files], local)
        urls = [f"s3://{BUCKET}/stores/run{n:03d}.zarr" for n in range(stores)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda u: ja.cp(local + "/", u + "/", recursive=True,
                                          profile="bench"), urls))  # fmt: skip
    report = ja.catalog.build(f"s3://{BUCKET}/stores/", to=f"s3://{BUCKET}/catalog-stores",
                              profile="bench")  # fmt: skip
    return {"written": len(report.written)}


def _touch_one() -> str:
    """Change one store as an append does: its root metadata is rewritten (new ETag)."""
    import time

    from jasmin_access.stores import resolve

    url = f"s3://{BUCKET}/stores/run000.zarr/zarr.json"
    loc = resolve(url, profile="bench")
    doc = json.loads(loc.fs.cat_file(loc.path))
    doc.setdefault("attributes", {})["history"] = f"touched {time.time()}"
    loc.fs.pipe_file(loc.path, json.dumps(doc).encode())
    return url


def rebuild(full: bool) -> dict[str, Any]:
    """Change one store, then rebuild: incrementally, or a whole new catalog (worker)."""
    import time
    import uuid

    import jasmin_access as ja

    _touch_one()
    to = f"s3://{BUCKET}/" + (f"catalog-full-{uuid.uuid4().hex[:8]}" if full else "catalog-stores")
    started = time.perf_counter()
    report = ja.catalog.build(f"s3://{BUCKET}/stores/", to=to, profile="bench")
    return {"written": len(report.written), "inprocess_s": time.perf_counter() - started}


def _rebuild_rows(bench: Bench, stores: int) -> list[Row]:
    from ..harness import base_env, run_once

    cmd = python_cmd(bench, "benchmarks.cases.catalog:prepare_rebuild", stores=stores)
    prep = run_once(cmd, base_env(bench.ours_env(), bench.work_dir / "home"))
    if prep.returncode != 0:
        raise RuntimeError(f"could not build the catalog of stores: {prep.failure()}")

    def written(expected: int) -> Any:
        def check(run: Run) -> str:
            got = run.result.get("written")
            if got != expected:
                raise ValueError(f"{got} entries written, expected {expected}")
            puts = run.requests.kinds.get("PUT", 0) if run.requests else 0
            return f"{got} written, {puts} PUTs (1 is the change)"

        return check

    sides = [
        Measured("jasmin-access catalog build (incremental)",
                 python_cmd(bench, "benchmarks.cases.catalog:rebuild", full=False),
                 env=bench.ours_env(), ours=True, check=written(1)),
        Measured("the same catalog built whole",
                 python_cmd(bench, "benchmarks.cases.catalog:rebuild", full=True),
                 env=bench.ours_env(), check=written(stores)),
    ]  # fmt: skip
    return measure_group(bench, REBUILD_CASE.format(stores), sides)


def checks(bench: Bench, rows: list[Row]) -> list[Check]:
    """Search of the big index under 1 s in process and in at most 3 requests."""
    big_case, small_case = bench.cache.get("catalog_cases", ("", ""))
    row = find_row(rows, big_case)
    times = bench.cache.get("big:inprocess") or []
    out = []
    if row is None or not times:
        out.append(Check("search of a 100k-item catalog < 1 s", "not measured", None))
    else:
        import statistics

        median = statistics.median(times)
        cpu = bench.cache.get("big:cpu") or []
        shown = f"median {median:.3f} s (best {min(times):.3f} s)"
        if cpu:
            shown += f"; CPU median {statistics.median(cpu):.3f} s"
        out.append(Check(f"{big_case}: < 1 s (in process)", shown, median < 1.0))
        count = row.requests.total if row.requests else None
        out.append(Check(f"{big_case}: ≤ 3 requests", str(count), count is not None and count <= 3))
    peer = find_row(rows, small_case, "pystac get_items(recursive=True) + filter")
    if peer is not None and peer.ratio is not None:
        out.append(Check(f"{small_case}: faster than pystac get_items + filter",
                         f"{peer.ratio:.1f}x ({peer.seconds:.2f} s whole process)",
                         peer.ratio > 1.0))  # fmt: skip
    for row in rows:
        if row.case.startswith(REBUILD_CASE.split("{")[0]) and row.ours and row.ok:
            puts = row.requests.kinds.get("PUT", 0) if row.requests else None
            # the change itself, the entry's collection and item, index, page, root
            out.append(Check(f"{row.case}: only that entry and the index rewritten",
                             f"{puts} PUTs", puts == 6))  # fmt: skip
    return out
