"""The package's layout: one direction of import, kernels below everything,
no public name hiding a submodule, nothing compiled at import.

The import graph is read from the source with :mod:`ast` (imports at module
level and inside functions alike, except under ``if TYPE_CHECKING:``), so a
cycle hidden in a function body is found without running the code.
"""

import ast
import importlib
import importlib.util
import pathlib
import pkgutil
import subprocess
import sys

import pytest

# found without importing fastfd, so that a cycle is reported as a cycle and
# not as an ImportError at collection
PACKAGE_DIR = pathlib.Path(importlib.util.find_spec("fastfd").origin).resolve().parent


def _module_name(path, package_dir=PACKAGE_DIR):
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package_dir):
    return {_module_name(p, package_dir): p for p in sorted(package_dir.rglob("*.py"))}


MODULES = _modules(PACKAGE_DIR)


def _is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node):
    """Every Import/ImportFrom under ``node``, skipping TYPE_CHECKING blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for sub in child.orelse:
                yield from _import_nodes_of(sub)
            continue
        yield from _import_nodes_of(child)


def _import_nodes_of(node):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    yield from _import_nodes(node)


def _internal_imports(name, modules=MODULES):
    """fastfd modules imported by module ``name``: {target: first line}."""
    path = modules[name]
    is_package = path.name == "__init__.py"
    targets = {}

    def add(target, line):
        if target == "fastfd" or target.startswith("fastfd."):
            if target not in modules:
                raise AssertionError(f"{name} (line {line}) imports {target}, "
                                     "which is not a module of fastfd")
            targets.setdefault(target, line)

    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
            continue
        if node.level:
            package = name if is_package else name.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{node.module}" if node.module else package
        else:
            base = node.module
        if not (base == "fastfd" or base.startswith("fastfd.")):
            continue
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            add(sub if sub in modules else base, node.lineno)
    return targets


GRAPH = {name: _internal_imports(name) for name in MODULES}


def _cycles(graph):
    """Strongly connected components with more than one module (or a module
    importing itself): (their modules, one cycle through them [a, ..., a])."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append((sorted(component), _cycle_in(graph, set(component))))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def _cycle_in(graph, component):
    """One shortest cycle through the smallest module of a strongly connected
    component, found by breadth-first search: [start, ..., start]."""
    start = min(component)
    parent = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return path[::-1] + [start]
            if w in component and w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError(f"no cycle in {sorted(component)}")


def _describe(cycle):
    steps = [f"{a} -> {b} (line {GRAPH[a][b]})" for a, b in zip(cycle, cycle[1:])]
    return "\n    ".join(steps)


def test_cycle_finder_reports_a_cycle():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}, "e": {"e": 5}}
    assert _cycles(graph) == [(["a", "b", "c"], ["a", "b", "c", "a"]), (["e"], ["e", "e"])]
    assert _cycles({"a": {"b": 1}, "b": {}}) == []


def test_cycle_through_a_function_level_import_is_found(tmp_path):
    pkg = tmp_path / "fastfd"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("import os\n\ndef f():\n    from .. import a\n"
                                      "    from ..a import x\n")
    modules = _modules(pkg)
    graph = {name: _internal_imports(name, modules) for name in modules}
    assert graph["fastfd.sub.b"] == {"fastfd.a": 4}
    assert _cycles(graph) == [(["fastfd.a", "fastfd.sub.b"],
                               ["fastfd.a", "fastfd.sub.b", "fastfd.a"])]


def test_import_graph_reads_relative_and_function_level_imports():
    # fastfd/__init__.py imports its subpackages by `from . import ...`
    assert {"fastfd.functions", "fastfd.grid", "fastfd.gradcheck"} <= set(GRAPH["fastfd"])
    assert any(target.startswith("fastfd._kernels") for target in GRAPH["fastfd.kernels"])


def test_no_import_cycles():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles between fastfd modules:\n  " + "\n  ".join(
        f"{', '.join(modules)} import each other; one cycle:\n    " + _describe(cycle)
        for modules, cycle in cycles)


def test_kernels_import_nothing_from_fastfd_but_config():
    allowed = {"fastfd._config"}
    bad = [f"{name} imports {target} (line {line})"
           for name, targets in GRAPH.items() if name.startswith("fastfd._kernels")
           for target, line in targets.items()
           if target not in allowed and not target.startswith("fastfd._kernels")]
    assert not bad, "\n".join(bad)


PACKAGES = sorted(name for name, path in MODULES.items() if path.name == "__init__.py")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_public_name_shadows_a_submodule(package):
    module = importlib.import_module(package)
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    public = set(getattr(module, "__all__", ())) | {
        n for n in vars(module) if not n.startswith("_")}
    bad = []
    for name in sorted(public & submodules):
        obj = getattr(module, name)
        if obj is not sys.modules.get(f"{package}.{name}"):
            bad.append(f"{package}.{name} is {obj!r}, and {package}/{name} is a module")
    assert not bad, "\n".join(bad)


def test_derivative_is_the_function_and_no_module():
    import fastfd

    assert callable(fastfd.derivative) and not isinstance(fastfd.derivative, type(fastfd))
    assert "derivative" not in {i.name for i in pkgutil.iter_modules(fastfd.__path__)}


COMPILED_SIGNATURES = """
import sys
import fastfd
from numba.core.dispatcher import Dispatcher
n = []
for name, mod in list(sys.modules.items()):
    if name == "fastfd" or name.startswith("fastfd."):
        for attr, obj in vars(mod).items():
            if isinstance(obj, Dispatcher) and obj.signatures:
                n.append(f"{name}.{attr}: {obj.signatures}")
print("\\n".join(n))
"""


def test_import_fastfd_compiles_nothing():
    # a fresh interpreter: this one has compiled kernels already
    run = subprocess.run([sys.executable, "-c", COMPILED_SIGNATURES], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", f"compiled while importing fastfd:\n{run.stdout}"
