"""Shared plumbing for the click commands: global options, errors, rendering.

Global options (``--profile``, ``--endpoint-url``, ``--anon``, ``--json``,
``-q``, ``-v``) are accepted before the command name and after it; the value
given closest to the command wins.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from ..errors import (
    EndpointUnreachable,
    JasminAccessError,
    PartialFailure,
    WrongEndpoint,
    redact,
    translate,
)

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("jasmin_access")


@dataclass
class GlobalOptions:
    """Options every command accepts."""

    profile: str | None = None
    endpoint_url: str | None = None
    anon: bool = False
    json: bool = False
    quiet: bool = False
    verbose: int = 0

    @property
    def resolve_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`jasmin_access.stores.resolve`."""
        return {
            "profile": self.profile,
            "endpoint_url": self.endpoint_url,
            "anon": self.anon or None,
        }

    @property
    def progress(self) -> bool:
        """Show progress bars: on a terminal, not quiet, not JSON."""
        return not self.quiet and not self.json and sys.stderr.isatty()


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        root = ctx.find_root()
        opts = root.obj if isinstance(root.obj, GlobalOptions) else GlobalOptions()
        root.obj = opts
        if name == "verbose":
            opts.verbose = max(opts.verbose, value or 0)
            if opts.verbose:
                _configure_logging(opts.verbose)
        elif value not in (None, False):
            setattr(opts, name, value)
        return value

    return callback


def _pool_labels(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    """Hand ``--label`` to pool placement (this process places what the command writes)."""
    if value:
        from ..pools.config import parse_labels
        from ..pools.pool import ENV_LABELS

        parse_labels(value)  # one clear line for a malformed label
        earlier = os.environ.get(ENV_LABELS)
        os.environ[ENV_LABELS] = ",".join([*([earlier] if earlier else []), *value])


def global_options(func: F) -> F:
    """Decorator adding the global options to a command or group."""
    return global_options_except()(func)


def global_options_except(*names: str) -> Callable[[F], F]:
    """Decorator adding the global options but those named (e.g. ``"--endpoint-url"``).

    For a command with an option of its own under that name, so that the global
    one cannot shadow it.
    """
    return lambda func: _add_options(func, names)


def _add_options(func: F, skip: tuple[str, ...]) -> F:
    options = [
        click.option(
            "--profile",
            "-p",
            metavar="NAME",
            callback=_store("profile"),
            expose_value=False,
            is_eager=True,
            help="Profile from the config file.",
        ),
        click.option(
            "--endpoint-url",
            metavar="URL",
            callback=_store("endpoint_url"),
            expose_value=False,
            is_eager=True,
            help="S3 endpoint, overriding the profile.",
        ),
        click.option(
            "--anon",
            is_flag=True,
            default=False,
            callback=_store("anon"),
            expose_value=False,
            is_eager=True,
            help="Anonymous access (public data).",
        ),
        click.option(
            "--json",
            "json_",
            is_flag=True,
            default=False,
            callback=_store("json"),
            expose_value=False,
            is_eager=True,
            help="One JSON object per line.",
        ),
        click.option(
            "-q",
            "--quiet",
            is_flag=True,
            default=False,
            callback=_store("quiet"),
            expose_value=False,
            is_eager=True,
            help="No progress bars or chatter.",
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            callback=_store("verbose"),
            expose_value=False,
            is_eager=True,
            help="More logging; tracebacks on error.",
        ),
        click.option(
            "--label",
            "labels",
            multiple=True,
            metavar="KEY=VALUE",
            callback=_pool_labels,
            expose_value=False,
            is_eager=True,
            help="For a new dataset in a pool: a label its backend must carry (tier=cold).",
        ),
    ]
    names = ("--profile", "--endpoint-url", "--anon", "--json", "--quiet", "--verbose", "--label")
    for name, option in reversed(list(zip(names, options, strict=True))):
        if name not in skip:
            func = option(func)
    return func


def get_options() -> GlobalOptions:
    """The merged global options of the running command."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalOptions):
        root.obj = GlobalOptions()
    return root.obj


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (it may be replaced, e.g. under test)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = _StderrHandler()
    handler.addFilter(_redact_record)
    logging.basicConfig(
        level=level,
        format="%(levelname)s %(name)s: %(message)s",
        handlers=[handler],
        force=True,
    )
    logging.getLogger("jasmin_access").setLevel(level)


def _redact_record(record: logging.LogRecord) -> bool:
    """Mask secrets in a log record before it is written (debug logs quote requests)."""
    record.msg = redact(record.getMessage())
    record.args = None
    return True


# --------------------------------------------------------------------------- rendering


def human_size(n: float | None) -> str:
    """``1536`` → ``'1.5 KiB'``."""
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)


class SizeType(click.ParamType):
    """A size in bytes, or with an IEC suffix: ``1536``, ``10K``, ``1M``, ``2GiB`` (1K = 1024)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        m = _SIZE.match(str(value))
        if m is None:
            self.fail(f"cannot read size {value!r} (e.g. 500, 10K, 1M, 2G)", param, ctx)
        power = " KMGTP".index(m.group(2).upper() or " ")
        return int(float(m.group(1)) * 1024**power)


def emit_json(records: Iterable[dict[str, Any]]) -> None:
    """Write one JSON object per line to stdout."""
    for record in records:
        click.echo(json.dumps(record, default=str, ensure_ascii=False))


def echo(text: str = "") -> None:
    """Write a line to stdout."""
    click.echo(text)


def note(text: str) -> None:
    """Write a status line to stderr unless quiet."""
    if not get_options().quiet:
        click.echo(text, err=True)


# --------------------------------------------------------------------------- error boundary


def run(cli: click.Group, argv: list[str] | None = None) -> int:
    """Run ``cli`` turning every error into one line on stderr and an exit code.

    Exit codes: 0 success, 1 error, 2 usage error or partial failure,
    130 interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a == "--verbose" or re.fullmatch(r"-v+", a) for a in argv)
    with warnings.catch_warnings():
        # libraries' warnings (zarr, xarray) are not for the user: logged under -v only
        if verbose:
            logging.captureWarnings(True)
        else:
            warnings.simplefilter("ignore")
        try:
            return _run(cli, argv, verbose)
        finally:
            logging.captureWarnings(False)


def _run(cli: click.Group, argv: list[str], verbose: bool) -> int:
    try:
        code = cli.main(args=argv, prog_name="jasmin-access", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool):  # ctx.exit(N) in a command
            return code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click wraps Ctrl-C in Abort
            click.echo("jasmin-access: interrupted; re-run the same command to resume", err=True)
            return 130
        click.echo("jasmin-access: aborted", err=True)
        return 1
    except click.UsageError as exc:
        click.echo(f"jasmin-access: error: {_usage_line(exc)}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("jasmin-access: interrupted; re-run the same command to resume", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except JasminAccessError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"jasmin-access: error: {_blame(exc, argv)}", err=True)
        return 2 if isinstance(exc, PartialFailure) else 1
    except Exception as exc:  # last resort: still one line
        if verbose:
            traceback.print_exc()
        command, url, profile = _context_of(argv)
        action = _ACTIONS.get(command, f"running {command}")
        known = translate(exc, action=action, url=url, profile=profile)
        if isinstance(known, JasminAccessError):
            click.echo(f"jasmin-access: error: {_blame(known, argv)}", err=True)
            return 1
        message = redact(str(exc).splitlines()[0] if str(exc) else "")
        click.echo(
            f"jasmin-access: error: {type(exc).__name__}: {message} (re-run with -v for details)",
            err=True,
        )
        return 1
    return 0


_ACTIONS = {
    "ls": "listing",
    "du": "listing",
    "tree": "listing",
    "find": "listing",
    "stat": "reading",
    "cat": "reading",
    "head": "reading",
    "cp": "copying",
    "mv": "moving",
    "rm": "deleting",
    "sync": "syncing",
    "mb": "making bucket",
    "convert": "converting into",
    "append": "appending to",
    "verify": "verifying",
    "info": "reading",
    "index": "indexing",
}


def _blame(exc: JasminAccessError, argv: list[str]) -> str:
    """The error line; an endpoint given with --endpoint-url is blamed, not the profile's."""
    given = any(a == "--endpoint-url" or a.startswith("--endpoint-url=") for a in argv)
    if given and isinstance(exc, (EndpointUnreachable, WrongEndpoint)):
        return f"{exc.message}: check the --endpoint-url value and your network"
    return str(exc)


def _usage_line(exc: click.UsageError) -> str:
    """A usage error as one line naming the likely cause, not Click's usage block."""
    message = exc.format_message()
    command = exc.ctx.command_path if exc.ctx is not None else "jasmin-access"
    if "unexpected extra argument" in message:
        hint = "quote globs ('s3://b/*.nc'), or give several sources where the command takes them"
    else:
        hint = f"see `{command} --help`"
    return f"{message}: {hint}"


def _context_of(argv: list[str]) -> tuple[str, str, str | None]:
    """Command name, first URL and profile named on a command line (for error messages)."""
    command, profile, words = "the command", None, iter(argv)
    for arg in words:
        if arg in ("-p", "--profile"):
            profile = next(words, None)
        elif arg == "--endpoint-url":
            next(words, None)
        elif arg.startswith("--profile="):
            profile = arg.split("=", 1)[1]
        elif not arg.startswith("-") and command == "the command":
            command = arg
    url = next((a for a in argv if "://" in a), "")
    return command, url, profile
