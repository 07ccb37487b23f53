"""Imports point one way: no cycles between the package's modules, lower layers below upper ones.

The modules are read with :mod:`ast` (nothing is imported), so an import made
inside a function counts as much as one at the top of a module; imports under
``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

import jasmin_access

PACKAGE = Path(jasmin_access.__file__).parent
# the architecture's lower layers, lowest first: a module there imports from its own layer
# and those below only (fs, conversion, datastore, open, the CLI ... are above them all)
LAYERS = [
    ("jasmin_access._version", "jasmin_access.errors", "jasmin_access.paths"),
    ("jasmin_access.caches", "jasmin_access.zarrkeys", "jasmin_access.timecoord"),
    ("jasmin_access.profile", "jasmin_access.execution"),
    ("jasmin_access.config",),
    ("jasmin_access.backends", "jasmin_access.localstore"),
    ("jasmin_access.stores",),
    ("jasmin_access.reading",),
]
# imports upward left as they are: ``info`` describes a datastore version too
UPWARD_ALLOWED = {("jasmin_access.reading.info", "jasmin_access.datastore")}
# the one cycle through imports made inside functions that is left: fs lists datastore
# versions as directories, and a datastore writes and deletes through fs; ``info`` describes
# datastore versions, whose stores describe their arrays with ``metainfo``
KNOWN_CYCLE = {
    "jasmin_access.reading.info",
    "jasmin_access.reading.metainfo",
    "jasmin_access.datastore._io",
    "jasmin_access.datastore.reading",
    "jasmin_access.datastore.repo",
    "jasmin_access.datastore.units",
    "jasmin_access.datastore.zstore",
    "jasmin_access.fs.listing",
    "jasmin_access.fs.remove",
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _targets(module: str, is_package: bool, node: ast.AST, modules: dict[str, Path]) -> set[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = module.split(".") if is_package else module.split(".")[:-1]
        if node.level:
            base = base[: len(base) - node.level + 1]
            name = ".".join([*base, *([node.module] if node.module else [])])
        else:
            name = node.module or ""
        names = [name, *(f"{name}.{alias.name}" for alias in node.names)]
    else:
        return set()
    return {n for n in names if n in modules and n != module}


@functools.cache
def _graph(top_level_only: bool) -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_nodes(tree)
        nodes = tree.body if top_level_only else list(ast.walk(tree))
        for node in nodes:
            if id(node) not in skip:
                edges[module] |= _targets(module, path.name == "__init__.py", node, modules)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def _layer(module: str) -> int | None:
    for i, names in enumerate(LAYERS):
        if any(module == n or module.startswith(f"{n}.") for n in names):
            return i
    return None


def test_the_graph_sees_imports_inside_functions() -> None:
    edges = _graph(top_level_only=False)
    assert "jasmin_access.reading.locations" in edges["jasmin_access.reading.tasks"]  # in slices()
    assert "jasmin_access.open" not in _graph(top_level_only=True)["jasmin_access"]


def test_no_import_cycles_at_module_level() -> None:
    assert _cycles(_graph(top_level_only=True)) == []


def test_no_new_import_cycles_through_function_level_imports() -> None:
    cycles = _cycles(_graph(top_level_only=False))
    assert all(cycle <= KNOWN_CYCLE for cycle in cycles), cycles


def _upward(module: str, target: str) -> bool:
    here, there = _layer(module), _layer(target)
    if here is None or target == "jasmin_access":
        return False
    if any(module == m and target.startswith(t) for m, t in UPWARD_ALLOWED):
        return False
    return there is None or there > here


def test_lower_layers_never_import_upper_ones() -> None:
    edges = _graph(top_level_only=False)
    wrong = [f"{m} imports {t}" for m, targets in edges.items() for t in targets if _upward(m, t)]
    assert wrong == []
    assert _upward("jasmin_access.reading.tasks", "jasmin_access.open")  # the rule bites


def test_resolving_an_s3_url_imports_no_client_or_array_library() -> None:
    """``resolve`` (every command's and opener's first step) stays light in a fresh process.

    fsspec, asyncio and ``importlib.metadata`` cost a tenth of a second to import;
    they come with the embedded store, generic schemes and plug-in backends only.
    """
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from jasmin_access.stores import resolve\n"
        "loc = resolve('s3://bucket/run.zarr', endpoint_url='http://127.0.0.1:9', anon=True)\n"
        "assert loc.path == 'bucket/run.zarr', loc\n"
        "print(json.dumps(sorted(m for m in sys.argv[1:] if m in sys.modules)))\n"
    )
    heavy = ["fsspec", "asyncio", "importlib.metadata", "botocore", "s3fs", "numpy", "click"]
    done = subprocess.run(
        [sys.executable, "-c", code, *heavy], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
