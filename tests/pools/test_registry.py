"""The registry: immutable records, newest wins, swept; names that could escape refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from jasmin_access import pools
from jasmin_access.errors import InvalidInput
from jasmin_access.fs import cat, ls
from jasmin_access.pools.registry import Record, Registry
from jasmin_access.stores import resolve
from tests.pools.conftest import define, put


def test_newest_record_wins_and_old_ones_are_swept(tmp_path: Path) -> None:
    reg = Registry(str(tmp_path / "reg"))
    for backend in ("a", "b", "c", "d", "e"):
        reg.write(Record("run1", backend, "placed", why=f"to {backend}", size=3))
    reg.forget("run1")
    assert reg.current("run1").backend == "e"  # type: ignore[union-attr]
    history = reg.history("run1")
    assert [r.backend for r in history] == ["c", "d", "e"]  # the newest three are kept
    assert len({r.key for r in history}) == 3
    full = reg.details(history[-1])
    assert full.why == "to e" and full.size == 3 and full.time <= full.time.now(full.time.tzinfo)
    names = sorted(p.name for p in (tmp_path / "reg" / "records" / "run1").iterdir())
    assert all("~placed~" in n and n.endswith(".json") for n in names)
    assert reg.datasets() == ["run1"]


def test_usage_snapshots_newest_first(tmp_path: Path) -> None:
    reg = Registry(str(tmp_path / "reg"))
    assert reg.usage() == ({}, None)
    reg.write_usage({"a": {"used": 1}})
    reg.write_usage({"a": {"used": 2}})
    usage, when = reg.usage()
    assert usage == {"a": {"used": 2}} and when is not None


@pytest.mark.parametrize("bad", ["pool://p/../x", "pool://p/a/../../etc", "pool://p/.pool/x"])
def test_names_that_escape_or_reach_the_registry_are_refused(dirs: list[Path], bad: str) -> None:
    define("p", [{"id": "a", "url": str(dirs[0])}])
    with pytest.raises(InvalidInput):
        resolve(bad, write=True)


def test_record_of_a_removed_backend_falls_back_to_a_search(dirs: list[Path]) -> None:
    url = define("gone", [{"id": "a", "url": str(dirs[0]), "order": 0},
                          {"id": "b", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    put(f"{url}/ds/x", b"1")
    (dirs[0] / "ds").rename(dirs[1] / "ds")  # an admin moved it by hand...
    define("gone", [{"id": "b", "url": str(dirs[1]), "order": 0}], registry=str(dirs[0] / ".pool"))
    assert cat(f"{url}/ds/x") == b"1"  # ...and removed the backend: found again, recorded
    assert pools.where(f"{url}/ds")["backend"] == "b"
    assert [e.name for e in ls("pool://")] == ["gone"]


def test_a_record_written_with_a_clock_behind_still_comes_last(tmp_path: Path) -> None:
    reg = Registry(str(tmp_path / "reg"))
    future = f"{(2**62):020d}-aaaaaaaaaa"  # written by a machine whose clock is far ahead
    reg.write(Record("run1", "a", "moving", key=future))
    later = reg.write(Record("run1", "b", "moved"))
    assert later.key > future
    reg.forget("run1")
    assert reg.current("run1").backend == "b"  # type: ignore[union-attr]


def test_a_removed_dataset_is_placed_afresh_when_written_again(dirs: list[Path]) -> None:
    from jasmin_access.fs import rm

    url = define("again", [{"id": "a", "url": str(dirs[0]), "order": 0},
                           {"id": "b", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    put(f"{url}/ds/x", b"1")
    pools.move(f"{url}/ds", "b", grace=0)
    rm(f"{url}/ds", recursive=True)
    assert not (dirs[1] / "ds" / "x").exists()
    put(f"{url}/ds/x", b"2")  # the old record says b, but nothing is there any more
    assert (dirs[0] / "ds" / "x").read_bytes() == b"2"
    assert pools.where(f"{url}/ds")["backend"] == "a"


def test_a_reader_who_cannot_write_the_registry_still_reads(
    dirs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jasmin_access.errors import ReadOnly

    (dirs[1] / "legacy").mkdir()
    (dirs[1] / "legacy" / "f").write_bytes(b"old")
    url = define("ro", [{"id": "a", "url": str(dirs[0]), "order": 0},
                        {"id": "b", "url": str(dirs[1]), "order": 1}])  # fmt: skip

    def refused(self: Registry, rec: Record) -> Record:
        raise ReadOnly(f"{self.url} is read-only", "write through a profile with credentials")

    monkeypatch.setattr(Registry, "write", refused)  # as for a reader of a public pool
    assert cat(f"{url}/legacy/f") == b"old"
    assert not (dirs[0] / ".pool" / "records" / "legacy").exists()
