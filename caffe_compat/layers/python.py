"""Python: a layer written in Python (Caffe's PythonLayer, ``type: "Python"``).

``python_param { module: "m" layer: "C" param_str: "..." }`` imports module ``m`` (from
``sys.path``, as Caffe does from PYTHONPATH) and instantiates class ``C``, a subclass of
:class:`PythonLayer` (pycaffe's ``caffe.Layer``), with the LayerParameter. As in Caffe:

- ``setup(bottom, top)`` runs once when the net is built, then ``reshape(bottom, top)``, which
  runs again before every ``forward(bottom, top)``; ``backward(top, propagate_down, bottom)``
  writes the bottom diffs (of the bottoms with ``propagate_down[i]``);
- ``bottom`` and ``top`` are lists of blobs whose ``data`` and ``diff`` are numpy arrays
  (``reshape(*shape)``, ``shape``, ``count``, ``num``/``channels``/``height``/``width``);
- ``self.param_str`` is ``python_param.param_str``, ``self.phase`` the net's phase
  (0 TRAIN, 1 TEST), ``self.blobs`` the layer's own parameters (``self.blobs.add_blob(*shape)``
  in ``setup``): learnable, saved to and copied from caffemodels, shared by ParamSpec name;
  their ``diff`` is the parameter's gradient, accumulated as Caffe accumulates it (the solver
  clears it before each iteration), so ``backward`` writes (or adds to) ``self.blobs[i].diff``.

A Python layer is not a loss layer unless its ``loss_weight`` says so. An exception raised by
the Python code propagates with its own type (also a NetError naming the layer).
"""
from __future__ import annotations

import importlib

import numpy as np
import torch

from ..errors import CaffeCompatError, NetError
from ..net.blob_view import BlobDims, BlobVec
from .base import Layer, mark_numpy_view
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "Python", "PythonParameter", {"module", "layer", "param_str"},
        no_effect={"share_in_parallel": "Caffe 1.0 does not read it (each solver of its "
                                        "multi-GPU training has its own net)"})


class PythonBlob(BlobDims):
    """A blob as a Python layer sees it: numpy ``data`` and ``diff`` of one shape."""

    __slots__ = ("_data", "_diff")

    def __init__(self, data=None, diff=None, shape=()):
        self._data = data if data is not None else np.zeros(shape, dtype=np.float32)
        self._diff = diff

    @property
    def data(self):
        return self._data

    @property
    def diff(self):
        if self._diff is None:
            self._diff = np.zeros_like(self._data)
        return self._diff

    @property
    def shape(self):
        return tuple(self._data.shape)

    def reshape(self, *shape):
        """Give the blob ``shape`` (new zeroed storage when the shape changes)."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise NetError(f"blob reshape to {shape}: negative dimension")
        if shape != self.shape:
            self._data = np.zeros(shape, dtype=self._data.dtype)
            self._diff = None

    def __repr__(self):
        return f"PythonBlob(shape={self.shape})"


class ParamBlob(PythonBlob):
    """Parameter ``index`` of a layer module: ``data`` aliases the parameter, ``diff`` its
    gradient (created as zeros when absent). Resolved at each access, so a blob shared later
    (Caffe's ShareWeights, ``share_with``) is seen. ``reshape`` is Caffe's Blob::Reshape (see
    there): Python sees the parameter's elements under the shape it gave."""

    __slots__ = ("_module", "_index")

    def __init__(self, module, index):  # noqa: D107 - no storage of its own
        self._module = module
        self._index = index

    @property
    def _param(self):
        return self._module.blobs[self._index]

    def _view_shape(self):
        """The shape Python gave the blob with a same-count ``reshape``, or None."""
        return self._module.__dict__.get("_param_views", {}).get(self._index)

    def _viewed(self, array):
        """``array`` (the parameter's data or diff) under the shape Python gave the blob."""
        shape = self._view_shape()
        return array if shape is None else array.reshape(shape)

    @property
    def data(self):
        p = self._param
        mark_numpy_view(p)      # the caches of derived weights see a write through it
        if getattr(p, "synced_memory", None) is not None:      # a net on a device
            from ..net.param_memory import param_host_data
            return self._viewed(param_host_data(p))
        return self._viewed(p.detach().numpy())

    @property
    def diff(self):
        p = self._param
        if getattr(p, "synced_memory", None) is not None:
            from ..net.param_memory import param_host_diff
            return self._viewed(param_host_diff(p))
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        return self._viewed(p.grad.numpy())

    @property
    def shape(self):
        shape = self._view_shape()
        return tuple(self._param.shape) if shape is None else shape

    def reshape(self, *shape):
        """Caffe's Blob::Reshape of a parameter blob. The same element count: the data and
        diff keep their values, seen under ``shape`` (the engine keeps the layer's own shape;
        a public bilinear layer flattens its weights this way in forward and backward). Another
        count, in a Python layer's ``setup`` (``self.blobs.add_blob(1)`` then
        ``self.blobs[0].reshape(n)``): the first values are kept up to the new count, the
        others are zeros, as Caffe's memory is kept when the blob shrinks and made anew (zeros)
        when it grows. Another count once the net is built is refused: the solver's history
        and the caffemodel's blobs have the parameter's count."""
        shape = tuple(int(d) for d in shape)
        p = self._param
        views = self._module.__dict__.setdefault("_param_views", {})
        count = int(np.prod(shape, dtype=np.int64))
        if count == p.numel():
            views[self._index] = shape
            return
        if not getattr(self._module, "_in_setup", False):
            raise NetError(f"layer '{self._module.name}': parameter blob {self._index} of shape "
                           f"{tuple(p.shape)} cannot take shape {shape} ({count} elements, "
                           f"not {p.numel()}) once the net is built; a Python layer sizes its "
                           "blobs in setup()")
        new = torch.zeros(shape, dtype=p.dtype)
        if count < p.numel():
            new.view(-1).copy_(p.detach().reshape(-1)[:count])
        self._module.set_blob(self._index, torch.nn.Parameter(new))
        views.pop(self._index, None)

    def __repr__(self):
        return f"ParamBlob({self._module.name!r}, {self._index}, shape={self.shape})"


class PythonLayer:
    """Base class of Python layers (pycaffe's ``caffe.Layer``): override ``setup``,
    ``reshape``, ``forward`` and ``backward`` (see the module doc)."""

    def __init__(self, layer_param=None):
        self.layer_param = layer_param
        self.param_str = layer_param.python_param.param_str if layer_param is not None else ""
        self.phase = 0
        self.type = "Python"

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        pass

    def forward(self, bottom, top):
        pass

    def backward(self, top, propagate_down, bottom):
        pass


def _raise_from_python(exc, layer_name, what):
    """Re-raise ``exc``, the Python layer's own exception, as it is: pycaffe lets it through
    unchanged (the program's ``except`` sees its type, arguments and attributes), here with a
    note naming the layer (shown with its traceback) and ``python_layer`` set to the layer's
    name, so that the net's set-up passes it on unwrapped."""
    if isinstance(exc, CaffeCompatError):
        raise exc
    if hasattr(exc, "add_note"):                # Python 3.11+
        exc.add_note(f"in layer '{layer_name}' (type Python): {what}")
    try:
        exc.python_layer = layer_name
    except AttributeError:                      # an exception class with __slots__
        pass
    raise exc


def _numpy(t):
    return t.detach().to("cpu").contiguous().numpy()


class _PythonFunction(torch.autograd.Function):
    """Forward and backward through the Python layer's own methods (Caffe's semantics)."""

    @staticmethod
    def forward(ctx, module, n_bottoms, *tensors):
        bottoms = tensors[:n_bottoms]
        ref = bottoms[0] if bottoms else (tensors[n_bottoms] if len(tensors) > n_bottoms
                                          else None)
        bottom = [PythonBlob(_numpy(b)) for b in bottoms]
        top = module.run_forward(bottom)
        copies = [np.array(t.data, copy=True) for t in top]
        outs = tuple(torch.from_numpy(c) for c in copies)
        if ref is not None:
            outs = tuple(o.to(device=ref.device, dtype=ref.dtype) for o in outs)
        ctx.module = module
        ctx.n_bottoms = n_bottoms
        ctx.bottom_data = [b.data for b in bottom]
        ctx.top_data = copies
        ctx.devices = [(b.device, b.dtype) for b in bottoms]
        return outs if len(outs) != 1 else outs[0]

    @staticmethod
    def backward(ctx, *grads):
        module, n = ctx.module, ctx.n_bottoms
        propagate = [bool(ctx.needs_input_grad[2 + i]) for i in range(n)]
        top = [PythonBlob(d, np.zeros_like(d) if g is None else _numpy(g).astype(d.dtype))
               for d, g in zip(ctx.top_data, grads)]
        bottom = [PythonBlob(d, np.zeros_like(d)) for d in ctx.bottom_data]
        module.backward_blobs(top, propagate, bottom)
        out = tuple(torch.from_numpy(np.array(b.diff, copy=True)).to(device=device, dtype=dtype)
                    if p else None for b, (device, dtype), p in zip(bottom, ctx.devices, propagate))
        return (None, None) + out + (None,) * (len(ctx.needs_input_grad) - 2 - n)


@register_layer("Python")
class Python(Layer):
    """The engine side of a Python layer: builds the user's object and runs it."""

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        pp = param.python_param
        if not pp.module or not pp.layer:
            self.fail("python_param needs both 'module' and 'layer'")
        try:
            module = importlib.import_module(pp.module)
        except ImportError as e:
            raise NetError(f"layer '{self.name}' (type Python): cannot import module "
                           f"'{pp.module}' ({e}); the module must be importable (on sys.path "
                           "or PYTHONPATH, as for Caffe)") from e
        cls = getattr(module, pp.layer, None)
        if cls is None:
            self.fail(f"module '{pp.module}' has no class '{pp.layer}'")
        try:
            impl = cls(param)
        except TypeError:
            impl = cls()
        impl.layer_param = param
        impl.param_str = pp.param_str
        impl.phase = 0 if str(phase).upper() == "TRAIN" else 1
        impl.blobs = BlobVec(self, blob=ParamBlob)
        object.__setattr__(self, "impl", impl)   # a plain attribute, not a submodule
        self._tops = None
        bottom = [PythonBlob(shape=tuple(s)) for s in bottom_shapes]
        top = [PythonBlob() for _ in param.top]
        self._in_setup = True         # its blobs may still change their element count
        try:
            self._call("setup", bottom, top)
        finally:
            self._in_setup = False
        self._call("reshape", bottom, top)
        self._top_shapes = [t.shape for t in top]
        self._tops = top

    def _call(self, method, *args):
        try:
            return getattr(self.impl, method)(*args)
        except Exception as e:  # noqa: BLE001 - re-raised with the layer named
            _raise_from_python(e, self.name, f"{type(self.impl).__name__}.{method}")

    def filler_params(self):
        return [None] * len(self._blob_order)    # the Python code initialises its blobs

    def top_shapes(self, bottom_shapes):
        if [tuple(s) for s in bottom_shapes] != self.bottom_shapes:
            bottom = [PythonBlob(shape=tuple(s)) for s in bottom_shapes]
            top = [PythonBlob(shape=s) for s in self._top_shapes]
            self._call("reshape", bottom, top)
            return [t.shape for t in top]
        return list(self._top_shapes)

    def run_forward(self, bottom):
        """Reshape then forward on numpy blobs; returns the top blobs."""
        self.forward_blobs(bottom, self._tops)
        return self._tops

    # Caffe's own way, used by caffe_compat.net.stepwise: the tops are the net's blobs
    runs_on_blobs = True

    def forward_blobs(self, bottom, top):
        self._call("reshape", bottom, top)
        self._call("forward", bottom, top)

    def backward_blobs(self, top, propagate_down, bottom):
        self._call("backward", top, propagate_down, bottom)

    def forward(self, *bottoms):
        if not len(self.param.top):      # nothing flows on: no autograd node needed
            self.run_forward([PythonBlob(_numpy(b)) for b in bottoms])
            return ()
        params = [p for p in self.blobs if p.requires_grad]
        return _PythonFunction.apply(self, len(bottoms), *bottoms, *params)
