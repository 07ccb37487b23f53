"""The registry of storage kinds: schemes, lazy imports, third-party backends, typed profiles."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from jasmin_access import backends
from jasmin_access.backends.generic import FsspecBackend
from jasmin_access.config import add_profile, load_config
from jasmin_access.errors import ConfigError, InvalidInput, ProfileNotFound
from jasmin_access.stores import resolve


class _MemoryTwin(FsspecBackend):
    """A third-party backend: fsspec's memory filesystem under another scheme."""

    scheme = "twin"
    protocol = "memory"


def test_builtin_schemes_are_known_without_importing_them() -> None:
    code = (
        "import sys, jasmin_access, jasmin_access.stores, jasmin_access.fs;"
        "from jasmin_access.backends import known_schemes;"
        "k = known_schemes();"
        "assert {'s3', 'local', 'webdav', 'sftp', 'az', 'https'} <= set(k), k;"
        "print(sorted(m for m in ('webdav4', 'sshfs', 'adlfs') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"  # no client library imported until its scheme is used


def test_register_a_backend_class_and_use_it() -> None:
    backends.register("twin", _MemoryTwin)
    try:
        with pytest.raises(ValueError, match="already registered"):
            backends.register("twin", _MemoryTwin)
        loc = resolve("twin://reg-test/a.bin")
        assert isinstance(loc.backend, _MemoryTwin) and loc.url == "twin://reg-test/a.bin"
        loc.backend.write_bytes(loc.path, b"abc")
        assert resolve("twin://reg-test/a.bin").backend.read_bytes(loc.path) == b"abc"
    finally:
        backends._registered.pop("twin", None)
        backends._loaded.pop("twin", None)


def test_entry_point_group_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint("epscheme", f"{__name__}:_MemoryTwin", backends.ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        backends, "entry_points", lambda group: [point] if group == point.group else []
    )
    assert backends.known_schemes()["epscheme"] == f"{__name__}:_MemoryTwin"
    try:
        assert backends.backend_class("epscheme") is _MemoryTwin
    finally:
        backends._loaded.pop("epscheme", None)


def test_any_installed_fsspec_protocol_works_and_unknown_ones_are_refused() -> None:
    assert issubclass(backends.backend_class("memory"), FsspecBackend)
    with pytest.raises(InvalidInput, match="unsupported URL scheme 'nosuch://'"):
        resolve("nosuch://x/y")
    with pytest.raises(InvalidInput, match="not installed"):
        resolve("gs://bucket/key")  # fsspec knows it; gcsfs is not installed


def test_verbs_a_backend_lacks_say_so(webdav_profile: str) -> None:
    from jasmin_access import fs

    with pytest.raises(InvalidInput, match="no buckets"):
        fs.mb("webdav://newdir", profile=webdav_profile)


def test_profiles_are_typed(isolated_env: Path) -> None:
    add_profile("dav", {"type": "webdav", "endpoint_url": "http://h/dav", "user": "u"})
    with pytest.raises(ConfigError, match='tenancy do\\(es\\) not apply to type "webdav"'):
        add_profile("bad", {"type": "webdav", "tenancy": "x-o"})
    with pytest.raises(ConfigError, match="type must be one of"):
        add_profile("bad", {"type": "ftp"})
    add_profile("h1", {"type": "sftp", "host": "a"})
    add_profile("h2", {"type": "sftp", "host": "b"})
    assert load_config().profiles["dav"].type == "webdav"
    assert resolve("webdav://d/x").profile_name == "dav"  # the only webdav profile
    with pytest.raises(ProfileNotFound, match="several sftp profiles"):
        resolve("sftp://d/x")
    with pytest.raises(ProfileNotFound, match="no azure profile"):
        resolve("az://container/x")


def test_secret_from_the_environment(
    webdav_server: object, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jasmin_access import fs
    from jasmin_access.errors import AccessDenied
    from tests.backends.servers import WEBDAV_PASSWORD

    settings = dict(webdav_server.profile_settings())  # type: ignore[attr-defined]
    del settings["secret"]
    add_profile("envdav", settings)
    with pytest.raises(AccessDenied):
        fs.ls("webdav://", profile="envdav")
    backends.clear_caches()
    monkeypatch.setenv("JASMIN_ACCESS_WEBDAV_PASSWORD", WEBDAV_PASSWORD)
    assert fs.ls("webdav://", profile="envdav") is not None
