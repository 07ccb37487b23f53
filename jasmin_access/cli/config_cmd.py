"""``jasmin-access config list|show|add|test``."""

from __future__ import annotations

import sys

import click

from ..config import add_profile, get_profile, load_config
from ..diagnose import test_profile
from ..errors import AccessDenied
from ._common import echo, emit_json, get_options, global_options


@click.group()
@global_options
def config() -> None:
    """Manage profiles (endpoints and credentials)."""


@config.command("list")
@global_options
def list_() -> None:
    """List the profiles."""
    cfg = load_config()
    records = [
        {
            "name": p.name,
            "type": p.type,
            "endpoint": p.resolved_endpoint,
            "anon": p.anon,
            "default": p.name == (cfg.default_profile or "local"),
        }
        for p in cfg.profiles.values()
    ]
    if get_options().json:
        return emit_json(records)
    echo(f"# {cfg.path}")
    for r in records:
        where = "embedded local store" if r["type"] == "local" else r["endpoint"] or "AWS"
        mark, anon = ("*" if r["default"] else " "), ("  (anon)" if r["anon"] else "")
        echo(f"{mark} {r['name']:<16} {where}{anon}")


@config.command("show")
@click.argument("name", required=False)
@global_options
def show(name: str | None) -> None:
    """Show a profile with its secrets masked."""
    opts = get_options()
    profile = get_profile(name or opts.profile, endpoint_url=opts.endpoint_url, anon=opts.anon)
    data = profile.masked()
    if opts.json:
        return emit_json([data])
    for key, value in data.items():
        echo(f"{key:<17} {value}")


@config.command("add")
@click.argument("name")
@click.option(
    "--type",
    "type_",
    type=click.Choice(["s3", "local", "webdav", "sftp", "azure"]),
    default="s3",
    show_default=True,
    help="Kind of storage.",
)
@click.option("--endpoint", "endpoint", metavar="URL", help="Endpoint URL (or --endpoint-url).")
@click.option("--tenancy", help="JASMIN tenancy, e.g. myproject-o.")
@click.option("--location", type=click.Choice(["external", "internal"]), help="JASMIN endpoint.")
@click.option("--key", help="Access key id.")
@click.option("--secret", help="Secret key (prefer --secret-stdin).")
@click.option("--secret-stdin", is_flag=True, help="Read the secret key from standard input.")
@click.option("--credentials-file", help="OceanDataStore-style JSON (token, secret).")
@click.option("--aws-profile", help="Use credentials from this AWS CLI profile.")
@click.option("--anonymous", "anonymous", is_flag=True, default=None, help="Public data only.")
@click.option("--user", help="User name (webdav, sftp).")
@click.option("--host", help="SFTP server host name.")
@click.option("--port", type=int, help="SFTP server port (default 22).")
@click.option("--key-file", help="SSH private key file (sftp).")
@click.option("--account", help="Azure storage account name.")
@click.option(
    "--connection-string-stdin", is_flag=True, help="Read an Azure connection string from stdin."
)
@global_options
def add(
    name: str,
    type_: str,
    endpoint: str | None,
    tenancy: str | None,
    location: str | None,
    key: str | None,
    secret: str | None,
    secret_stdin: bool,
    credentials_file: str | None,
    aws_profile: str | None,
    anonymous: bool | None,
    user: str | None,
    host: str | None,
    port: int | None,
    key_file: str | None,
    account: str | None,
    connection_string_stdin: bool,
) -> None:
    """Add or replace profile NAME in the config file.

    \b
    S3:     config add jasmin --tenancy myproject-o --key KEY --secret-stdin
    WebDAV: config add nc --type webdav --endpoint-url URL --user U --secret-stdin
    SFTP:   config add hpc --type sftp --host H [--port P] --user U [--key-file F]
    Azure:  config add blob --type azure --account A --secret-stdin
            (or --connection-string-stdin)
    """
    if secret_stdin:
        secret = sys.stdin.readline().strip()
    connection_string = sys.stdin.readline().strip() if connection_string_stdin else None
    settings = {
        "type": None if type_ == "s3" else type_,
        "endpoint_url": endpoint or get_options().endpoint_url,
        "user": user,
        "host": host,
        "port": port,
        "key_file": key_file,
        "account": account,
        "connection_string": connection_string,
        "tenancy": tenancy,
        "location": location,
        "key": key,
        "secret": secret,
        "credentials_file": credentials_file,
        "aws_profile": aws_profile,
        "anon": anonymous,
    }
    path = add_profile(name, settings)
    echo(f"profile '{name}' written to {path}")


@config.command("test")
@click.argument("name", required=False)
@click.option("--bucket", help="Also check that this bucket can be listed.")
@global_options
def test(name: str | None, bucket: str | None) -> None:
    """Check a profile: endpoint reachable, credentials accepted, listing allowed."""
    opts = get_options()
    profile = get_profile(name or opts.profile, endpoint_url=opts.endpoint_url, anon=opts.anon)
    checks = test_profile(profile, bucket=bucket)
    if opts.json:
        emit_json([c.as_dict() for c in checks])
    else:
        for c in checks:
            echo(f"{'ok ' if c.ok else 'FAIL'} {c.name:<12} {c.detail}")
    failed = next((c for c in checks if not c.ok), None)
    if failed is not None:
        cause = failed.error or AccessDenied(failed.detail)
        raise type(cause)(
            f"profile '{profile.name}': {failed.name} check failed: {cause.message}", cause.hint
        )
