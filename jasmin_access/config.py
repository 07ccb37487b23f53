"""Profiles: where a store is and how to authenticate to it.

Profiles live in a TOML file (``$JASMIN_ACCESS_CONFIG``, else
``$XDG_CONFIG_HOME/jasmin-access/config.toml``) as ``[profiles.NAME]`` tables::

    default_profile = "jasmin"

    [profiles.jasmin]
    tenancy = "myproject-o"        # expands to the JASMIN endpoint
    location = "external"          # or "internal" (inside JASMIN, plain HTTP)
    key = "..."                    # or credentials_file / aws_profile / env vars
    secret = "..."

    [profiles.public]
    endpoint_url = "https://myproject-o.s3-ext.jc.rl.ac.uk"
    anon = true

    [profiles.nc]                  # users' own storage: webdav://, sftp://, az:// URLs
    type = "webdav"
    endpoint_url = "https://cloud.example.org/remote.php/dav/files/me"
    user = "me"
    secret = "..."

    [profiles.hpc]
    type = "sftp"
    host = "login.example.org"
    user = "me"
    key_file = "~/.ssh/id_ed25519"

    [profiles.blob]
    type = "azure"
    account = "myaccount"
    secret = "..."                 # the account key, or connection_string = "..."

Each type accepts its own settings (see :data:`TYPE_SETTINGS`); the others
are refused when the file is read.

A built-in ``local`` profile is always available: an embedded object store
kept in a directory (``$JASMIN_ACCESS_HOME``, else
``$XDG_DATA_HOME/jasmin-access/store``), used when no other profile is set.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError, ProfileNotFound
from .profile import (
    ENV_CONFIG,
    ENV_HOME,
    ENV_PROFILE,
    LOCAL_PROFILE,
    TYPE_SETTINGS,
    Profile,
    _profile_from_table,
    _warn_if_readable,
    config_path,
    jasmin_endpoint,
    local_home,
)

__all__ = [
    "ENV_CONFIG",
    "ENV_HOME",
    "ENV_PROFILE",
    "LOCAL_PROFILE",
    "TYPE_SETTINGS",
    "Config",
    "Profile",
    "add_profile",
    "config_path",
    "get_profile",
    "jasmin_endpoint",
    "load_config",
    "local_home",
    "set_default_profile",
    "write_config",
]


@dataclass
class Config:
    """The parsed configuration file."""

    path: Path
    profiles: dict[str, Profile]
    default_profile: str | None = None


def load_config(path: Path | None = None) -> Config:
    """Read the configuration file; a missing file gives an empty config.

    Parameters
    ----------
    path
        Config file; defaults to :func:`config_path`.
    """
    path = path or config_path()
    profiles: dict[str, Profile] = {
        LOCAL_PROFILE: Profile(name=LOCAL_PROFILE, type="local", source="built-in")
    }
    if not path.exists():
        return Config(path=path, profiles=profiles)
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"config file {path} is not valid TOML ({exc})", "fix or remove it"
        ) from None
    raw_profiles = data.get("profiles", {})
    if not isinstance(raw_profiles, dict):
        raise ConfigError(f"config file {path}: 'profiles' must be a table", "use [profiles.NAME]")
    any_secret = False
    for name, table in raw_profiles.items():
        profiles[name] = _profile_from_table(name, table, path)
        any_secret = any_secret or profiles[name].has_secret
    if any_secret:
        _warn_if_readable(path)
    default = data.get("default_profile")
    if default is not None and default not in profiles:
        raise ProfileNotFound(
            f"default_profile '{default}' in {path} is not defined",
            f"add [profiles.{default}] or change default_profile",
        )
    return Config(path=path, profiles=profiles, default_profile=default)


def get_profile(
    name: str | None = None,
    *,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    config: Config | None = None,
) -> Profile:
    """Return the profile to use, with command-line and environment overrides.

    Parameters
    ----------
    name
        Profile name; else ``$JASMIN_ACCESS_PROFILE``, else the config's
        ``default_profile``, else an ad-hoc S3 profile when an endpoint is
        given, else the built-in ``local`` store.
    endpoint_url
        Overrides the profile's endpoint (``--endpoint-url``).
    anon
        Forces anonymous access (``--anon``).
    config
        An already loaded config.

    Raises
    ------
    ProfileNotFound
        When ``name`` is not defined.
    """
    config = config or load_config()
    chosen = name or os.environ.get(ENV_PROFILE) or config.default_profile
    endpoint_url = endpoint_url or None
    if chosen is None:
        env_endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint_url or env_endpoint:
            profile = Profile(
                name="default", endpoint_url=endpoint_url or env_endpoint, source="env"
            )
            return replace(profile, anon=True) if anon else profile
        chosen = LOCAL_PROFILE
    if chosen not in config.profiles:
        known = ", ".join(sorted(config.profiles))
        raise ProfileNotFound(
            f"unknown profile '{chosen}' (known: {known})",
            f"add it with `jasmin-access config add {chosen} ...` or pick one of: {known}",
        )
    profile = config.profiles[chosen]
    if endpoint_url and profile.type in ("s3", "local"):
        profile = replace(profile, endpoint_url=endpoint_url, tenancy=None, type="s3")
    if anon:
        profile = replace(profile, anon=True)
    return profile


def write_config(data: dict[str, Any], path: Path) -> None:
    """Write the whole config file atomically (mode 0600), every table kept (pools too)."""
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        tomli_w.dump(data, fh)
    os.replace(tmp, path)


def add_profile(
    name: str, settings: dict[str, Any], *, path: Path | None = None, default: bool = False
) -> Path:
    """Add or replace ``[profiles.NAME]`` in the config file (mode 0600).

    Parameters
    ----------
    name
        Profile name.
    settings
        Profile settings (see :class:`Profile`); ``None`` values are dropped.
    path
        Config file; defaults to :func:`config_path`.
    default
        Also make it the ``default_profile`` (used when no ``--profile`` is given).

    Returns
    -------
    Path
        The file written.
    """
    if name == LOCAL_PROFILE and settings.get("type", "s3") != "local":
        raise ConfigError(
            "the name 'local' is reserved for the embedded store", "choose another name"
        )
    settings = {k: v for k, v in settings.items() if v is not None}
    _profile_from_table(name, settings, path or config_path())  # validate before writing
    path = path or config_path()
    existing: dict[str, Any] = {}
    if path.exists():
        existing = tomllib.loads(path.read_text())
    profiles = dict(existing.get("profiles", {}))
    profiles[name] = settings
    chosen = name if default else existing.get("default_profile")
    _write_config(path, profiles, chosen)
    return path


def set_default_profile(name: str | None, *, path: Path | None = None) -> Path:
    """Make ``name`` the ``default_profile`` (``None`` or ``"local"``: the embedded store).

    Raises
    ------
    ProfileNotFound
        When ``name`` is not defined.
    """
    path = path or config_path()
    existing = tomllib.loads(path.read_text()) if path.exists() else {}
    profiles = dict(existing.get("profiles", {}))
    if name not in (None, LOCAL_PROFILE) and name not in profiles:
        known = ", ".join(sorted([LOCAL_PROFILE, *profiles]))
        raise ProfileNotFound(
            f"unknown profile '{name}' (known: {known})",
            f"add it first with `jasmin-access config add {name} ...`",
        )
    _write_config(path, profiles, None if name == LOCAL_PROFILE else name)
    return path


def _write_config(path: Path, profiles: dict[str, Any], default: str | None) -> None:
    """Write the profiles and the default, keeping every other table (pools) as it is."""
    existing = tomllib.loads(path.read_text()) if path.exists() else {}
    others = {k: v for k, v in existing.items() if k not in ("default_profile", "profiles")}
    head: dict[str, Any] = {"default_profile": default} if default else {}
    write_config({**head, **others, "profiles": profiles}, path)
