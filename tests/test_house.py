"""The house's shape: where things live, and the habits that keep it so."""
import ast
import os
import shutil
import subprocess
import sys

import pytest

from minilstm import validate
from minilstm.core import gru, lstm


def test_the_cells_layouts_are_the_ones_validate_checks():
    assert validate.CELLS["lstm"].cache == lstm.CACHE_KEYS
    assert validate.CELLS["gru"].cache == gru.GRU_CACHE_KEYS
    assert validate.CELLS["gru"].params == gru.GRU_PARAMS
    assert validate.CELLS["lstm"].gates == len(lstm.GATES) and validate.CELLS["gru"].gates == len(gru.GRU_GATES)


def test_core_cell_modules_hold_the_math_only():
    """No argument-checking code in the reference: each function calls one ``validate`` check."""
    import inspect
    for mod in (lstm, gru):
        src = inspect.getsource(mod)
        assert "raise " not in src and "try:" not in src, mod.__name__


# ---- habits: rooms of one screenful, no import cycles, the linter ------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "minilstm")
MAX_LINES = 500
# LSTMModel's module is split on its own (its fit and evaluate helpers move out); every other module holds the limit
OVER_LIMIT = {"forecast/model.py": 650}


def library_modules():
    """{dotted name: path} of every module of the package."""
    out = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                out[name[:-len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


def import_graph():
    """Module -> the package's modules it imports anywhere in its code (lazy imports inside functions too)."""
    mods = library_modules()
    graph = {}
    for name, path in mods.items():
        package = name.split(".") if path.endswith("__init__.py") else name.split(".")[:-1]
        edges = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for a in node.names:               # ``from . import x``: the submodule x when there is one
                    edges.add(f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target)
        graph[name] = {e for e in edges if e in mods and e != name}
    return graph


def test_no_library_module_is_above_500_lines():
    long = {}
    for name, path in library_modules().items():
        rel = os.path.relpath(path, PACKAGE).replace(os.sep, "/")
        n = sum(1 for _ in open(path))
        if n > OVER_LIMIT.get(rel, MAX_LINES):
            long[rel] = n
    assert not long, f"modules above {MAX_LINES} lines (split them by idea): {long}"


def test_no_import_cycles_lazy_imports_included():
    graph = import_graph()
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_the_cycle_check_sees_lazy_imports():
    graph = import_graph()
    assert "minilstm.kernels.numba_cpu" in graph["minilstm.kernels"]        # get_impl's import inside a function
    assert "minilstm.plotting" in graph["minilstm.forecast.backtesting"]


def test_the_linter_passes():
    """ruff (configured in pyproject.toml: line length, import order, unused names) on the package and the tests."""
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install 'minilstm[dev]')")
    r = subprocess.run([ruff, "check", "--output-format", "concise", "minilstm", "tests"], cwd=REPO,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_public_packages_say_what_they_export():
    import minilstm
    import minilstm.core
    import minilstm.datasets
    import minilstm.exercises
    import minilstm.forecast
    import minilstm.kernels
    for pkg in (minilstm, minilstm.core, minilstm.datasets, minilstm.exercises, minilstm.forecast, minilstm.kernels):
        assert all(hasattr(pkg, n) for n in pkg.__all__), pkg.__name__
    assert sys.modules["minilstm.gru"].gru_forward is gru.gru_forward          # the old address still works


# The README's architecture table, from the bottom up: a module imports only from its own layer or the ones before.
LAYERS = [("errors", "_version"), ("archive", "backend"), ("validate",), ("core", "gru", "bidirectional"),
          ("kernels",), ("functional",), ("nn", "optim", "gradcheck", "interop"), ("plotting", "datasets"),
          ("forecast",), ("exercises",), ("demo", "cli", "__main__", "minilstm")]


def test_each_layer_imports_only_from_the_layers_before_it():
    rank = {name: k for k, names in enumerate(LAYERS) for name in names}

    def layer(module):
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else "minilstm"

    upward = [f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
              if rank[layer(b)] > rank[layer(a)]]
    assert not upward, f"imports against the layer order: {upward}"
