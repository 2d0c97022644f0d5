"""The shape of the code: every module imports, no import cycles, small modules, one-way layers.

The import graph is read from the source (every ``import`` statement, also those inside
functions: a lazy import is still a dependency), one node per module. ``import a.b.c`` and
``from a.b import c`` point at the module they name; they do not count the parent packages'
``__init__`` modules that Python runs on the way (every module would otherwise depend on its
package's ``__init__`` and every re-export in an ``__init__`` would close a cycle). ``from pkg
import name`` where ``name`` is not a module points at ``pkg/__init__.py``: a real use of
what the package re-exports. A cycle is a strongly connected component of more than one module
(or a module importing itself).
"""
import ast
import functools
import importlib
import os
import pathlib
import re
import sys

import pytest

from tests.conftest import REPO

PACKAGES = [p for p in ("caffe_compat", "matlab_ports", "lq_models", "reproduction", "caffe")
            if (REPO / p / "__init__.py").exists()]

# A module of ours above this many lines must say in its docstring why it is one piece.
MAX_LINES = 600
# caffe.proto as Python (its table, the classes built from it): the schema, not ours to split.
GENERATED = {"caffe_compat/proto/caffe_pb2.py", "caffe_compat/proto/schema.py"}
# Packages below others: (package, packages it must not import).
LAYERS = {
    "caffe_compat": {"matlab_ports", "lq_models", "reproduction", "caffe"},
    "lq_models": {"reproduction"},
    "matlab_ports": {"reproduction"},
}


@functools.lru_cache(maxsize=None)
def _parsed(path):
    """The syntax tree of the file at ``path`` (parsed once for every test here)."""
    path = pathlib.Path(path)
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


@functools.lru_cache(maxsize=None)
def _module_files():
    out = {}
    for pkg in PACKAGES:
        for folder, dirs, files in os.walk(REPO / pkg):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
            for f in sorted(files):
                if not f.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(folder, f), REPO)
                parts = rel[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                out[".".join(parts)] = rel.replace(os.sep, "/")
    return out


def module_files():
    """{module name: path relative to the repository} of every module of PACKAGES."""
    return dict(_module_files())


def _package_of(module, path):
    return module if path.endswith("__init__.py") else module.rpartition(".")[0]


def imports_of(module, path, modules):
    """The modules of ours that ``module`` imports (see the module doc)."""
    tree = _parsed(REPO / path)
    package = _package_of(module, path)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name:
                    out.add(name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    out.add(sub)
                elif target in modules and not _is_c_extension(modules[target], alias.name):
                    out.add(target)
    out.discard(module)
    return out


def _is_c_extension(package_path, name):
    """``from pkg import name`` of a compiled module of ours (``name.c`` beside the package's
    modules): a leaf, not a use of the package's ``__init__``."""
    folder = (REPO / package_path).parent
    return (folder / f"{name}.c").exists() or any(folder.glob(f"{name}.*.so"))


def import_graph():
    return {m: set(v) for m, v in _import_graph().items()}


@functools.lru_cache(maxsize=None)
def _import_graph():
    modules = module_files()
    return {m: frozenset(imports_of(m, p, modules)) for m, p in modules.items()}


def strongly_connected(graph):
    """Tarjan's strongly connected components (iterative), as sorted lists."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                out.append(sorted(comp))
    return out


def test_the_graph_finds_a_cycle():
    """The detector itself: a two-module cycle and a three-module one are found."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    comps = [c for c in strongly_connected(graph) if len(c) > 1]
    assert sorted(comps) == [["a", "b"], ["c", "d", "e"]]


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 120, "the module walk found too few modules"
    cycles = [c for c in strongly_connected(graph) if len(c) > 1]
    detail = []
    for comp in cycles:
        inside = set(comp)
        detail.append(" <-> ".join(comp) + ":\n    " + "\n    ".join(
            f"{m} imports {sorted(graph[m] & inside)}" for m in comp))
    assert not cycles, "import cycles between modules:\n" + "\n".join(detail)


def test_layers_point_one_way():
    """caffe_compat imports none of the packages built on it, and so on down the layers."""
    graph = import_graph()
    wrong = []
    for module, targets in graph.items():
        banned = LAYERS.get(module.split(".")[0], ())
        wrong += [f"{module} imports {t}" for t in sorted(targets) if t.split(".")[0] in banned]
    assert not wrong, "\n".join(wrong)


def test_the_graph_does_not_import_io():
    """The graph works on messages io has already read and upgraded."""
    graph = import_graph()
    assert not {t for t in graph["caffe_compat.net.graph"] if t.startswith("caffe_compat.io")}


@pytest.mark.parametrize("module", sorted(module_files()))
def test_every_module_imports(module):
    importlib.import_module(module)


def _module_docstring(path):
    return ast.get_docstring(ast.parse((REPO / path).read_text(encoding="utf-8"))) or ""


@pytest.mark.parametrize("path", sorted(p for p in module_files().values()
                                        if p not in GENERATED))
def test_module_is_small_or_says_why_not(path):
    """Above MAX_LINES lines, the docstring says why the module is one piece (a sentence
    with the words "one piece")."""
    lines = (REPO / path).read_text(encoding="utf-8").count("\n")
    if lines <= MAX_LINES:
        return
    doc = _module_docstring(path)
    assert re.search(r"\bone piece\b", doc, re.I), (
        f"{path}: {lines} lines (more than {MAX_LINES}) and no sentence in its docstring "
        "saying why it must be one piece: split it by concern, or say why not")


def test_no_module_of_ours_is_left_out():
    """The walk covers every package (a new top-level package must join PACKAGES)."""
    ours = {p.name for p in REPO.iterdir() if (p / "__init__.py").exists()
            and p.name not in ("tests", "benchmarks", "docs")}
    assert ours <= set(PACKAGES) | {"prototxt"}, ours - set(PACKAGES)
    assert "caffe_compat" in sys.modules or importlib.import_module("caffe_compat")


# The root of caffe_compat holds its public surface only; every other module lives in the
# subpackage of its concern (docs/layout.md has one line per subpackage).
ROOT_MODULES = {"__init__.py", "errors.py"}
SUBPACKAGES = {
    "rules": "each layer type's rules (parameters, defaults, shapes, refusals) and the one "
             "registry of layer types and engines",
    "net": "building and running a net (Net, its build, weights, graph, stepwise runs)",
    "layers": "one module per layer type or family, with the layer base, registry and "
              "fillers",
    "solvers": "the solvers and their loop",
    "inference": "the fast inference path and the engines",
    "array_net": "Caffe's forward on numpy arrays with the compiled kernels (deploy nets without torch)",
    "array_solver": "Caffe's SGD solver on the array engine's nets (pycaffe's training without torch)",
    "onnx_path": "the ONNX path: one converter per layer type and one writer, for the torch-free "
                 "forwards of dnn and for the ONNX export, and the runtimes that run them",
    "kernels": "numeric kernels (Caffe's summation order, C kernels, DFT, memory)",
    "parallel": "threads and data parallelism",
    "data": "data sources, databases, transformer, random streams",
    "io": "reading and writing Caffe's files",
    "proto": "caffe.proto and its generated module",
    "cli": "the command line",
    "tools": "Caffe's tools and the helpers behind them",
    "diagnostics": "error messages (suggestions, locations)",
    "dnn": "cv2.dnn's Caffe surface",
    "export": "ONNX and TorchScript export",
    "verify": "the parity checks against a Caffe build",
}


def test_the_root_of_caffe_compat_holds_only_the_public_surface():
    root = REPO / "caffe_compat"
    where = "\n".join(f"  {name}/: {what}" for name, what in SUBPACKAGES.items())
    modules = sorted(p.name for p in root.iterdir() if p.suffix in (".py", ".c"))
    stray = [m for m in modules if m not in ROOT_MODULES]
    assert not stray, (f"caffe_compat/ holds only {sorted(ROOT_MODULES)}; move {stray} into "
                       f"the subpackage of its concern:\n{where}")
    packages = {p.name for p in root.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(SUBPACKAGES), (
        f"new subpackages {sorted(packages - set(SUBPACKAGES))} join SUBPACKAGES (and a line in "
        f"docs/layout.md); gone: {sorted(set(SUBPACKAGES) - packages)}")


def _python_files():
    """Every .py file of the repository (not build outputs, virtualenvs or hidden folders)."""
    skip = {"build", "dist", "site", "__pycache__"}
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if d not in skip and not d.startswith("."))
        for f in sorted(files):
            if f.endswith(".py"):
                yield os.path.join(folder, f)


def test_no_module_keeps_a_name_at_an_earlier_home():
    """A module that moved is imported from its new home everywhere; none re-exports names
    for an earlier path."""
    marked = sorted(path for path in module_files().values()
                    if re.search(r"earlier home", (REPO / path).read_text(encoding="utf-8")))
    assert not marked, f"re-exports kept for an earlier home: {marked}"


@functools.lru_cache(maxsize=None)
def _top_level_names(path):
    """The names a module binds at its top level (also in if / try blocks) and its __all__."""
    tree = _parsed(path)
    names, exported = set(), set()
    for node in tree.body:
        for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
            elif isinstance(sub, (ast.Assign, ast.AnnAssign)):
                targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            names.add(n.id)
                            if n.id == "__all__" and isinstance(sub.value, (ast.List, ast.Tuple)):
                                exported |= {e.value for e in sub.value.elts
                                             if isinstance(e, ast.Constant)}
    return names, exported


def test_imports_of_caffe_compat_name_where_the_name_lives():
    """Every ``from caffe_compat.X import name`` in the repository names a module X that
    defines ``name`` (or lists it in ``__all__``), a package that exports it, or a submodule:
    no name is reached through a module that merely imports it."""
    modules = module_files()
    wrong = []
    for path in _python_files():
        rel = os.path.relpath(path, REPO)
        tree = _parsed(path)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    and node.module.split(".")[0] == "caffe_compat"):
                continue
            if node.module not in modules:
                wrong.append(f"{rel}:{node.lineno}: no module {node.module}")
                continue
            if modules[node.module].endswith("__init__.py"):
                continue                      # a package's __init__ exports what it imports
            names, exported = _top_level_names(REPO / modules[node.module])
            for alias in node.names:
                if (alias.name not in names | exported
                        and f"{node.module}.{alias.name}" not in modules):
                    wrong.append(f"{rel}:{node.lineno}: {alias.name} is not defined in "
                                 f"{node.module}")
    assert not wrong, "\n".join(wrong)
