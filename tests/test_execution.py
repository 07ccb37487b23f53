"""Bulk commands on a real ``dask.distributed`` cluster of worker processes.

One ``LocalCluster(processes=True)`` serves the whole module (clusters are slow
to start).  Its workers get the S3 credentials from their own environment, as
workers on a batch system would; what the client sends them is checked to
carry no secret.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jasmin_access.samples import NemoSpec, write_nemo_set
from jasmin_access.stores import resolve
from tests.cli.helpers import cli_run
from tests.conftest import TEST_KEY, TEST_PROFILE, TEST_SECRET

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Two worker processes of one thread each, with a config and credentials of their own.

    The workers' config names the profile (endpoint, no secret); their
    environment holds the keys, as on a batch system.
    """
    from jasmin_access.config import add_profile

    config = tmp_path_factory.mktemp("worker-home") / "config.toml"
    add_profile(TEST_PROFILE, {"endpoint_url": s3_endpoint, "retries": 3}, path=config)
    env = {
        "AWS_ACCESS_KEY_ID": TEST_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "JASMIN_ACCESS_CONFIG": str(config),
    }
    with distributed.LocalCluster(
        processes=True,
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        env=env,
        silence_logs=40,
    ) as started:
        yield started


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    spec = NemoSpec(nx=12, ny=10, nz=2, months=4, frequency="1d")
    return write_nemo_set(tmp_path_factory.mktemp("months"), spec)


def _put(files: list[Path], prefix: str, profile: str) -> list[str]:
    urls = []
    for f in files:
        loc = resolve(f"{prefix}/{f.name}", profile=profile)
        loc.fs.put(str(f), loc.path)
        urls.append(loc.url)
    return urls


def _snapshot(url: str, profile: str) -> dict[str, Any]:
    """Every object under a store: chunk bytes hashed, metadata without run provenance."""
    loc = resolve(url, profile=profile)
    loc.fs.invalidate_cache()
    out: dict[str, Any] = {}
    for path in sorted(loc.fs.find(loc.path)):
        key = path[len(loc.path) :].lstrip("/")
        data = loc.fs.cat_file(path)
        if key.endswith(("zarr.json", ".zattrs", ".zarray", ".zgroup", ".zmetadata")):
            out[key] = _drop_provenance(json.loads(data))
        else:
            out[key] = hashlib.sha256(data).hexdigest()
    return out


def _drop_provenance(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {
            k: _drop_provenance(v) for k, v in doc.items() if k not in ("history", "jasmin_access")
        }
    if isinstance(doc, list):
        return [_drop_provenance(v) for v in doc]
    return doc


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = cli_run(capsys, *args)
    assert code == 0, err
    return out


def test_convert_append_verify_index_on_the_cluster_equal_the_threaded_run(
    capsys: pytest.CaptureFixture[str], s3_bucket: str, s3_profile: str, months: list[Path],
    cluster: Any,
) -> None:  # fmt: skip
    address = cluster.scheduler_address
    urls = _put(months, f"{s3_bucket}/src", s3_profile)
    first, rest = urls[:3], urls[3:]
    common = ["-p", s3_profile, "-q", "--chunks", "time_counter=10"]
    for name, sched in (("threads", "threads"), ("cluster", address)):
        dest = f"{s3_bucket}/{name}.zarr"
        _run(capsys, "convert", *first, dest, *common, "--scheduler", sched)
        _run(capsys, "append", *rest, dest, "-p", s3_profile, "-q", "--scheduler", sched)
        _run(capsys, "verify", *urls, dest, "-p", s3_profile, "--scheduler", sched)
    threaded = _snapshot(f"{s3_bucket}/threads.zarr", s3_profile)
    assert len(threaded) > 20
    assert _snapshot(f"{s3_bucket}/cluster.zarr", s3_profile) == threaded

    indexes = []
    for name, sched in (("threads", "threads"), ("processes", "processes"), ("cluster", address)):
        dest = f"{s3_bucket}/src/{name}.index.json"
        _run(capsys, "index", *urls, dest, "-p", s3_profile, "-q", "--scheduler", sched)
        doc = json.loads(resolve(dest, profile=s3_profile).fs.cat_file(dest[len("s3://") :]))
        doc["jasmin_access"].pop("created")
        indexes.append(doc)
    assert indexes[0] == indexes[1] == indexes[2]
    assert len(indexes[0]["jasmin_access"]["sources"]) == len(urls)


def _where(tag: str, item: int) -> tuple[str, int, int]:
    return tag, item, os.getpid()


def test_processes_run_tasks_in_worker_processes_and_threads_in_this_one() -> None:
    from jasmin_access.execution import map_local

    for scheduler, here in (("processes", False), ("threads", True)):
        seen: dict[int, tuple[str, int, int]] = {}
        map_local(_where, range(6), seen.__setitem__, scheduler, 2, "x")
        assert sorted(seen) == list(range(6))
        assert {tag for tag, _, _ in seen.values()} == {"x"}
        assert all(item == i for i, (_, item, _) in seen.items())
        pids = {pid for _, _, pid in seen.values()}
        assert (pids == {os.getpid()}) is here, (scheduler, pids)


def test_tasks_sent_to_workers_carry_no_secret(
    s3_bucket: str, s3_profile: str, months: list[Path], cluster: Any
) -> None:
    from jasmin_access.conversion.writer import StoreTarget
    from jasmin_access.reading.index import _batch_refs

    loc = resolve(_put(months[:1], f"{s3_bucket}/src", s3_profile)[0], profile=s3_profile)
    target = StoreTarget.of(resolve(f"{s3_bucket}/x.zarr", profile=s3_profile), "run")
    loc.fs.info(loc.path)  # credentials resolved and cached in the client first
    for blob in (pickle.dumps(target), pickle.dumps((_batch_refs, "time_counter", [(0, loc)]))):
        assert TEST_SECRET.encode() not in blob
        assert TEST_KEY.encode() not in blob
    # the workers read theirs from their own environment
    seen = cluster_env(cluster)
    assert seen == {TEST_KEY}


def cluster_env(cluster: Any) -> set[str]:
    with distributed.Client(cluster.scheduler_address) as client:
        return set(client.run(lambda: os.environ.get("AWS_ACCESS_KEY_ID")).values())


def test_a_killed_worker_does_not_lose_the_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, s3_bucket: str,
    s3_profile: str, months: list[Path], cluster: Any,
) -> None:  # fmt: skip
    from jasmin_access.conversion.progress import Progress

    urls = _put(months, f"{s3_bucket}/src", s3_profile)
    with distributed.Client(cluster.scheduler_address) as client:
        pids = list(client.run(os.getpid).values())
    original = Progress.advance
    notes: list[str] = []
    monkeypatch.setattr(Progress, "note", lambda self, text: notes.append(text))

    def advance(self: Progress, nbytes: int) -> None:
        original(self, nbytes)
        if self.units == 2:  # mid-run: SIGKILL one worker process
            os.kill(pids[0], signal.SIGKILL)

    monkeypatch.setattr(Progress, "advance", advance)
    dest = f"{s3_bucket}/killed.zarr"
    opts = ["-p", s3_profile, "-q", "--chunks", "time_counter=8"]
    args = ["convert", *urls, dest, *opts]
    code, _, err = cli_run(capsys, *args, "--scheduler", cluster.scheduler_address)
    monkeypatch.setattr(Progress, "advance", original)
    assert any("dashboard" in n.lower() and "http" in n for n in notes), notes
    if code != 0:  # stopped: one line, then a rerun completes
        assert len(err.strip().splitlines()) == 1, err
        _run(capsys, *args, "--scheduler", cluster.scheduler_address)
    assert _killed(pids[0])
    _run(capsys, "verify", *urls, dest, "-p", s3_profile)
    _run(capsys, "convert", *urls, f"{s3_bucket}/threaded.zarr", *opts, "--scheduler", "threads")
    assert _snapshot(dest, s3_profile) == _snapshot(f"{s3_bucket}/threaded.zarr", s3_profile)


def _killed(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_dashboard_link_reaches_the_progress_bar(
    capsys: pytest.CaptureFixture[str], s3_bucket: str, s3_profile: str, months: list[Path],
    cluster: Any,
) -> None:  # fmt: skip
    from jasmin_access.conversion import convert

    convert([str(p) for p in months[:2]], f"{s3_bucket}/bar.zarr", profile=s3_profile,
            scheduler=cluster.scheduler_address, progress=True)  # fmt: skip
    err = capsys.readouterr().err
    assert "Dask dashboard: http://127.0.0.1:" in err
    assert "chunks" in err  # the bar counted the tasks as they finished


def test_unknown_scheduler_and_unreachable_cluster_fail_in_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    s3_bucket: str,
    s3_profile: str,
    months: list[Path],
) -> None:
    import dask

    from tests.conftest import _free_port

    monkeypatch.setitem(dask.config.config["distributed"]["comm"]["timeouts"], "connect", "2s")
    for sched, words in (("gpu", "unknown scheduler"), (f"tcp://127.0.0.1:{_free_port()}",
                                                       "no Dask scheduler answers")):  # fmt: skip
        code, _, err = cli_run(
            capsys, "convert", str(months[0]), f"{s3_bucket}/no.zarr", "-p", s3_profile,
            "--scheduler", sched,
        )  # fmt: skip
        assert code != 0 and words in err, err
        assert len(err.strip().splitlines()) == 1, err


def test_cluster_slurm_with_a_scheduler_or_without_slurm_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], s3_bucket: str, s3_profile: str, months: list[Path]
) -> None:
    code, _, err = cli_run(
        capsys, "index", f"{s3_bucket}/x.nc", "-p", s3_profile, "--cluster", "slurm",
        "--scheduler", "threads",
    )  # fmt: skip
    assert code != 0 and "--scheduler or --cluster, not both" in err, err
    code, _, err = cli_run(
        capsys, "index", f"{s3_bucket}/x.nc", "-p", s3_profile, "--cluster", "slurm", "--jobs", "2"
    )
    assert code != 0 and "sbatch" in err and len(err.strip().splitlines()) == 1, err


def _month_mean(task: Any) -> tuple[str, float]:
    return task.label, float(task().tos.mean())


def test_monthly_slices_of_netcdf_objects_in_place_computed_on_the_cluster(
    s3_bucket: str, s3_profile: str, months: list[Path], cluster: Any
) -> None:
    import xarray as xr

    import jasmin_access as ja
    from jasmin_access.open import build_index

    urls = _put(months, f"{s3_bucket}/nc", s3_profile)
    index = build_index(urls, f"{s3_bucket}/nc/run.index.json", profile=s3_profile)
    ref = xr.open_mfdataset(
        months, data_vars="minimal", coords="minimal", compat="override"
    ).tos.load()
    labels = ref.time_counter.dt.strftime("%Y-%m").rename("month")
    expected = {str(k): float(g.mean()) for k, g in ref.groupby(labels)}
    with distributed.Client(cluster.scheduler_address) as client:
        for source in (urls, f"{s3_bucket}/nc/*.nc", index):
            tasks = ja.slices(source, by="month", variables="tos", profile=s3_profile)
            assert [t.label for t in tasks] == list(expected)
            for task in tasks:
                blob = pickle.dumps(task)
                assert len(blob) < 2000
                assert TEST_SECRET.encode() not in blob and TEST_KEY.encode() not in blob
            means = dict(client.gather(client.map(_month_mean, tasks)))
            assert means == pytest.approx(expected, rel=1e-6)


def test_slices_by_size_and_count_cover_every_step_once(months: list[Path]) -> None:
    import jasmin_access as ja

    files = [str(p) for p in months]
    import xarray as xr

    total = 0
    for f in files:
        with xr.open_dataset(f) as ds:
            total += ds.sizes["time_counter"]
    for kw in ({"n": 3}, {"max_mb": 0.002}, {"by": "year"}):
        tasks = ja.slices(files, **kw)
        assert sum(t.size for t in tasks) == total
        steps = [(p.url, s) for t in tasks for p in t.pieces for s in range(p.start, p.stop)]
        assert len(set(steps)) == total
    assert len(ja.slices(files, n=3)) == 3
    assert len(ja.slices(files, max_mb=0.002)) > 3
    with pytest.raises(Exception, match="one of n=, by=, max_mb="):
        ja.slices(files, n=2, by="month")
