"""Profiles: the TOML file, JASMIN shortcuts, credentials sources and overrides."""

from __future__ import annotations

import copy
import json
import logging
import os
import pickle
import stat
from pathlib import Path

import pytest

from jasmin_access.config import (
    LOCAL_PROFILE,
    Profile,
    add_profile,
    config_path,
    get_profile,
    jasmin_endpoint,
    load_config,
    local_home,
)
from jasmin_access.errors import ConfigError, CredentialsMissing, ProfileNotFound
from tests.conftest import TEST_KEY, TEST_SECRET


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_paths_follow_env_and_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert config_path() == Path(os.environ["JASMIN_ACCESS_CONFIG"])
    monkeypatch.delenv("JASMIN_ACCESS_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "jasmin-access" / "config.toml"
    monkeypatch.delenv("JASMIN_ACCESS_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert local_home() == (tmp_path / "data" / "jasmin-access" / "store").resolve()


def test_missing_file_gives_the_builtin_local_profile() -> None:
    cfg = load_config()
    assert list(cfg.profiles) == [LOCAL_PROFILE]
    profile = get_profile()
    assert profile.is_local and profile.name == "local"
    assert profile.local_root() == Path(os.environ["JASMIN_ACCESS_HOME"]).resolve()
    assert profile.credentials() == {}


@pytest.mark.parametrize(
    ("tenancy", "location", "endpoint"),
    [
        ("nemo-o", "external", "https://nemo-o.s3-ext.jc.rl.ac.uk"),
        ("nemo", "external", "https://nemo-o.s3-ext.jc.rl.ac.uk"),
        ("nemo-o", "internal", "http://nemo-o.s3.jc.rl.ac.uk"),
    ],
)
def test_tenancy_shortcut(tenancy: str, location: str, endpoint: str) -> None:
    assert jasmin_endpoint(tenancy, location) == endpoint
    add_profile("j", {"tenancy": tenancy, "location": location, "anon": True})
    assert get_profile("j").resolved_endpoint == endpoint


def test_bad_location_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown location 'moon'"):
        add_profile("j", {"tenancy": "nemo-o", "location": "moon"})
    assert not config_path().exists()


def test_full_file_is_read(isolated_env: Path) -> None:
    _write(
        config_path(),
        """
default_profile = "jasmin"

[profiles.jasmin]
tenancy = "nemo-o"
key = "AKIAJASMINKEY000"
secret = "jasmin-secret-value-123"
retries = 4

[profiles.public]
endpoint_url = "https://nemo-o.s3-ext.jc.rl.ac.uk/"
anon = true

[profiles."with space"]
endpoint_url = "http://127.0.0.1:9"
aws_profile = "work"
""",
    )
    cfg = load_config()
    assert set(cfg.profiles) == {"local", "jasmin", "public", "with space"}
    assert cfg.default_profile == "jasmin"
    jasmin = get_profile()
    assert jasmin.name == "jasmin" and jasmin.retries == 4
    assert jasmin.resolved_endpoint == "https://nemo-o.s3-ext.jc.rl.ac.uk"
    assert jasmin.credentials() == {"key": "AKIAJASMINKEY000", "secret": "jasmin-secret-value-123"}
    public = get_profile("public")
    assert public.anon and public.credentials() == {}
    assert public.resolved_endpoint == "https://nemo-o.s3-ext.jc.rl.ac.uk"
    assert get_profile("with space").credentials() == {"profile": "work"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[profiles.x\n", "not valid TOML"),
        ("profiles = 3\n", "'profiles' must be a table"),
        ("[profiles.x]\nendpiont_url = 'http://h'\n", "unknown setting"),
        ("[profiles.x]\ntype = 'ftp'\n", "type must be"),
        ("[profiles.x]\nretries = 'many'\n", "retries must be int"),
        ("[profiles.x]\nanon = 'yes'\n", "anon must be bool"),
        ("[profiles.x]\nendpoint_url = 3\n", "endpoint_url must be a string"),
        ("[profiles.local]\nendpoint_url = 'http://h'\n", "reserved"),
        ("default_profile = 'ghost'\n", "default_profile 'ghost'"),
    ],
)
def test_invalid_files_name_the_problem(text: str, message: str) -> None:
    _write(config_path(), text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config()
    assert str(config_path()) in str(info.value) or "ghost" in str(info.value)


def test_unknown_profile_names_the_known_ones() -> None:
    add_profile("jasmin", {"tenancy": "nemo-o", "anon": True})
    with pytest.raises(ProfileNotFound) as info:
        get_profile("jasmn")
    assert isinstance(info.value, KeyError)
    assert "unknown profile 'jasmn' (known: jasmin, local)" in str(info.value)
    assert "config add jasmn" in str(info.value)


def test_profile_env_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    add_profile("a", {"endpoint_url": "http://a.example", "key": "AKIAAAAA", "secret": "sa-1234"})
    add_profile("b", {"tenancy": "bee-o", "key": "AKIABBBB", "secret": "sb-1234"})
    monkeypatch.setenv("JASMIN_ACCESS_PROFILE", "b")
    assert get_profile().name == "b"
    assert get_profile("a").name == "a"  # explicit name beats the environment
    over = get_profile(endpoint_url="http://other:9000", anon=True)
    assert over.name == "b" and over.tenancy is None
    assert over.resolved_endpoint == "http://other:9000"
    assert over.anon and over.credentials() == {}
    monkeypatch.setenv("JASMIN_ACCESS_PROFILE", "ghost")
    with pytest.raises(ProfileNotFound):
        get_profile()


def test_endpoint_without_profile_is_an_adhoc_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = get_profile(endpoint_url="http://127.0.0.1:9")
    assert (profile.name, profile.type, profile.resolved_endpoint) == (
        "default",
        "s3",
        "http://127.0.0.1:9",
    )
    with pytest.raises(CredentialsMissing):
        profile.credentials()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:10")
    assert get_profile().resolved_endpoint == "http://127.0.0.1:10"
    assert get_profile(anon=True).anon


def test_aws_env_credentials_override_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    add_profile("a", {"endpoint_url": "http://h", "key": "AKIAINLINE00", "secret": "inline-secret"})
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-5678")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token-5678")
    assert get_profile("a").credentials() == {
        "key": "AKIAFROMENV0",
        "secret": "env-secret-5678",
        "token": "env-token-5678",
    }
    add_profile("bare", {"endpoint_url": "http://h"})
    assert get_profile("bare").credentials()["key"] == "AKIAFROMENV0"


def test_missing_credentials_say_how_to_fix() -> None:
    add_profile("bare", {"endpoint_url": "http://h", "key": "AKIAONLYKEY0"})
    with pytest.raises(CredentialsMissing) as info:
        get_profile("bare").credentials()
    assert isinstance(info.value, PermissionError)
    assert "profile 'bare' has no credentials" in str(info.value)
    assert "AWS_ACCESS_KEY_ID" in str(info.value) and "--anon" in str(info.value)


def test_oceandatastore_credentials_file(tmp_path: Path) -> None:
    creds = _write(
        tmp_path / "creds.json",
        json.dumps(
            {"token": "AKIAFILEKEY0", "secret": "file-secret-9", "endpoint_url": "http://f"}
        ),
    )
    add_profile("ods", {"credentials_file": str(creds)})
    profile = get_profile("ods")
    assert profile.credentials() == {"key": "AKIAFILEKEY0", "secret": "file-secret-9"}
    assert profile.resolved_endpoint == "http://f"
    add_profile("ods2", {"credentials_file": str(creds), "endpoint_url": "http://explicit"})
    assert get_profile("ods2").resolved_endpoint == "http://explicit"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), ("{not json", "cannot read"), ('{"token": "k"}', "lacks")],
)
def test_bad_credentials_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "creds.json"
    if content is not None:
        _write(path, content)
    add_profile("ods", {"credentials_file": str(path)})
    with pytest.raises(ConfigError, match=message):
        get_profile("ods").credentials()


def test_add_profile_writes_private_file_and_keeps_others() -> None:
    add_profile("a", {"endpoint_url": "http://a", "key": TEST_KEY, "secret": TEST_SECRET})
    add_profile("b-2", {"tenancy": "b-o", "anon": True, "retries": 2, "read_timeout": 5.5})
    add_profile("a", {"endpoint_url": "http://a2", "key": TEST_KEY, "secret": TEST_SECRET})
    path = config_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cfg = load_config()
    assert cfg.profiles["a"].endpoint_url == "http://a2"
    assert cfg.profiles["b-2"].anon and cfg.profiles["b-2"].retries == 2
    assert cfg.profiles["b-2"].read_timeout == 5.5
    assert not list(path.parent.glob("*.tmp"))


def test_add_profile_refuses_bad_settings_before_writing() -> None:
    add_profile("a", {"endpoint_url": "http://a", "anon": True})
    before = config_path().read_text()
    with pytest.raises(ConfigError):
        add_profile("b", {"endpoint": "http://typo"})
    with pytest.raises(ConfigError, match="reserved"):
        add_profile("local", {"endpoint_url": "http://x"})
    assert config_path().read_text() == before


def test_masked_never_shows_secrets(tmp_path: Path) -> None:
    add_profile(
        "a",
        {"endpoint_url": "http://a", "key": TEST_KEY, "secret": TEST_SECRET, "token": "tok-9999"},
    )
    profile = get_profile("a")
    masked = profile.masked()
    assert masked["secret"] == "****" and masked["token"] == "****"
    assert masked["key"] == TEST_KEY[:4] + "…"
    assert masked["endpoint"] == "http://a"
    for text in (json.dumps(masked, ensure_ascii=False), repr(profile), str(profile)):
        assert TEST_SECRET not in text and "tok-9999" not in text


def test_readable_secret_file_warns(caplog: pytest.LogCaptureFixture) -> None:
    add_profile("a", {"endpoint_url": "http://a", "key": TEST_KEY, "secret": TEST_SECRET})
    with caplog.at_level(logging.WARNING, logger="jasmin_access"):
        load_config()
    assert not caplog.records
    config_path().chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="jasmin_access"):
        load_config()
    assert "readable by others" in caplog.text and "chmod 600" in caplog.text
    assert TEST_SECRET not in caplog.text


def test_readable_file_without_secrets_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    _write(config_path(), "[profiles.p]\nendpoint_url = 'http://a'\nanon = true\n", 0o644)
    with caplog.at_level(logging.WARNING, logger="jasmin_access"):
        load_config()
    assert "readable" not in caplog.text


def test_readable_credentials_file_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    creds = _write(tmp_path / "c.json", json.dumps({"token": "k0000", "secret": "s0000"}), 0o644)
    add_profile("ods", {"credentials_file": str(creds)})
    with caplog.at_level(logging.WARNING, logger="jasmin_access"):
        get_profile("ods").credentials()
    assert str(creds) in caplog.text and "readable by others" in caplog.text


def test_profiles_pickle_without_credentials_and_recover_them() -> None:
    add_profile("a", {"endpoint_url": "http://a", "key": TEST_KEY, "secret": TEST_SECRET})
    profile = get_profile("a", endpoint_url="http://override")
    blob = pickle.dumps(profile)
    assert TEST_SECRET.encode() not in blob and TEST_KEY.encode() not in blob
    back = pickle.loads(blob)
    assert back == profile  # secrets re-read from the config file, overrides kept
    adhoc = Profile(name="x", endpoint_url="http://h", key="AKIAADHOC0", secret="adhoc-secret")
    restored = pickle.loads(pickle.dumps(adhoc))
    assert restored.secret is None and restored.endpoint_url == "http://h"
    assert copy.deepcopy(adhoc) is adhoc and copy.copy(adhoc).secret == "adhoc-secret"
