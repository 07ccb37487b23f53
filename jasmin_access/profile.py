"""Profiles: one named store configuration, its settings and its credentials.

:class:`Profile` holds where a store is and how to authenticate to it; the
configuration file that lists profiles is read and written by
:mod:`jasmin_access.config`, which re-exports everything public here.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError, CredentialsMissing, JasminAccessError, register_secret

__all__ = [
    "LOCAL_PROFILE",
    "TYPE_SETTINGS",
    "Profile",
    "config_path",
    "jasmin_endpoint",
    "local_home",
]

log = logging.getLogger(__name__)


LOCAL_PROFILE = "local"
ENV_CONFIG = "JASMIN_ACCESS_CONFIG"
ENV_PROFILE = "JASMIN_ACCESS_PROFILE"
ENV_HOME = "JASMIN_ACCESS_HOME"

_SECRET_FIELDS = ("secret", "token", "connection_string")
_CREDENTIAL_FIELDS = ("key", "secret", "token", "connection_string")
ProfileType = Literal["s3", "local", "webdav", "sftp", "azure"]
_COMMON = {"type", "retries", "connect_timeout", "read_timeout", "max_concurrency", "cache"}
_COMMON |= {"cache_size"}
TYPE_SETTINGS: dict[str, frozenset[str]] = {
    "s3": frozenset(
        _COMMON
        | {"endpoint_url", "tenancy", "location", "region", "anon", "key", "secret", "token"}
        | {"aws_profile", "credentials_file"}
    ),
    "local": frozenset(_COMMON | {"root"}),
    "webdav": frozenset(_COMMON | {"endpoint_url", "user", "secret", "anon"}),
    "sftp": frozenset(_COMMON | {"host", "port", "user", "secret", "key_file", "root"}),
    "azure": frozenset(
        _COMMON | {"account", "secret", "connection_string", "endpoint_url", "anon"}
    ),
}
"""The settings each profile type accepts."""
_SECRET_ENV = {  # environment variables overriding a profile's secret, per type
    "webdav": ("JASMIN_ACCESS_WEBDAV_PASSWORD",),
    "sftp": ("JASMIN_ACCESS_SFTP_PASSWORD",),
    "azure": ("AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCOUNT_KEY"),
}


def jasmin_endpoint(tenancy: str, location: str = "external") -> str:
    """Return the S3 endpoint URL of a JASMIN object-store tenancy.

    Parameters
    ----------
    tenancy
        Tenancy name, e.g. ``"myproject-o"`` (the ``-o`` suffix is added if missing).
    location
        ``"external"`` (HTTPS, from anywhere) or ``"internal"`` (HTTP, from
        inside JASMIN: sci servers, LOTUS).

    Examples
    --------
    >>> jasmin_endpoint("nemo-o")
    'https://nemo-o.s3-ext.jc.rl.ac.uk'
    >>> jasmin_endpoint("nemo", "internal")
    'http://nemo-o.s3.jc.rl.ac.uk'
    """
    name = tenancy if tenancy.endswith("-o") else f"{tenancy}-o"
    if location == "external":
        return f"https://{name}.s3-ext.jc.rl.ac.uk"
    if location == "internal":
        return f"http://{name}.s3.jc.rl.ac.uk"
    raise ConfigError(
        f"unknown location '{location}' for tenancy {name}",
        'use location = "external" (outside JASMIN) or "internal" (on JASMIN)',
    )


def config_path() -> Path:
    """Path of the configuration file (which may not exist)."""
    explicit = os.environ.get(ENV_CONFIG)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jasmin-access" / "config.toml"


def local_home() -> Path:
    """Directory that holds the embedded local object store."""
    explicit = os.environ.get(ENV_HOME)
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return (Path(base) / "jasmin-access" / "store").resolve()


@dataclass(frozen=True)
class Profile:
    """One named store configuration.

    Secrets are held here but never shown: ``repr`` and :meth:`masked` hide
    them, and filesystems built from a profile pickle without them.
    """

    name: str
    type: ProfileType = "s3"
    endpoint_url: str | None = None
    tenancy: str | None = None
    location: str = "external"
    region: str | None = None
    anon: bool = False
    key: str | None = None
    secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    aws_profile: str | None = None
    credentials_file: str | None = None
    root: str | None = None
    user: str | None = None
    host: str | None = None
    port: int | None = None
    key_file: str | None = None
    account: str | None = None
    connection_string: str | None = field(default=None, repr=False)
    retries: int = 10
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_concurrency: int = 32
    cache: str | None = None
    cache_size: str = "2GB"
    source: str = "built-in"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle without credentials; unpickling re-reads them from the config file.

        Filesystems and locations sent to dask workers carry profiles: this keeps
        keys and secrets out of every task graph.
        """
        public = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in _CREDENTIAL_FIELDS:
            public[name] = None
        return (_restore_profile, (public,))

    def __copy__(self) -> Profile:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> Profile:
        return self  # immutable; copying must not drop the credentials

    @property
    def is_local(self) -> bool:
        """True for the embedded directory-backed store."""
        return self.type == "local"

    @property
    def resolved_endpoint(self) -> str | None:
        """The endpoint: ``endpoint_url``, the ``tenancy``'s, or the credentials file's."""
        if self.endpoint_url:
            return self.endpoint_url.rstrip("/")
        if self.tenancy:
            return jasmin_endpoint(self.tenancy, self.location)
        if self.credentials_file and not self.is_local:
            return _file_endpoint(self.credentials_file)
        return None

    @property
    def has_secret(self) -> bool:
        """True when the profile carries an inline secret."""
        return bool(self.secret or self.connection_string)

    def password(self) -> str | None:
        """The secret of a WebDAV, SFTP or Azure profile (environment first)."""
        for var in _SECRET_ENV.get(self.type, ()):
            if os.environ.get(var):
                register_secret(os.environ[var])
                return os.environ[var]
        register_secret(self.secret)
        return self.secret

    def azure_connection_string(self) -> str | None:
        """An Azure connection string (environment first), registered as a secret."""
        value = os.environ.get("AZURE_STORAGE_CONNECTION_STRING") or self.connection_string
        if value:
            register_secret(value)
            for part in value.split(";"):
                if part.lower().startswith(("accountkey=", "sharedaccesssignature=")):
                    register_secret(part.split("=", 1)[1])
        return value

    def masked(self) -> dict[str, Any]:
        """The profile as a dict with secrets replaced by ``****``."""
        allowed = TYPE_SETTINGS.get(self.type, frozenset())
        out = {
            k: v
            for k, v in asdict(self).items()
            if v is not None and (k in allowed or k in ("name", "source", "type"))
        }
        for name in _SECRET_FIELDS:
            if out.get(name):
                out[name] = "****"
        if out.get("key"):
            out["key"] = _mask_key(out["key"])
        if self.resolved_endpoint:
            out["endpoint"] = self.resolved_endpoint
        if self.is_local:
            out["root"] = str(self.local_root())
        return out

    def local_root(self) -> Path:
        """Directory of a local profile's store."""
        return Path(self.root).expanduser().resolve() if self.root else local_home()

    def credentials(self) -> dict[str, str]:
        """Resolve credentials: env vars, inline, credentials file, AWS profile.

        Returns
        -------
        dict
            s3fs keyword arguments (``key``/``secret``/``token`` or ``profile``);
            empty for anonymous profiles and when botocore's own chain should
            be used.
        """
        if self.anon or self.is_local:
            return {}
        env_key = os.environ.get("AWS_ACCESS_KEY_ID")
        env_secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
        if env_key and env_secret:
            creds = {"key": env_key, "secret": env_secret}
            if os.environ.get("AWS_SESSION_TOKEN"):
                creds["token"] = os.environ["AWS_SESSION_TOKEN"]
        elif self.key and self.secret:
            creds = {"key": self.key, "secret": self.secret}
            if self.token:
                creds["token"] = self.token
        elif self.credentials_file:
            creds = _read_credentials_file(self.credentials_file, self.name)
        elif self.aws_profile:
            return {"profile": self.aws_profile}
        else:
            raise CredentialsMissing(
                f"profile '{self.name}' has no credentials",
                "add key/secret or credentials_file to it (`jasmin-access config add`), export "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --anon for public data",
            )
        for value in creds.values():
            register_secret(value)
        return creds


def _restore_profile(public: dict[str, Any]) -> Profile:
    """Rebuild a pickled profile, taking its credentials from its config file."""
    profile = Profile(**public)
    if profile.source in ("built-in", "env"):
        return profile
    path = Path(profile.source)
    try:
        tables = tomllib.loads(path.read_text()).get("profiles", {})
        table = tables.get(profile.name) if isinstance(tables, dict) else None
        stored = None if table is None else _profile_from_table(profile.name, table, path)
    except (JasminAccessError, OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return profile
    if stored is None:
        return profile
    return replace(
        profile,
        key=stored.key,
        secret=stored.secret,
        token=stored.token,
        connection_string=stored.connection_string,
    )


def _mask_key(key: str) -> str:
    return key[:4] + "…" if len(key) > 8 else "****"


def _read_credentials_file(path: str, profile: str) -> dict[str, str]:
    p = Path(path).expanduser()
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"credentials file {p} of profile '{profile}' does not exist",
            "create it or fix credentials_file in the profile",
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read credentials file {p}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"credentials file {p} is not a JSON object",
            'write it as {"token": "<access key>", "secret": "<secret key>"}',
        )
    key = data.get("token") or data.get("key") or data.get("aws_access_key_id")
    secret = data.get("secret") or data.get("aws_secret_access_key")
    if not key or not secret:
        raise ConfigError(
            f"credentials file {p} lacks 'token' and 'secret'",
            'write it as {"token": "<access key>", "secret": "<secret key>"}',
        )
    _warn_if_readable(p)
    return {"key": str(key), "secret": str(secret)}


def _file_endpoint(path: str) -> str | None:
    """``endpoint_url`` of an OceanDataStore-style credentials file, if it names one."""
    try:
        data = json.loads(Path(path).expanduser().read_text())
    except (OSError, ValueError):
        return None
    value = data.get("endpoint_url") if isinstance(data, dict) else None
    return str(value).rstrip("/") if value else None


_PROFILE_FIELDS = {f.name for f in fields(Profile)} - {"name", "source"}


def _profile_from_table(name: str, table: Any, path: Path) -> Profile:
    if not isinstance(table, dict):
        raise ConfigError(
            f"config file {path}: profiles.{name} must be a table", f"use [profiles.{name}]"
        )
    unknown = set(table) - _PROFILE_FIELDS
    if unknown:
        raise ConfigError(
            f"profile '{name}' in {path} has unknown setting(s): {', '.join(sorted(unknown))}",
            f"valid settings are: {', '.join(sorted(_PROFILE_FIELDS))}",
        )
    kind = table.get("type", "s3")
    if kind not in TYPE_SETTINGS:
        raise ConfigError(
            f"profile '{name}' in {path}: type must be one of "
            + ", ".join(f'"{t}"' for t in TYPE_SETTINGS),
            f"fix profiles.{name}.type (s3 for object stores, local for a directory, "
            "webdav, sftp or azure for your own storage)",
        )
    foreign = set(table) - TYPE_SETTINGS[kind]
    if foreign:
        raise ConfigError(
            f"profile '{name}' in {path}: {', '.join(sorted(foreign))} "
            f'do(es) not apply to type "{kind}"',
            f"settings of a {kind} profile: {', '.join(sorted(TYPE_SETTINGS[kind]))}",
        )
    if name == LOCAL_PROFILE and table.get("type") != "local":
        raise ConfigError(
            f"profile 'local' in {path} must have type = \"local\"",
            "the name 'local' is reserved for the embedded store; rename the profile",
        )
    _check_types(name, table, path)
    profile = Profile(name=name, source=str(path), **table)
    if profile.secret:
        register_secret(profile.secret)
    if profile.connection_string:
        profile.azure_connection_string()  # registers it and its key
    if profile.tenancy:
        jasmin_endpoint(profile.tenancy, profile.location)  # validates location
    return profile


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "anon": (bool,),
    "retries": (int,),
    "port": (int,),
    "max_concurrency": (int,),
    "connect_timeout": (int, float),
    "read_timeout": (int, float),
}


def _check_types(name: str, table: dict[str, Any], path: Path) -> None:
    for key, value in table.items():
        expected = _FIELD_TYPES.get(key, (str,))
        wrong_bool = isinstance(value, bool) and bool not in expected
        if not isinstance(value, expected) or wrong_bool:
            want = " or ".join(t.__name__ for t in expected).replace("str", "a string")
            raise ConfigError(
                f"profile '{name}' in {path}: {key} must be {want}, not {value!r}",
                f"fix profiles.{name}.{key}",
            )


def _warn_if_readable(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning(
            "config file %s holds secrets and is readable by others; run `chmod 600 %s`",
            path,
            path,
        )
