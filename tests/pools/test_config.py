"""Pool definitions: the issue's TOML shape reads back, pool add/show/rm, bad tables refused."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from jasmin_access.config import add_profile, config_path, load_config
from jasmin_access.errors import ConfigError
from jasmin_access.pools import load_pools, pool_def
from jasmin_access.pools.config import pool_from_table
from tests.cli.helpers import cli_run

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pools.md"


def _documented_shape() -> str:
    """The first TOML block of docs/pools.md (the issue's shape): docs and tests agree."""
    text = DOCS.read_text()
    start = text.index("```toml\n") + len("```toml\n")
    return text[start : text.index("```", start)]


def test_issue_shape_reads_and_survives_profile_edits() -> None:
    config_path().write_text(_documented_shape())
    nemo = pool_def("nemo")
    assert [m.id for m in nemo.members] == ["tenancy", "gws"]
    assert nemo.members[0].quota == 10 * 10**12
    assert nemo.members[1].labels == {"tier": "cold"}
    assert nemo.members[1].max_percent_full == 90
    assert nemo.rules[0].match == "*_1d_*" and nemo.rules[0].to == "gws"
    assert nemo.registry_url == "s3://nemo-run/.pool"
    add_profile("jasmin", {"tenancy": "nemo-o", "anon": True})  # rewrites the file
    assert load_pools()["nemo"] == nemo
    assert "jasmin" in load_config().profiles
    assert pool_from_table("nemo", nemo.as_table()).members == nemo.members  # round trip


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"backends": []}, "no backends"),
        ({"backends": [{"id": "a", "url": "/x", "colour": 1}]}, "colour"),
        ({"backends": [{"id": "a", "url": "/x"}], "rules": [{"to": "zz"}]}, "zz"),
        ({"backends": [{"id": "a", "url": "/x", "weight": 2}]}, "order"),
        ({"backends": [{"id": "a", "url": "/x", "quota": "lots"}]}, "quota"),
        ({"backends": [{"id": "a", "url": "/x"}, {"id": "a", "url": "/y"}]}, "repeat"),
        ({"backends": [{"id": "a", "url": "pool://p"}]}, "itself"),
        ({"type": "striped", "backends": [{"id": "a", "url": "/x"}]}, "type"),
    ],
)
def test_bad_tables_refused_with_the_setting(table: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        pool_from_table("p", table)


def test_cli_add_show_rm(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    code, out, err = cli_run(
        capsys, "pool", "add", "nemo",
        "--backend", f"id=fast,url={tmp_path}/a,quota=1GB",
        "--backend", f"id=cold,url={tmp_path}/b,max_percent_full=90,label.tier=cold",
        "--rule", "match=*_1d_*,to=tier=cold",
    )  # fmt: skip
    assert code == 0, err
    stored = tomllib.loads(config_path().read_text())["pools"]["nemo"]
    assert stored["backends"][1]["labels"] == {"tier": "cold"}
    assert stored["rules"] == [{"match": "*_1d_*", "to": "tier=cold"}]
    code, out, _ = cli_run(capsys, "--json", "pool", "show", "nemo")
    shown = json.loads(out)
    assert shown["name"] == "nemo" and shown["backends"][0]["quota"] == 10**9
    code, out, _ = cli_run(capsys, "pool", "show")
    assert "rule 1: *_1d_* -> tier=cold" in out
    code, out, _ = cli_run(capsys, "pool", "rm", "nemo")
    assert code == 0 and load_pools() == {}
    code, _, err = cli_run(capsys, "pool", "status", "nemo")
    assert code != 0 and "unknown pool 'nemo'" in err and "Traceback" not in err


def test_registry_defaults_and_its_profile() -> None:
    backends = [{"id": "inner", "url": "pool://other"},
                {"id": "t", "url": "s3://nemo-run/data", "profile": "jasmin", "order": 1},
                {"id": "o", "url": "s3://elsewhere/data", "profile": "x", "order": 2}]  # fmt: skip
    plain = pool_from_table("n", {"backends": backends})
    assert plain.registry_url == "s3://nemo-run/data/.pool"  # the first backend not a pool
    assert plain.registry_profile == "jasmin"
    explicit = pool_from_table("n", {"registry": "s3://elsewhere/.pool", "backends": backends})
    assert explicit.registry_profile == "x"
    only_pools = pool_from_table("n", {"backends": backends[:1]})
    with pytest.raises(ConfigError, match="registry"):
        _ = only_pools.registry_url
