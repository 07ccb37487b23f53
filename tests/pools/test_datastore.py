"""A datastore inside a pool: created, pushed, opened and moved through one pool:// URL."""

from __future__ import annotations

import shutil
from pathlib import Path

import jasmin_access as ja
from jasmin_access import datastore as dst
from jasmin_access import pools
from tests.pools.conftest import define


def test_a_datastore_lives_in_a_pool(
    dirs: list[Path], nemo_files: list[Path], tmp_path: Path
) -> None:
    two, three = tmp_path / "two.zarr", tmp_path / "three.zarr"
    ja.convert([str(p) for p in nemo_files[:2]], str(two))
    shutil.copytree(two, three)
    ja.append([str(nemo_files[2])], str(three))
    url = define("dsp", [{"id": "fast", "url": str(dirs[0]), "order": 0},
                         {"id": "cold", "url": str(dirs[1]), "order": 1}])  # fmt: skip
    first = dst.create(f"{url}/run1", str(two), "two months")
    second = dst.push(f"{url}/run1", str(three), "march")
    assert first is not None and second.parent == first.version
    assert (dirs[0] / "run1").is_dir() and not (dirs[1] / "run1").exists()
    assert ja.open_dataset(f"{url}/run1").sizes["time_counter"] == 3
    assert ja.open_dataset(f"{url}/run1@{first.version}").sizes["time_counter"] == 2
    pools.move(f"{url}/run1", "cold", grace=0)  # tiering a whole datastore, versions and all
    assert not (dirs[0] / "run1").exists()
    assert [v["id"] for v in dst.log(f"{url}/run1")][:2] == [second.version, first.version]
    assert ja.open_dataset(f"{url}/run1").sizes["time_counter"] == 3
