"""The one registry of Caffe layer types and the engines that implement them.

Every engine registers its implementation of a type here through its own decorator (the torch
layers' ``register_layer``, the array engine's ``register``, the ONNX export's
``register_converter``, ``register_emitter`` of the PyTorch source, the torch-free converters'
``register``, the compiled loops' ``emitter``); each engine's list of types is read from here;
``caffe-compat layers`` prints the table (type x engine). The per-type cost tables register
the same way but compute no layer: :data:`COSTS` (``opencv-flops``, OpenCV 4's
``Net.getFLOPS``: :mod:`caffe_compat.dnn.flops`; ``summary-flops``:
:mod:`caffe_compat.net.summary`); every function takes either kind; :data:`ENGINES`, :func:`table` and the conformance grid know
only engines, the printed table puts the cost columns after them. An engine's modules are
imported on the first question about it; the rules they read are in :mod:`caffe_compat.rules`.
"""
from __future__ import annotations

import importlib

# engine -> (what it is, the modules that register its implementations), in the table's order
ENGINES = {
    "torch": ("the reference layers (torch modules, Caffe's forward and backward)",
              ("caffe_compat.layers",)),
    "array": ("pycaffe's numpy engine (forward, backward, CPU solvers)",
              ("caffe_compat.array_net.layers",)),
    "array-loop": ("the array engine's compiled training step",
                   ("caffe_compat.array_solver.loop",)),
    "fast": ("the fused inference replacements of the torch engine",
             ("caffe_compat.inference.fast_layers",)),
    "lite": ("the torch-free ONNX path of cv2.dnn (ONNX nodes)", ("caffe_compat.onnx_path.converters",)),
    "lite-host": ("the torch-free path's numpy steps", ("caffe_compat.onnx_path.converters",)),
    "onnx": ("the ONNX export (the torch-free converters, batch axis free)",
             ("caffe_compat.export.registry",)),
    "pytorch-source": ("the plain PyTorch source export",
                       ("caffe_compat.export.pytorch.emitters",)),
}

# cost table -> (what it counts, the modules that register its functions): what a layer of a
# type costs, not an engine that computes it
COSTS = {
    "opencv-flops": ("OpenCV 4's Net.getFLOPS count of a layer (cv2.dnn; 0 for a type without "
                     "one)", ("caffe_compat.dnn.flops",)),
    "summary-flops": ("the FLOPs of a layer's forward in caffe-compat inspect's net summary (0 "
                      "for a type without one)", ("caffe_compat.net.summary",)),
}

_TABLE = {name: {} for name in (*ENGINES, *COSTS)}
_LOADED = set()


def add(engine, type_name, implementation, replace=False, kind="implementation"):
    """Register ``implementation`` of ``type_name`` for ``engine`` (an engine or a cost table);
    a second, different one is a ValueError unless ``replace``."""
    table = _TABLE[engine]
    old = table.get(type_name)
    if old is not None and not replace and old is not implementation:
        raise ValueError(f"{kind} for layer type '{type_name}' is already registered "
                         f"({getattr(old, '__module__', type(old).__module__)}); pass "
                         "replace=True")
    table[type_name] = implementation
    return implementation


def registrar(engine, kind):
    """A decorator factory for ``engine``'s table: ``@registers(*type_names)`` adds the
    function for each of ``type_names`` (:func:`add`, ``kind`` naming it in errors)."""
    def registers(*type_names):
        def wrap(fn):
            for type_name in type_names:
                add(engine, type_name, fn, kind=kind)
            return fn
        return wrap
    return registers


def entries(engine):
    """``engine``'s live ``{type: implementation}`` table (its own registry module reads and
    writes it)."""
    return _TABLE[engine]


def load(engine):
    """Import the modules that register ``engine``'s implementations (once)."""
    if engine not in _LOADED:
        _LOADED.add(engine)
        for module in (ENGINES.get(engine) or COSTS[engine])[1]:
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


def types(engine):
    """Sorted type names ``engine`` claims (its modules imported first)."""
    load(engine)
    return sorted(_TABLE[engine])


def table(names=ENGINES):
    """``{type: [engines]}`` over every engine (all loaded); ``names=COSTS``: over the cost
    tables."""
    out = {}
    for engine in names:
        for type_name in types(engine):
            out.setdefault(type_name, []).append(engine)
    return dict(sorted(out.items()))


def format_table():
    """The table as text: a row per type, a column per engine (``x`` where it runs), then,
    after ``|``, a column per cost table (``x`` where it counts the type)."""
    engines, costs = table(), table(COSTS)
    columns = [*ENGINES, "|", *COSTS]
    rows = sorted(set(engines) | set(costs))
    width = max(len(t) for t in rows) + 2

    def line(label, cell):
        return (label.ljust(width) + "  ".join(
            c if c == "|" else cell(c).center(len(c)) for c in columns)).rstrip()

    lines = [" " * width + "  ".join(columns)]
    for type_name in rows:
        have = engines.get(type_name, []) + costs.get(type_name, [])
        lines.append(line(type_name, lambda c: "x" if c in have else "."))
    lines.append(line("types", lambda c: str(len(types(c)))))
    lines.append("")
    lines += [f"{e}: {ENGINES[e][0]}" for e in ENGINES]
    lines += [f"{c} (a cost table, not an engine): {COSTS[c][0]}" for c in COSTS]
    return "\n".join(lines)
