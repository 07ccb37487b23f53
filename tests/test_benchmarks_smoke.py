"""The benchmark instrument end to end on one tiny case: ``du`` over 200 keys, our side only.

No timings are asserted: only that the harness measures the real CLI against the
test S3 server and counts the requests it made from the server's request log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.cases.du import case_name, ours_du
from benchmarks.datasets import small_objects
from benchmarks.harness import Bench, Spawner, apply_ratios, measure, render_table
from benchmarks.server import S3Server, classify, count_requests


@pytest.fixture
def request_log(s3_endpoint: str, tmp_path: Path) -> Iterator[Path]:
    """The test server's werkzeug request lines, written to a file while the test runs."""
    path = tmp_path / "requests.log"
    logger = logging.getLogger("werkzeug")
    handler = logging.FileHandler(path)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(old_level)


def _bench(tmp_path: Path, runs: int, server: S3Server | None) -> Bench:
    bench = Bench(
        quick=True,
        scale=0.01,
        runs=runs,
        data_dir=tmp_path / "data",
        work_dir=tmp_path / "work",
        server=server,
    )
    bench.work_dir.mkdir()
    return bench


def test_du_case_produces_a_row_with_requests(
    s3_endpoint: str, request_log: Path, tmp_path: Path
) -> None:
    server = S3Server(tmp_path / "srv", endpoint=s3_endpoint, log_path=request_log)
    bench = _bench(tmp_path, 1, server)
    server.write_profile(bench.config_path)
    tree = small_objects(server, "smoke-bench", 200)
    try:
        row = measure(bench, case_name(tree.count), ours_du(bench, tree.url, tree.count))
    finally:
        Spawner.close()
    apply_ratios([row])
    assert row.ok, row.note
    assert row.ours
    assert row.requests is not None
    assert row.requests.total > 0
    assert row.requests.kinds["LIST"] > 0
    assert row.rss_mb is not None and row.rss_mb > 0
    table = render_table([row])
    assert "du 200 keys" in table
    assert "jasmin-access du -s" in table


def test_request_log_is_classified() -> None:
    log = (
        '127.0.0.1 - - [21/Nov/2026 07:48:41] "GET /b?list-type=2&prefix=a%2F HTTP/1.1" 200 -\n'
        '127.0.0.1 - - [21/Nov/2026 07:48:41] "GET /b/s.zarr/thetao/c/0/1/0/0 HTTP/1.1" 200 -\n'
        '127.0.0.1 - - [21/Nov/2026 07:48:41] "GET /b/s.zarr/zarr.json HTTP/1.1" 200 -\n'
        '127.0.0.1 - - [21/Nov/2026 07:48:41] "PUT /b/k?partNumber=2&uploadId=x HTTP/1.1" 200 -\n'
        '127.0.0.1 - - [21/Nov/2026 07:48:41] "HEAD /b/missing HTTP/1.1" 404 -\n'
    )
    counts = count_requests(log)
    assert counts.total == 5
    assert counts.kinds == {"LIST": 1, "CHUNK": 1, "GET": 1, "PART": 1, "HEAD": 1}
    assert counts.chunks == {"thetao": 1}
    assert counts.errors == 1
    assert classify("POST", "/b?delete") == "BULKDEL"
    assert classify("POST", "/b/k?uploads") == "MPU"


def test_checks_render_targets_and_figures_for_information() -> None:
    from benchmarks.harness import Check, render_checks

    text = render_checks(
        [
            Check("fast", "2.0x", True),
            Check("slow", "1.2x", False),
            Check("whole", "1.3x", None, True),
        ]
    )
    lines = text.splitlines()
    assert lines[0].endswith("**met**") and lines[1].endswith("**NOT met**")
    assert lines[2] == "- whole: 1.3x — for information"


def test_commands_of_a_case_run_in_turns_and_ratios_come_turn_by_turn(tmp_path: Path) -> None:
    from benchmarks.harness import Measured, measure_group

    order = tmp_path / "order"
    bench = _bench(tmp_path, 3, None)

    def cmd(name: str, pause: float) -> list[str]:
        return ["sh", "-c", f"echo {name} >> {order}; sleep {pause}"]

    try:
        rows = measure_group(
            bench,
            "turns",
            [Measured("a", cmd("A", 0.05), ours=True), Measured("b", cmd("B", 0.3))],
        )
    finally:
        Spawner.close()
    assert order.read_text().split() == ["A", "B", "A", "B", "A", "B"]
    apply_ratios(rows)
    ours, peer = rows
    assert len(ours.runs) == len(peer.runs) == 3
    assert len(peer.ratios) == 3
    assert peer.ratio is not None and peer.ratio > 1.5
    assert min(peer.ratios) <= peer.ratio <= max(peer.ratios)
    assert "(" in render_table(rows).splitlines()[-1]  # the turn-by-turn range is shown


def test_another_revision_is_imported_from_its_worktree(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from benchmarks.harness import ROOT
    from benchmarks.revision import Revision

    rev = Revision.checkout("HEAD", tmp_path)
    try:
        env = {**os.environ, "PYTHONPATH": f"{rev.path}{os.pathsep}{ROOT}"}
        code = "import jasmin_access as j, benchmarks as b; print(j.__file__, b.__file__)"
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        ours_file, bench_file = out.stdout.split()
        assert ours_file.startswith(str(rev.path)), out
        assert bench_file.startswith(str(ROOT / "benchmarks")), out
    finally:
        rev.remove()
    assert not rev.worktree.exists()


def test_deep_variants_have_their_own_grid_and_the_default_chunks() -> None:
    from benchmarks.__main__ import parse_args
    from benchmarks.cases.convert import chunk_spec, default_chunked
    from benchmarks.datasets import DEEP_GRID, nemo_spec

    assert parse_args([]).variants == "smooth,noisy"  # the full run is not made longer

    spec = nemo_spec(1.0, "deep-noisy")
    assert (spec.nx, spec.ny, spec.nz) == DEEP_GRID != (nemo_spec(1.0).nx, nemo_spec(1.0).ny, 75)
    assert default_chunked("deep-noisy") and not default_chunked("noisy")
    chunks = chunk_spec(1.0, "deep")
    # the default rule: one step, whole slabs, as many levels as fit in 16 MiB
    assert (chunks["time_counter"], chunks["y"], chunks["x"]) == (1, spec.ny, spec.nx)
    assert chunks["deptht"] < spec.nz and chunks["deptht"] * spec.ny * spec.nx * 4 <= 16 << 20
    assert chunk_spec(1.0, "noisy")["deptht"] == 25  # the eORCA1 set keeps its given chunks
