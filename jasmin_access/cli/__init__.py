"""The ``jasmin-access`` command: a thin shell over the Python API."""

from __future__ import annotations

import sys

import click

from .._version import __version__
from ._common import global_options, run
from .config_cmd import config
from .convert_cmd import append, convert, verify
from .fs_cmds import COMMANDS as FS_COMMANDS
from .open_cmds import COMMANDS as OPEN_COMMANDS


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="jasmin-access")
@global_options
def cli() -> None:
    """Move ocean model output onto S3-compatible object stores (JASMIN) and read it back.

    URLs: s3://bucket/key (profile from --profile or the config), local://bucket/key
    (the embedded local store), https://host/bucket/key (public, read-only), or local paths.
    """


cli.add_command(config)
cli.add_command(convert)
cli.add_command(append)
cli.add_command(verify)
for _command in FS_COMMANDS:
    cli.add_command(_command)
for _command in OPEN_COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(cli))
