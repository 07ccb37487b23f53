"""``--scheduler`` and ``--cluster``: the same options on every bulk command."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

SCHEDULER_HELP = (
    "threads (default), processes, tcp://HOST:PORT or tls://HOST:PORT (a Dask scheduler)."
)


def scale_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--scheduler``/``--cluster``/``--cores``/``--memory``/``--jobs`` to a command.

    The command receives ``scheduler=`` only: the address of the cluster started
    for the run, or the ``--scheduler`` given.
    """

    @functools.wraps(func)
    def wrapper(**kw: Any) -> Any:
        from ..execution import scheduler_for

        cluster = {k: kw.pop(k) for k in ("cores", "memory", "jobs")}
        with scheduler_for(kw.pop("scheduler"), kw.pop("cluster"), **cluster) as scheduler:
            return func(scheduler=scheduler, **kw)

    options = [
        click.option("--scheduler", metavar="NAME|URL", help=SCHEDULER_HELP),
        click.option(
            "--cluster", type=click.Choice(["slurm"]), help="Start a SLURM cluster for the run."
        ),
        click.option("--cores", type=int, help="--cluster: cores per job (1)."),
        click.option("--memory", metavar="SIZE", help="--cluster: memory per job (4GB)."),
        click.option("--jobs", type=int, help="--cluster: number of jobs (1)."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper
