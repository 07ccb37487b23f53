"""The ``jasmin-access`` command: a thin shell over the Python API.

Command modules are imported only when their command runs, so ``jasmin-access ls``
does not pay for importing xarray, dask and the converter.
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
import importlib
import os
import signal
import sys
import threading
from typing import Any

import click

from .._version import __version__
from ._common import global_options, run

# name → (module in this package, attribute), in the order ``--help`` shows them
_COMMANDS: dict[str, tuple[str, str]] = {
    **{
        name: ("fs_cmds", name)
        for name in (
            "ls",
            "du",
            "tree",
            "find",
            "stat",
            "cat",
            "head",
            "cp",
            "mv",
            "rm",
            "sync",
            "mb",
        )
    },
    "convert": ("convert_cmd", "convert"),
    "append": ("convert_cmd", "append"),
    "verify": ("convert_cmd", "verify"),
    "info": ("open_cmds", "info"),
    "index": ("open_cmds", "index"),
    "catalog": ("catalog_cmd", "catalog"),
    "datastore": ("datastore_cmds", "datastore"),
    "config": ("config_cmd", "config"),
    "pool": ("pool_cmd", "pool"),
}


class LazyGroup(click.Group):
    """A group that imports a command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module = importlib.import_module(f".{target[0]}", __name__)
        command: click.Command = getattr(module, target[1])
        return command


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="jasmin-access")
@global_options
def cli() -> None:
    """Move ocean model output onto S3-compatible object stores (JASMIN) and read it back.

    URLs: s3://bucket/key (profile from --profile or the config), local://bucket/key
    (the embedded local store), https://host/bucket/key (public, read-only), webdav://PATH,
    sftp://PATH and az://CONTAINER/KEY (with a profile of that type), pool://NAME/DATASET
    (several stores as one), or local paths.
    """


def main() -> None:
    """Console-script entry point."""
    sys.unraisablehook = _unraisable
    try:
        code = run(cli)
    except KeyboardInterrupt:  # a Ctrl-C just as the command left its error boundary
        click.echo("jasmin-access: interrupted; re-run the same command to resume", err=True)
        code = 130
    # the command is over: a Ctrl-C while the interpreter shuts down must not turn
    # a finished run into a silent death by signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit(code)


def _unraisable(info: Any) -> None:
    """A Ctrl-C that lands inside a finalizer or weakref callback is not lost.

    Python reports such an interrupt as "Exception ignored in ..." with a
    traceback and carries on; here it is raised again in the main thread,
    where the error boundary turns it into the usual one-line message.
    """
    if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
        _thread.interrupt_main()
        return
    sys.__unraisablehook__(info)


def _exit(code: int) -> None:
    """Leave the process once the command is over, skipping interpreter teardown.

    Exit handlers still run (logging is flushed, S3 sessions are closed) and the
    output streams are flushed; what is skipped is freeing the 1,600-odd
    modules of xarray, dask, zarr and botocore object by object, which costs
    0.2-0.3 s after every command.  If any other non-daemon thread is still
    alive, the normal exit waits for it instead.
    """
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(not t.daemon for t in others):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):  # reader gone, or stream closed
            stream.flush()
    os._exit(code)
