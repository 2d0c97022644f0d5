"""The one registry of Caffe layer types and the engines that implement them.

Every engine registers its implementation of a type here (through its own decorator:
``register_layer`` for the torch layers, the array engine's ``register``, the ONNX export's
``register_converter``, the PyTorch-source ``register_emitter``, the torch-free converters'
``register``, the compiled loops' ``emitter``), and every engine's list of the types it claims
is read from here. ``caffe-compat layers`` prints the table (type x engine).

An engine's modules are imported on the first question about that engine (a program that runs
one engine never imports the others); the parameter rules each implementation reads are in
:mod:`caffe_compat.rules`.
"""
from __future__ import annotations

import importlib

# engine -> (what it is, the modules that register its implementations), in the table's order
ENGINES = {
    "torch": ("the reference layers (torch modules, Caffe's forward and backward)",
              ("caffe_compat.layers",)),
    "array": ("pycaffe's numpy engine (forward, backward, CPU solvers)",
              ("caffe_compat.array_net.layers",)),
    "array-loop": ("the array engine's compiled training step", ("caffe_compat.array_solver.loop",)),
    "fast": ("the fused inference replacements of the torch engine",
             ("caffe_compat.inference.fast_layers",)),
    "lite": ("the torch-free ONNX path of cv2.dnn (ONNX nodes)", ("caffe_compat.lite.converters",)),
    "lite-host": ("the torch-free path's numpy steps", ("caffe_compat.lite.converters",)),
    "onnx": ("the ONNX export (from the built torch net)", ("caffe_compat.export.converters",)),
    "pytorch-source": ("the plain PyTorch source export", ("caffe_compat.export.pytorch.emitters",)),
}

_TABLE = {engine: {} for engine in ENGINES}
_LOADED = set()


def add(engine, type_name, implementation, replace=False, kind="implementation"):
    """Register ``implementation`` of ``type_name`` for ``engine``; a second, different one
    is a ValueError unless ``replace``."""
    table = _TABLE[engine]
    old = table.get(type_name)
    if old is not None and not replace and old is not implementation:
        raise ValueError(f"{kind} for layer type '{type_name}' is already registered "
                         f"({getattr(old, '__module__', type(old).__module__)}); pass "
                         "replace=True")
    table[type_name] = implementation
    return implementation


def entries(engine):
    """``engine``'s live ``{type: implementation}`` table (its own registry module reads and
    writes it)."""
    return _TABLE[engine]


def remove(engine, type_name):
    _TABLE[engine].pop(type_name, None)


def lookup(engine, type_name):
    """The implementation registered so far (no import), or None."""
    return _TABLE[engine].get(type_name)


def load(engine):
    """Import the modules that register ``engine``'s implementations (once)."""
    if engine not in _LOADED:
        _LOADED.add(engine)
        for module in ENGINES[engine][1]:
            mod = importlib.import_module(module)
            loader = getattr(mod, "load_all", None)
            if loader is not None:
                loader()


def implementation(engine, type_name):
    """``engine``'s implementation of ``type_name`` (its modules imported first), or None."""
    found = _TABLE[engine].get(type_name)
    if found is None and engine not in _LOADED:
        load(engine)
        found = _TABLE[engine].get(type_name)
    return found


def types(engine, load_first=True):
    """Sorted type names ``engine`` claims."""
    if load_first:
        load(engine)
    return sorted(_TABLE[engine])


def table():
    """``{type: [engines]}`` over every engine (all loaded)."""
    out = {}
    for engine in ENGINES:
        for type_name in types(engine):
            out.setdefault(type_name, []).append(engine)
    return dict(sorted(out.items()))


def format_table():
    """The table as text: a row per type, a column per engine (``x`` where it runs)."""
    rows = table()
    engines = list(ENGINES)
    width = max(len(t) for t in rows) + 2
    head = " " * width + "  ".join(engines)
    lines = [head]
    for type_name, have in rows.items():
        cells = ["x".center(len(e)) if e in have else ".".center(len(e)) for e in engines]
        lines.append(type_name.ljust(width) + "  ".join(cells))
    counts = [str(len(types(e))).center(len(e)) for e in engines]
    lines.append("types".ljust(width) + "  ".join(counts))
    lines.append("")
    lines += [f"{e}: {ENGINES[e][0]}" for e in engines]
    return "\n".join(lines)
