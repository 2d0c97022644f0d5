"""The table of which module of this package registers each layer type's converter
(``_modules.py``), written from the registrations themselves:

    python -m caffe_compat.onnx_path.converters.index

imports every converter module, reads from the one registry which module registered each type
(``lite`` and ``lite-host`` entries), and writes the table that lets a net import only the
modules of its own types (a one-shot program imports the few it uses, not all of them).
tests/caffe_compat/onnx_path/test_converters.py fails when the written table is not :func:`scan`'s.
"""
from __future__ import annotations

import importlib
import os
import pkgutil

from ...io.atomic import write_text_atomic

HEADER = '''"""Which module of this package registers each layer type's converter. Written by
``python -m caffe_compat.onnx_path.converters.index`` from the registrations: do not edit."""

MODULES = {
'''


def scan():
    """``{layer type: module name}`` of every converter module's registrations."""
    from . import _common
    found = {}
    for info in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        if info.name.startswith("_") or info.name == "index":
            continue
        module = importlib.reload(importlib.import_module(f"{__package__}.{info.name}"))
        for table in (_common._CONVERTERS, _common._HOST):
            found.update((t, info.name) for t, fn in table.items()
                         if fn.__module__ == module.__name__)
    return dict(sorted(found.items()))


def text(table):
    """The source of ``_modules.py`` holding ``table``."""
    rows = "".join(f'    "{t}": "{m}",\n' for t, m in table.items())
    return HEADER + rows + "}\n"


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_modules.py")
    write_text_atomic(path, text(scan()))
    print(path)


if __name__ == "__main__":
    main()
