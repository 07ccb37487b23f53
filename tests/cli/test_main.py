"""The command shell: help, version, global options anywhere, the error boundary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from jasmin_access import __version__
from jasmin_access.cli import cli
from jasmin_access.cli._common import (
    GlobalOptions,
    echo,
    get_options,
    global_options,
    human_size,
    note,
    run,
)
from jasmin_access.config import add_profile
from jasmin_access.errors import AccessDenied, PartialFailure, register_secret
from tests.cli.helpers import cli_run

EXE = str(Path(sys.executable).with_name("jasmin-access"))


def test_help_lists_commands_and_global_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli_run(capsys, "--help")
    assert code == 0
    for option in ("--profile", "--endpoint-url", "--anon", "--json", "--quiet", "--verbose"):
        assert option in out
    assert "config" in out and "ls" in out
    code, out, _ = cli_run(capsys, "config", "show", "-h")
    assert code == 0 and "--profile" in out and "--json" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli_run(capsys, "--version")
    assert code == 0 and out.strip() == f"jasmin-access, version {__version__}"


def test_every_command_takes_the_global_options() -> None:
    def walk(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
        found = []
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, f"{prefix}{name} is listed but cannot be loaded"
            found.append((f"{prefix}{name}", command))
            if isinstance(command, click.Group):
                found.extend(walk(command, f"{prefix}{name} "))
        return found

    commands = walk(cli, "")
    assert len(commands) > 5
    for name, command in commands:
        flags = {opt for p in command.params for opt in getattr(p, "opts", [])}
        wanted = {"--profile", "--endpoint-url", "--anon", "--json", "-q", "-v"}
        if name in ("config add", "config default"):  # NAME is the profile: -p cannot apply
            wanted.discard("--profile")
            assert "--profile" not in flags and "-p" not in flags
        if name == "config default":  # nothing to connect to
            wanted -= {"--endpoint-url", "--anon"}
        missing = wanted - flags
        assert not missing, f"{name} lacks {missing}"


@pytest.mark.parametrize(
    "argv",
    [
        ["--profile", "a", "--json", "config", "show"],
        ["config", "--profile", "a", "--json", "show"],
        ["config", "show", "--profile", "a", "--json"],
        ["-p", "a", "config", "show", "--json"],
    ],
)
def test_global_options_before_and_after_the_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    add_profile("a", {"endpoint_url": "http://a.example", "anon": True})
    code, out, _ = cli_run(capsys, *argv)
    assert code == 0
    assert json.loads(out)["name"] == "a"


def test_endpoint_and_anon_overrides_reach_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    add_profile("a", {"endpoint_url": "http://a.example", "key": "AKIAXXXX", "secret": "s-123456"})
    code, out, _ = cli_run(
        capsys, "--endpoint-url", "http://b.example", "config", "show", "a", "--anon", "--json"
    )
    shown = json.loads(out)
    assert code == 0 and shown["endpoint"] == "http://b.example" and shown["anon"] is True


# --------------------------------------------------------------------------- error boundary


@click.group()
@global_options
def toy() -> None:
    """A small command group exercising the error boundary."""


@toy.command()
@click.argument("kind")
@global_options
def fail(kind: str) -> None:
    """Raise the error named by KIND."""
    opts = get_options()
    note("working")
    if kind == "denied":
        raise AccessDenied("access denied listing s3://b/", "renew the key")
    if kind == "partial":
        raise PartialFailure("2 of 3 objects failed", "re-run to retry", failures=["x", "y"])
    if kind == "interrupt":
        raise KeyboardInterrupt
    if kind == "pipe":
        raise BrokenPipeError
    if kind == "bug":
        raise RuntimeError("secret=hunter2-long-value went wrong\nsecond line")
    echo(json.dumps({"quiet": opts.quiet, "verbose": opts.verbose, "json": opts.json}))


def test_known_error_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(toy, ["fail", "denied"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "working",
        "jasmin-access: error: access denied listing s3://b/: renew the key",
    ]


def test_verbose_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(toy, ["fail", "denied", "-vv"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback (most recent call last)" in err
    assert err.rstrip().endswith(
        "jasmin-access: error: access denied listing s3://b/: renew the key"
    )


@pytest.mark.parametrize(
    ("kind", "code", "line"),
    [
        ("partial", 2, "jasmin-access: error: 2 of 3 objects failed: re-run to retry"),
        ("interrupt", 130, "jasmin-access: interrupted; re-run the same command to resume"),
        ("pipe", 0, None),
    ],
)
def test_exit_codes(
    kind: str, code: int, line: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(toy, ["fail", kind, "-q"]) == code
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x]  # click writes a blank line on Ctrl-C
    assert lines == ([line] if line else [])  # and -q silenced the note


def test_unexpected_errors_are_one_redacted_line(capsys: pytest.CaptureFixture[str]) -> None:
    register_secret("hunter2-long-value")
    code = run(toy, ["fail", "bug"])
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 1 and len(lines) == 2  # the note, then the error
    assert lines[1].startswith("jasmin-access: error: RuntimeError: ")
    assert "hunter2" not in err and "re-run with -v" in lines[1]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cli, ["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err
    assert run(cli, ["config", "show", "--no-such-option"]) == 2


def test_options_merge_into_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(toy, ["-q", "fail", "ok", "--json", "-v"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {"quiet": True, "verbose": 1, "json": True}
    opts = GlobalOptions(profile="p", anon=True)
    assert opts.resolve_kwargs == {"profile": "p", "endpoint_url": None, "anon": True}
    assert GlobalOptions().resolve_kwargs["anon"] is None
    assert not GlobalOptions(json=True).progress


@pytest.mark.parametrize(
    ("n", "text"),
    [(None, "-"), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 2**30, "5.0 GiB")],
)
def test_human_size(n: int | None, text: str) -> None:
    assert human_size(n) == text


def test_installed_command_end_to_end(isolated_env: Path) -> None:
    done = subprocess.run([EXE, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and __version__ in done.stdout
    done = subprocess.run(
        [EXE, "config", "show", "ghost"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "jasmin-access: error: unknown profile 'ghost' (known: local): add it with "
        "`jasmin-access config add ghost ...` or pick one of: local"
    ]


def test_installed_command_flushes_piped_output_and_runs_exit_handlers(
    isolated_env: Path, tmp_path: Path
) -> None:
    (tmp_path / "d").mkdir()
    for i in range(300):
        (tmp_path / "d" / f"f{i:03d}.txt").write_text("x" * i)
    done = subprocess.run(
        [EXE, "-v", "ls", str(tmp_path / "d"), "--json"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]  # every line arrived
    assert len(rows) == 300 and {r["size"] for r in rows} == set(range(300))
    done = subprocess.run(
        [EXE, "-v", "stat", str(tmp_path / "missing")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "Traceback" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1].startswith("jasmin-access: error:")


def test_interrupt_inside_a_finalizer_reaches_the_main_thread(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc
    import signal
    import time
    from types import SimpleNamespace

    from jasmin_access.cli import _unraisable

    def info(exc: BaseException) -> SimpleNamespace:
        return SimpleNamespace(exc_type=type(exc), exc_value=exc, exc_traceback=None,
                               err_msg="Exception ignored in", object=None)  # fmt: skip

    # as in the CLI; and no collection here, whose finalizers could catch the interrupt first
    monkeypatch.setattr(sys, "unraisablehook", _unraisable)
    # Python's own SIGINT handler, as a CLI process has, whatever a library set before
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    gc.disable()
    try:
        with pytest.raises(KeyboardInterrupt):
            _unraisable(info(KeyboardInterrupt()))
            time.sleep(1)  # delivered to this (main) thread at the next check
    finally:
        gc.enable()
        signal.signal(signal.SIGINT, saved)

    class Broken:
        def __del__(self) -> None:
            raise ValueError("boom")

    Broken()  # anything else is reported as Python does
    assert "ValueError: boom" in capsys.readouterr().err


def test_interrupt_as_the_command_ends_exits_130_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    import jasmin_access.cli as cli_module

    def interrupted(_cli: object) -> int:
        raise KeyboardInterrupt  # as if Ctrl-C landed after the boundary returned

    codes: list[int] = []
    monkeypatch.setattr(cli_module, "run", interrupted)
    monkeypatch.setattr(cli_module, "_exit", codes.append)
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)
    saved = signal.getsignal(signal.SIGINT)
    try:
        cli_module.main()
    finally:
        signal.signal(signal.SIGINT, saved)
    err = capsys.readouterr().err
    assert codes == [130] and err.strip().splitlines() == [
        "jasmin-access: interrupted; re-run the same command to resume"
    ]
