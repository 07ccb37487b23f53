"""Moves between backends: readers see the old or the new copy, never neither; kill -9 resumes.

Moves, writers and readers run as real ``jasmin-access`` processes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jasmin_access import pools
from jasmin_access.fs import cat, ls
from jasmin_access.localstore import TMP_PREFIX
from tests.cli.helpers import cli_run
from tests.pools.conftest import define, put

EXE = str(Path(sys.executable).with_name("jasmin-access"))
RNG = random.Random(20261129)
FILES = 40


def _fill(url: str) -> dict[str, bytes]:
    content = {f"k{i:02d}": os.urandom(2000 + i) for i in range(FILES)}
    for key, data in content.items():
        put(f"{url}/run1/{key}", data)
    return content


def _readable(url: str, content: dict[str, bytes]) -> None:
    """Every object of the dataset reads back whole, as a new process would find it."""
    name = url.removeprefix("pool://")
    pools.get_pool(name).registry.forget("run1")
    names = {e.name for e in ls(f"{url}/run1/")}
    assert names == set(content)
    for probe in RNG.sample(sorted(content), 3):
        assert cat(f"{url}/run1/{probe}") == content[probe]


def test_move_copies_verifies_switches_and_deletes(dirs: list[Path]) -> None:
    url = define("mv", [{"id": "hot", "url": str(dirs[0]), "order": 0},
                        {"id": "cold", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    content = _fill(url)
    out = pools.move(f"{url}/run1", "cold", grace=0)
    assert out["moved"] and out["bytes"] == sum(len(v) for v in content.values())
    assert not (dirs[0] / "run1").exists() and len(list((dirs[1] / "run1").iterdir())) == FILES
    assert cat(f"{url}/run1/k07") == content["k07"]
    info = pools.where(f"{url}/run1")
    assert info["backend"] == "cold" and info["state"] == "settled" and "hot" in info["why"]
    assert pools.move(f"{url}/run1", "cold", grace=0)["moved"] is False


@pytest.mark.slow
def test_move_killed_at_random_points_stays_readable_and_resumes(dirs: list[Path]) -> None:
    url = define("k", [{"id": "hot", "url": str(dirs[0]), "order": 0},
                       {"id": "cold", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    content = _fill(url)
    killed = 0
    states: list[str] = []
    for round_ in range(3):
        dst = "cold" if round_ % 2 == 0 else "hot"
        proc = subprocess.Popen(
            [EXE, "-q", "pool", "move", f"{url}/run1", "--to", dst, "--grace", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        records = dirs[0] / ".pool" / "records" / "run1"
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:  # wait for its first record
            if any("~moving~" in p.name for p in records.iterdir()):
                break
            time.sleep(0.005)
        time.sleep(RNG.uniform(0.0, 0.3))  # a random point of the copy, switch or delete
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.communicate(timeout=60)
        states.append(pools.get_pool("k").registry.current("run1", fresh=True).state)
        _readable(url, content)  # between kill and resume: old or new copy, whole
        done = subprocess.run(
            [EXE, "-q", "pool", "move", f"{url}/run1", "--to", dst, "--grace", "0"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        _readable(url, content)
        src_dir = dirs[1] if dst == "hot" else dirs[0]
        left = [p.name for p in (src_dir / "run1").rglob("*") if p.is_file()]
        assert all(n.startswith(TMP_PREFIX) for n in left), left  # the old copy is gone
        assert pools.where(f"{url}/run1")["state"] == "settled"
    assert killed >= 2, states  # the test did interrupt moves, at these states


def test_two_processes_writing_different_datasets_keep_both_records(
    dirs: list[Path], tmp_path: Path
) -> None:
    members = [{"id": "a", "url": str(dirs[0])}, {"id": "b", "url": str(dirs[1])}]
    url = define("c", members, type="distributed")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(20):
        (src / f"f{i}").write_bytes(b"v" * 100)
    procs = [
        subprocess.Popen([EXE, "-q", "cp", "-r", str(src), f"{url}/writer{n}"],
                         stderr=subprocess.PIPE, text=True)
        for n in range(2)
    ]  # fmt: skip
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read() if p.stderr else ""
    registry = pools.get_pool("c").registry
    assert {"writer0", "writer1"} <= set(registry.datasets())
    for n in range(2):
        rec = registry.current(f"writer{n}", fresh=True)
        assert rec is not None and rec.state == "placed"
        assert len(list((dirs[0 if rec.backend == "a" else 1] / f"writer{n}").iterdir())) == 20


def test_rebalance_drains_a_backend_over_quota(dirs: list[Path]) -> None:
    url = define("rb", [{"id": "a", "url": str(dirs[0]), "order": 0},
                        {"id": "b", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    for i in range(3):
        put(f"{url}/ds{i}/x", b"x" * (1000 * (i + 1)))
    text = (Path(os.environ["JASMIN_ACCESS_CONFIG"])).read_text()
    define("rb", [{"id": "a", "url": str(dirs[0]), "order": 0, "quota": "3500 B"},
                  {"id": "b", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    assert text != Path(os.environ["JASMIN_ACCESS_CONFIG"]).read_text()
    plan = pools.rebalance("rb", dry_run=True)
    assert [(r["dataset"], r["to"]) for r in plan] == [("ds2", "b")]
    assert (dirs[0] / "ds2").exists()  # dry run moved nothing
    done = pools.rebalance("rb", grace=0)
    assert done[0]["done"] and not (dirs[0] / "ds2").exists() and (dirs[1] / "ds2").exists()
    assert pools.rebalance("rb", dry_run=True) == []


def test_adopt_records_data_already_there(dirs: list[Path]) -> None:
    (dirs[1] / "legacy").mkdir()
    (dirs[1] / "legacy" / "f").write_bytes(b"abc")
    url = define("ad", [{"id": "a", "url": str(dirs[0]), "order": 0},
                        {"id": "b", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    out = pools.adopt("ad", str(dirs[1] / "legacy"))
    assert out == {"url": f"{url}/legacy", "backend": "b", "state": "adopted"}
    with pytest.raises(Exception, match="not under any backend"):
        pools.adopt("ad", str(dirs[2]))


def test_cli_json_for_where_place_move_rebalance_adopt(
    dirs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url = define("j", [{"id": "a", "url": str(dirs[0]), "order": 0},
                       {"id": "b", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    put(f"{url}/ds/x", b"123")
    (dirs[1] / "old").mkdir()
    (dirs[1] / "old" / "y").write_bytes(b"4")

    def run(*argv: str) -> list[dict]:
        code, out, err = cli_run(capsys, "--json", "pool", *argv)
        assert code == 0, err
        return [json.loads(line) for line in out.splitlines()]

    assert run("where", f"{url}/ds")[0]["backend"] == "a"
    placed = run("place", f"{url}/new")[0]
    assert placed == {
        "url": f"{url}/new",
        "backend": "a",
        "why": "order 0 (first backend with room)",
    }
    moved = run("move", f"{url}/ds", "--to", "b", "--grace", "0")[0]
    assert moved["moved"] and moved["from"] == "a" and moved["bytes"] == 3
    assert run("rebalance", "j", "--dry-run") == []
    assert run("adopt", "j", str(dirs[1] / "old"))[0]["backend"] == "b"
    code, _, err = cli_run(capsys, "pool", "place", f"{url}/ds")
    assert code != 0 and "already stored on b" in err and "Traceback" not in err
    code, _, err = cli_run(capsys, "pool", "move", f"{url}/nothing", "--to", "b")
    assert code != 0 and "exists on no backend" in err


def test_old_copy_outlives_the_switch_by_the_grace(dirs: list[Path]) -> None:
    import threading

    url = define("g", [{"id": "hot", "url": str(dirs[0]), "order": 0},
                       {"id": "cold", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    put(f"{url}/run1/x", b"data")
    mover = threading.Thread(target=pools.move, args=(f"{url}/run1", "cold"), kwargs={"grace": 2})
    mover.start()
    registry = pools.get_pool("g").registry
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rec = registry.current("run1", fresh=True)
        if rec is not None and rec.state == "moved":
            break
        time.sleep(0.02)
    assert rec is not None and rec.state == "moved"
    assert (dirs[0] / "run1" / "x").read_bytes() == b"data"  # a reader who looked earlier
    assert (dirs[1] / "run1" / "x").read_bytes() == b"data"  # readers from now on
    mover.join(timeout=30)
    assert not (dirs[0] / "run1" / "x").exists()
