"""Engine registry: name -> the class that runs an exported net (as layers and converters
register by type name).

An engine class has a ``name``, ``installed()`` (its library imports), ``version()`` (part of
the cache key: a new engine version re-checks the export), ``needs_export`` (False only for the
torch reference, which runs our own :class:`~caffe_compat.Net`) and ``session(...)``, which
returns a callable ``{input name: float32 array} -> [output arrays in the order asked for]``.
Register new engines with :func:`register_engine`; engines whose library is not installed
are simply not candidates.
"""
from __future__ import annotations

import importlib

from ...errors import NetError
from ...diagnostics.suggest import did_you_mean

_ENGINES = {}
# what `caffe-compat inspect --engines` suggests for an engine that is not installed
PIP = {"onnxruntime": 'pip install "onnxruntime>=1.17"',
       "openvino": 'pip install "openvino>=2024.0"  (or pip install -e ".[openvino]")'}


def register_engine(name, *, replace=False):
    """Class decorator registering an inference engine under ``name``."""

    def wrap(cls):
        if name in _ENGINES and not replace and _ENGINES[name] is not cls:
            raise ValueError(f"an engine named '{name}' is already registered "
                             f"({_ENGINES[name].__module__}); pass replace=True")
        cls.name = name
        _ENGINES[name] = cls
        return cls

    return wrap


class LibraryEngine:
    """An engine backed by the Python library ``library``: installed where it imports, its
    version the library's ``__version__``."""
    needs_export = True
    library = None

    @classmethod
    def installed(cls):
        try:
            importlib.import_module(cls.library)
        except ImportError:
            return False
        return True

    @classmethod
    def version(cls):
        return importlib.import_module(cls.library).__version__


def engine_class(name):
    """The engine class registered as ``name``; a NetError with the known names otherwise."""
    try:
        return _ENGINES[name]
    except KeyError:
        hint = did_you_mean(str(name), _ENGINES)
        raise NetError(f"unknown inference engine '{name}'" + (f"; {hint}" if hint else "")
                       + f" (engines: {', '.join(engine_names())}, or 'auto')") from None


def engine_names():
    """Registered engine names, the torch reference first."""
    return sorted(_ENGINES, key=lambda n: (n != "torch", n))


def installed_engines():
    """Names of the registered engines whose library imports here."""
    return [n for n in engine_names() if _ENGINES[n].installed()]
