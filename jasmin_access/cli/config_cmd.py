"""``jasmin-access config list|show|add|test``."""

from __future__ import annotations

import sys

import click

from ..config import add_profile, get_profile, load_config, set_default_profile
from ..diagnose import test_profile
from ..errors import AccessDenied
from ._common import (
    echo,
    emit_json,
    get_options,
    global_options,
    global_options_except,
)


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
@click.option("--endpoint-url", "endpoint", metavar="URL", help="Endpoint URL (s3, webdav, azure).")
@click.option("--tenancy", help="JASMIN tenancy, e.g. myproject-o.")
@click.option("--location", type=click.Choice(["external", "internal"]), help="JASMIN endpoint.")
@click.option("--key", help="Access key id.")
@click.option("--secret", help="Secret key (prefer --secret-stdin).")
@click.option("--secret-stdin", is_flag=True, help="Read the secret key from standard input.")
@click.option("--credentials-file", help="OceanDataStore-style JSON (token, secret).")
@click.option("--aws-profile", help="Use credentials from this AWS CLI profile.")
@click.option(
    "--anonymous", "--anon", "anonymous", is_flag=True, default=None, help="Public data only."
)
@click.option("--user", help="User name (webdav, sftp).")
@click.option("--host", help="SFTP server host name.")
@click.option("--port", type=int, help="SFTP server port (default 22).")
@click.option("--key-file", help="SSH private key file (sftp).")
@click.option("--account", help="Azure storage account name.")
@click.option(
    "--connection-string-stdin", is_flag=True, help="Read an Azure connection string from stdin."
)
@click.option(
    "--default",
    "make_default",
    is_flag=True,
    help="Make it the default profile (used when no -p is given).",
)
@global_options_except("--endpoint-url", "--anon", "--profile")
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
    make_default: bool,
) -> None:
    """Add or replace profile NAME in the config file.

    \b
    S3:     config add jasmin --tenancy myproject-o --key KEY --secret-stdin
    WebDAV: config add nc --type webdav --endpoint-url URL --user U --secret-stdin
    SFTP:   config add hpc --type sftp --host H [--port P] --user U [--key-file F]
    Azure:  config add blob --type azure --account A --secret-stdin
            (or --connection-string-stdin)
    """
    opts = get_options()  # given before `config`: they cannot apply to the profile written
    if opts.profile or opts.endpoint_url or opts.anon:
        raise click.UsageError(
            "config add takes the profile as NAME and its settings after it "
            "(--endpoint-url URL, --anon), not -p/--endpoint-url/--anon before `config`"
        )
    if secret_stdin:
        secret = sys.stdin.readline().strip()
    connection_string = sys.stdin.readline().strip() if connection_string_stdin else None
    settings = {
        "type": None if type_ == "s3" else type_,
        "endpoint_url": endpoint,
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
    path = add_profile(name, settings, default=make_default)
    echo(f"profile '{name}' written to {path}")
    current = load_config().default_profile
    urls = {"webdav": "webdav://", "sftp": "sftp://", "azure": "az://"}.get(type_, "s3://")
    if current == name:
        echo(f"'{name}' is the default profile: {urls} URLs use it unless -p is given")
    elif urls != "s3://":
        echo(f"{urls} URLs use it when it is the only {type_} profile, or with -p {name}")
    else:
        echo(
            f"use it with -p {name}, or make it the default for s3:// URLs with "
            f"`jasmin-access config default {name}` (now: {current or 'local, the embedded store'})"
        )


@config.command("default")
@click.argument("name", required=False)
@global_options_except("--endpoint-url", "--anon", "--profile")
def default(name: str | None) -> None:
    """Show the default profile, or make NAME the default (`local`: the embedded store)."""
    if name is not None:
        set_default_profile(name)
    chosen = load_config().default_profile or "local"
    if get_options().json:
        return emit_json([{"default": chosen}])
    echo(chosen + ("  (the embedded store)" if chosen == "local" else ""))


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
        for c in checks:  # a failed check is said once, by the error line below
            if c.ok:
                echo(f"ok   {c.name:<12} {c.detail}")
    failed = next((c for c in checks if not c.ok), None)
    if failed is not None:
        cause = failed.error or AccessDenied(failed.detail)
        raise type(cause)(
            f"profile '{profile.name}': {failed.name} check failed: {cause.message}", cause.hint
        )
