"""Run one Python function of a benchmark case in this (fresh) process.

``python -m benchmarks.worker benchmarks.cases.read:peer_load '{"url": ...}'``
calls the function with the JSON keyword arguments and prints its result as
one JSON line, which the harness reads back.
"""

from __future__ import annotations

import importlib
import json
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``MODULE:FUNCTION JSON_KWARGS``."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or ":" not in argv[0]:
        sys.stderr.write("usage: python -m benchmarks.worker MODULE:FUNCTION JSON_KWARGS\n")
        return 2
    module_name, func_name = argv[0].split(":", 1)
    func = getattr(importlib.import_module(module_name), func_name)
    result = func(**json.loads(argv[1]))
    sys.stdout.write(json.dumps(result if isinstance(result, dict) else {"result": result}))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
