"""Galaxy's object-store invariants, for datasets: where new data goes and what stays readable."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jasmin_access import pools
from jasmin_access.errors import InvalidInput, QuotaExceeded
from jasmin_access.fs import cat, ls
from jasmin_access.pools.config import Member, pool_from_table
from jasmin_access.pools.placement import Standing, choose
from jasmin_access.stores import resolve
from tests.pools.conftest import define, put


def _on(d: Path) -> set[str]:
    return {p.name for p in d.iterdir() if not p.name.startswith(".")}


def test_hierarchical_creates_land_on_the_first_backend(dirs: list[Path]) -> None:
    url = define("h", [{"id": f"d{i}", "url": str(d), "order": i} for i, d in enumerate(dirs)])
    for i in range(100):
        put(f"{url}/ds{i:03d}/part", b"abc")
    assert len(_on(dirs[0])) == 100
    assert _on(dirs[1]) == _on(dirs[2]) == set()
    assert pools.where(f"{url}/ds042")["backend"] == "d0"
    assert len(ls(f"{url}/")) == 100


def test_distributed_spreads_by_weight() -> None:
    """1,000 seeded choices over weights 1:2:7 land within 4 sigma of 10/20/70 %."""
    weights = [1.0, 2.0, 7.0]
    members = [{"id": f"b{i}", "url": f"/x{i}", "weight": w} for i, w in enumerate(weights)]
    pool = pool_from_table("d", {"type": "distributed", "backends": members})
    standings = {m.id: Standing(m, used=0) for m in pool.members}
    n = 1000
    counts = {m.id: 0 for m in pool.members}
    for i in range(n):
        counts[choose(pool, f"run{i}", standings).member.id] += 1
    for i, w in enumerate(weights):
        p = w / sum(weights)
        sigma = (n * p * (1 - p)) ** 0.5
        assert abs(counts[f"b{i}"] - n * p) < 4 * sigma, counts
    again = {f"run{i}": choose(pool, f"run{i}", standings).member.id for i in range(50)}
    assert again == {f"run{i}": choose(pool, f"run{i}", standings).member.id for i in range(50)}


def test_distributed_real_writes_follow_weights_and_skip_weight_zero(dirs: list[Path]) -> None:
    url = define(
        "d",
        [{"id": "a", "url": str(dirs[0]), "weight": 3},
         {"id": "b", "url": str(dirs[1]), "weight": 1},
         {"id": "ro", "url": str(dirs[2]), "weight": 0}],
        type="distributed",
    )  # fmt: skip
    for i in range(100):
        put(f"{url}/ds{i}/x")
    a, b = len(_on(dirs[0])), len(_on(dirs[1]))
    assert a + b == 100 and _on(dirs[2]) == set()
    assert 60 <= a <= 90, (a, b)  # 75 expected; binomial sd 4.3


def _disk_percent(path: Path) -> float:
    st = os.statvfs(path)
    return 100.0 * (st.f_blocks - st.f_bavail) / st.f_blocks


def test_full_backends_receive_nothing_new_but_stay_readable(dirs: list[Path]) -> None:
    disk = _disk_percent(dirs[1])
    (dirs[0] / "old").mkdir()
    (dirs[0] / "old" / "data").write_bytes(b"y" * 2000)
    url = define(
        "q",
        [{"id": "small", "url": str(dirs[0]), "order": 0, "quota": "1 KB"},
         {"id": "pct", "url": str(dirs[1]), "order": 1, "max_percent_full": max(disk - 1, 0.1)},
         {"id": "big", "url": str(dirs[2]), "order": 2}],
    )  # fmt: skip
    (dirs[1] / "held").mkdir()
    (dirs[1] / "held" / "data").write_bytes(b"z" * 6000)  # its disk is past the limit
    put(f"{url}/new/x")
    assert _on(dirs[2]) == {"new"}
    assert cat(f"{url}/old/data") == b"y" * 2000  # over quota, still readable
    assert cat(f"{url}/held/data") == b"z" * 6000
    rows = {r["backend"]: r for r in pools.status("q")}
    assert not rows["small"]["accepts_new"] and not rows["pct"]["accepts_new"]
    assert rows["pct"]["percent_full"] == pytest.approx(disk, abs=1) and rows["big"]["accepts_new"]


def test_quota_counts_the_size_about_to_be_written(dirs: list[Path]) -> None:
    url = define("s", [{"id": "a", "url": str(dirs[0]), "order": 0, "quota": "10 KB"},
                       {"id": "b", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    assert pools.place(f"{url}/small", size=9000)["backend"] == "a"
    assert pools.place(f"{url}/large", size=11_000)["backend"] == "b"


def test_data_written_since_the_usage_snapshot_counts_for_the_next_placement(
    dirs: list[Path],
) -> None:
    url = define("w", [{"id": "a", "url": str(dirs[0]), "order": 0, "quota": "2 KB"},
                       {"id": "b", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    put(f"{url}/first/data", b"x" * 2500)  # size unknown when placed: lands on a, fills it
    put(f"{url}/second/data")
    assert _on(dirs[0]) == {"first"} and _on(dirs[1]) == {"second"}


def test_nothing_has_room_one_line_naming_each_backend(dirs: list[Path]) -> None:
    (dirs[0] / "old").mkdir()
    (dirs[0] / "old" / "f").write_bytes(b"x" * 100)
    url = define("full", [{"id": "a", "url": str(dirs[0]), "quota": 50, "order": 0},
                          {"id": "b", "url": str(dirs[1]), "weight": 0, "order": 1}])  # fmt: skip
    with pytest.raises(QuotaExceeded) as info:
        put(f"{url}/new/x")
    text = str(info.value)
    assert "\n" not in text and "a over quota" in text and "b weight 0" in text
    assert _on(dirs[1]) == set() and _on(dirs[0]) == {"old"}


def test_rules_override_the_defaults_and_labels_choose(dirs: list[Path]) -> None:
    url = define(
        "r",
        [{"id": "fast", "url": str(dirs[0]), "order": 0},
         {"id": "gws", "url": str(dirs[1]), "order": 1, "labels": {"tier": "cold"}},
         {"id": "big", "url": str(dirs[2]), "order": 2}],
        rules=[{"match": "*_1d_*", "to": "gws"}, {"match": "*", "size": ">1MB", "to": "big"}],
    )  # fmt: skip
    put(f"{url}/ORCA1_1d_grid_T/x")
    put(f"{url}/ORCA1_1m_grid_T/x")
    assert _on(dirs[1]) == {"ORCA1_1d_grid_T"} and _on(dirs[0]) == {"ORCA1_1m_grid_T"}
    assert "rule 1" in pools.where(f"{url}/ORCA1_1d_grid_T")["why"]
    assert pools.place(f"{url}/huge", size=5 * 10**6)["backend"] == "big"
    assert pools.place(f"{url}/chilly", labels={"tier": "cold"})["backend"] == "gws"
    with pools.placing(labels={"tier": "cold"}):
        put(f"{url}/cold_run/x")
    assert "cold_run" in _on(dirs[1])
    with pytest.raises(InvalidInput, match="no backend of pool 'r' has the labels tier=hot"):
        pools.place(f"{url}/warm", labels={"tier": "hot"})


def test_rule_to_a_full_backend_stops_rather_than_ignoring_policy() -> None:
    pool = pool_from_table(
        "p", {"backends": [{"id": "a", "url": "/a"}, {"id": "b", "url": "/b", "quota": 10}],
              "rules": [{"match": "*", "to": "b"}]},
    )  # fmt: skip
    standings = {"a": Standing(pool.member("a"), 0), "b": Standing(pool.member("b"), 10)}
    with pytest.raises(QuotaExceeded, match="b over quota"):
        choose(pool, "x", standings, size=5)
    assert Standing(Member("u", "/u"), error="refused").refusal(0, True) == "u unreachable"


def test_data_written_before_the_pool_is_found_recorded_and_said_once(
    dirs: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    (dirs[1] / "legacy").mkdir()
    (dirs[1] / "legacy" / "f").write_bytes(b"old")
    url = define("m", [{"id": "a", "url": str(dirs[0]), "order": 0},
                       {"id": "b", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    caplog.set_level(logging.WARNING)
    assert cat(f"{url}/legacy/f") == b"old"
    pools.get_pool("m").registry.forget("legacy")  # a new process: only the record remains
    assert cat(f"{url}/legacy/f") == b"old"
    said = [r for r in caplog.records if "was not in the registry" in r.getMessage()]
    assert len(said) == 1
    assert pools.where(f"{url}/legacy")["state"] == "found"
    assert resolve(f"{url}/legacy/f").path == str(dirs[1] / "legacy" / "f")


def test_label_on_the_command_line_chooses_the_backend(dirs: list[Path], tmp_path: Path) -> None:
    url = define("lab", [{"id": "fast", "url": str(dirs[0]), "order": 0},
                         {"id": "cold", "url": str(dirs[1]), "order": 1,
                          "labels": {"tier": "cold"}}])  # fmt: skip
    src = tmp_path / "f.txt"
    src.write_bytes(b"abc")
    exe = str(Path(sys.executable).with_name("jasmin-access"))
    argv = [exe, "-q", "cp", str(src), f"{url}/chilly/f.txt", "--label", "tier=cold"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _on(dirs[1]) == {"chilly"} and _on(dirs[0]) == set()
    bad = subprocess.run([exe, "cp", str(src), f"{url}/x/f", "--label", "tier"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode != 0 and "invalid label 'tier'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_max_percent_full_counts_what_is_about_to_be_written() -> None:
    disk = Member("gws", "/gws", max_percent_full=60)
    st = Standing(disk, used=0, disk_percent=50.0, disk_total=1000)
    assert st.refusal(50, True) is None  # 55 % after the write
    assert st.refusal(200, True) == "gws 50% full, 70% with this write (limit 60%)"
    tenancy = Member("t", "s3://b", quota=1000, max_percent_full=90)
    assert Standing(tenancy, used=850).refusal(40, True) is None
    assert "90%" in str(Standing(tenancy, used=850).refusal(60, True))
