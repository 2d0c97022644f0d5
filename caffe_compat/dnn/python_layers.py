"""OpenCV's Python layers: ``cv2.dnn_registerLayer(type, cls)`` makes every net read afterwards
run layers of that type with ``cls`` (OpenCV 4's rule, checked against 4.14).
:func:`registerLayer` / :func:`unregisterLayer` are that registry;
:func:`caffe_compat.dnn.install` routes ``cv2.dnn_registerLayer`` and
``cv2.dnn_unregisterLayer`` to them as well as to OpenCV's own. The class is OpenCV's protocol:

* ``cls(params, blobs)``, once per layer: ``params`` a dict of the ``*_param`` fields the
  definition sets, flattened as OpenCV's Caffe importer does (nested messages merged, the
  first of a repeated message, an enum as its value's name, a bool as 0 / 1, a repeated field
  of several values as a tuple), keys sorted; ``blobs`` the caffemodel's float32 arrays;
* ``getMemoryShapes(inputs)``: the input shapes (tuples) in, the output shapes out;
* ``forward(inputs)``: float32 arrays in, the outputs (arrays) out.

Such a layer runs in the torch forward (no engine exports Python code)."""
from __future__ import annotations

import contextlib
import functools

import numpy as np

ENGINE_TYPE = "cv2.dnn.PythonLayer"   # the engine's type for a layer run by a registered class

_REGISTERED = {}                       # layer type -> class


@functools.lru_cache(maxsize=None)
def _building():
    """The thread-local holding the instances of the net being built, by layer name; made
    when a net with Python layers is first built (a program without them never imports
    threading for it)."""
    import threading
    return threading.local()


def registerLayer(type, cls):          # noqa: A002 - OpenCV's argument names
    """Run layers of ``type`` with ``cls`` in nets read from now on (cv2.dnn_registerLayer)."""
    _REGISTERED[str(type)] = cls


def unregisterLayer(type):             # noqa: A002
    """Forget the class of ``type`` (nothing happens for a type not registered, as OpenCV)."""
    _REGISTERED.pop(str(type), None)


def any_registered(engine_param):
    """Whether a layer of ``engine_param`` has a registered class."""
    return any(lp.type in _REGISTERED for lp in engine_param.layer)


def _field_value(message, field):
    values = getattr(message, field.name)
    values = list(values) if field.is_repeated else [values]
    if field.type == field.TYPE_ENUM:
        values = [field.enum_type.values_by_number[v].name for v in values]
    values = [int(v) if isinstance(v, bool) else v for v in values]
    return values[0] if len(values) == 1 else tuple(values)   # as OpenCV's DictValue


def _flatten(message, out, top_level):
    for field, value in message.ListFields():
        if top_level and not field.name.endswith("_param"):
            continue
        if field.type == field.TYPE_MESSAGE:
            if not field.is_repeated:
                _flatten(value, out, False)
            elif len(value):                    # a repeated message: its first
                _flatten(value[0], out, False)
        else:
            out[field.name] = _field_value(message, field)


def opencv_layer_params(layer_param):
    """The ``params`` dict OpenCV gives a Python layer for this LayerParameter."""
    out = {}
    _flatten(layer_param, out, True)
    return dict(sorted(out.items()))


@functools.lru_cache(maxsize=None)
def _layer_class():
    """The engine layer running a registered class (made on first use: it is a torch layer,
    and reading a net does not import torch)."""
    import torch

    from ..layers.base import Layer

    class OpenCVPythonLayer(Layer):
        """A layer computed by an instance of a class registered with :func:`registerLayer`."""

        def __init__(self, param, bottom_shapes, phase="TEST"):
            super().__init__(param, bottom_shapes, phase)
            table = getattr(_building(), "instances", None) or {}
            if param.name not in table:
                self.fail(f"type {ENGINE_TYPE} is the engine's stand-in for a class registered "
                          "with cv2.dnn_registerLayer; it is not a type of a definition")
            self.impl = table[param.name]

        def top_shapes(self, bottom_shapes):
            shapes = self.impl.getMemoryShapes([tuple(int(d) for d in s) for s in bottom_shapes])
            return [tuple(int(d) for d in s) for s in shapes]

        def forward(self, *bottoms):
            arrays = [np.ascontiguousarray(b.detach().to("cpu", torch.float32).numpy())
                      for b in bottoms]
            outs = self.impl.forward(arrays)
            if isinstance(outs, np.ndarray):
                outs = [outs]
            device = bottoms[0].device if bottoms else torch.device("cpu")
            tops = tuple(torch.from_numpy(np.ascontiguousarray(o, dtype=np.float32)).to(device)
                         for o in outs)
            return tops if len(tops) != 1 else tops[0]

    return OpenCVPythonLayer


def make_instances(engine_param, weights):
    """An instance of the registered class of each layer of ``engine_param`` whose type has
    one, made as OpenCV makes it (``cls(params, blobs)``, blobs from ``weights``); those layers
    get the engine type that runs them. Returns {layer name: instance}."""
    from ..io.caffemodel import blob_to_array
    from .layer import opencv_blob_shape
    out = {}
    for lp in engine_param.layer:
        cls = _REGISTERED.get(lp.type)
        if cls is None:
            continue
        stored = [w for w in (weights.layer if weights is not None else ()) if w.name == lp.name]
        blobs = [blob_to_array(b).astype(np.float32) for b in (stored[0].blobs if stored else ())]
        blobs = [b.reshape(opencv_blob_shape(lp.type, i, b.shape)) for i, b in enumerate(blobs)]
        out[lp.name] = cls(opencv_layer_params(lp), blobs)
        lp.type = ENGINE_TYPE
    return out


@contextlib.contextmanager
def instances(by_layer_name):
    """While building an engine net: the Python layer instance of each layer name, and the
    engine type that runs them (registered for the build only)."""
    if not by_layer_name:
        yield
        return
    _building().instances = by_layer_name
    try:
        from ..layers.registry import registered_while
        with registered_while(ENGINE_TYPE, _layer_class()):
            yield
    finally:
        _building().instances = None
