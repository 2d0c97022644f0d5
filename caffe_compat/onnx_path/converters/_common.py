"""The converters' registry and the helpers they share (Caffe's parameter defaults, blob
checks, axis rules, the field declarations of :mod:`caffe_compat.rules.fields`)."""
from __future__ import annotations

import functools

import numpy as np

from ...rules import registry
from ...rules.fields import ENGINE_FIELD, declare  # noqa: F401 (the converters' declarations)
# Caffe type -> the module of this package that registers its converter, imported the first
# time a net asks for the type (written from the registrations by .index)
from ._modules import MODULES
from ..onnx_wire import DOUBLE, FLOAT, INT32, INT64  # noqa: F401 (ONNX's types, for Casts)
from ..unsupported import Unsupported  # noqa: F401 (the converters raise it)

F32 = np.float32

_CONVERTERS = registry.entries("lite")       # Caffe type -> function writing ONNX nodes
_HOST = registry.entries("lite-host")        # Caffe type -> a numpy step after the ONNX part



def register(type_name, host=False, lengths_free=None, rule=None):
    """Decorator: ``fn`` converts layers of ``type_name``; ``host=True``: ``fn(lp, bottoms,
    blobs)`` returns ``(top shapes, run)``, ``run(arrays) -> arrays`` in numpy.

    ``lengths_free(lp, bottom_shapes)``: ``(top shapes, fact)`` with the layer's rule applied
    (refusals raised), where ``fn`` writes the same nodes and values for every bottom shape
    of these ranks and channels with the same hashable ``fact`` (None: no length read), else
    None. A net whose layers all claim so runs a new input shape on an earlier plan
    (:meth:`caffe_compat.onnx_path.TorchFreeNet._plan`; checked on the grid by
    tests/caffe_compat/conformance/test_lengths_free.py). ``rule(lp, bottom_shapes)``: the
    rule module's record the claim reads, then passed to it as a third argument; its
    ``for_bottoms`` gives it again for later bottoms (:class:`KeptClaim`)."""
    def wrap(fn):
        if lengths_free is not None:
            fn.lengths_free = lengths_free
            if rule is not None:
                lengths_free.rule = rule
        (_HOST if host else _CONVERTERS)[type_name] = fn
        return fn
    return wrap


def elementwise(type_name, **kwargs):
    """Decorator: ``fn(g, lp, x, blobs)`` converts a one-bottom layer of ``type_name`` whose
    top has the bottom's shape, giving the top's node name (or the bottom ``x`` itself);
    ``kwargs`` go to :func:`register`."""
    def wrap(fn):
        @functools.wraps(fn)
        def convert(g, lp, bottoms, blobs):
            x, = bottoms
            y = fn(g, lp, x, blobs)
            return [y if isinstance(y, type(x)) else type(x)(y, x.shape)]
        return register(type_name, **kwargs)(convert)
    return wrap


def same_shapes(lp, shapes):
    """``lengths_free`` of a type whose tops have its bottom's shape and whose nodes read no
    length."""
    return [shapes[0]] * max(1, len(lp.top)), None


def lengths_free(lp):
    """The ``lengths_free`` claim of the converter of ``lp``'s type (:func:`register`), or
    None."""
    return getattr(converter(lp.type), "lengths_free", None)


class KeptClaim:
    """``lp``'s ``lengths_free`` claim (:func:`register`) for a caller applying it to many
    bottom shapes (:meth:`caffe_compat.onnx_path.TorchFreeNet._template_key`): the rule's record
    is made for the first bottoms and kept while its ``for_bottoms`` takes the next ones (a
    new shape costs the claim's arithmetic and that shape's refusals), made anew for bottoms
    it does not take. ``claim(bottom_shapes)`` answers as ``lengths_free(lp)(lp,
    bottom_shapes)``."""
    __slots__ = ("lp", "bottom", "top", "_claim", "_rule", "_record")

    def __init__(self, lp, claim):
        self.lp, self._claim, self._record = lp, claim, None
        self.bottom, self.top = tuple(lp.bottom), tuple(lp.top)
        self._rule = getattr(claim, "rule", None)

    def __call__(self, bottom_shapes):
        if self._rule is None:
            return self._claim(self.lp, bottom_shapes)
        record = self._record
        if record is not None:
            record = record.for_bottoms(bottom_shapes)
        if record is None:
            record = self._record = self._rule(self.lp, bottom_shapes)
        return self._claim(self.lp, bottom_shapes, record)


def kept_claim(lp):
    """``lp``'s ``lengths_free`` claim as a :class:`KeptClaim`, or None where its type's
    converter makes none."""
    claim = lengths_free(lp)
    return None if claim is None else KeptClaim(lp, claim)


def _load(type_name):
    module = MODULES.get(type_name)
    if module is not None and type_name not in _CONVERTERS and type_name not in _HOST:
        import importlib
        importlib.import_module(f"{__package__}.{module}")


def converter(type_name):
    _load(type_name)
    return _CONVERTERS.get(type_name)


def host_converter(type_name):
    _load(type_name)
    return _HOST.get(type_name)


def registered_types():
    return sorted(MODULES)


def load_all():
    """Import every converter module (the registry's table of all engines asks for it)."""
    for type_name in MODULES:
        _load(type_name)


def param_blob(lp, blobs, i, shape):
    """Blob ``i`` of the layer as a float32 array of ``shape``. A blob in Caffe's legacy 4-D
    form (num, channels, height, width) of the same values is reshaped, as Caffe's
    CopyTrainedLayersFrom accepts it; anything else is the torch path's to report."""
    if blobs is None or i >= len(blobs):
        raise Unsupported(f"layer '{lp.name}': blob {i} not in the caffemodel (the torch path "
                          "fills it by its filler)")
    a = blobs[i]
    shape = tuple(int(d) for d in shape)
    if tuple(a.shape) != shape:
        legacy = (1,) * (4 - len(shape)) + shape if len(shape) <= 4 else None
        if not (a.ndim == 4 and legacy is not None and tuple(a.shape) == legacy):
            raise Unsupported(f"layer '{lp.name}': blob {i} has shape {tuple(a.shape)}, "
                              f"{shape} expected")
        a = a.reshape(shape)
    return np.ascontiguousarray(a, dtype=F32)


def blob_count(lp, blobs, n):
    """The caffemodel holds exactly ``n`` blobs for the layer (Caffe refuses another count)."""
    have = 0 if blobs is None else len(blobs)
    if have != n:
        raise Unsupported(f"layer '{lp.name}': {have} blob(s) in the caffemodel, {n} expected")


def train_phase(lp):
    """Whether the layer runs in Caffe's TRAIN phase: its ``phase``, which a built net sets
    from its own where the layer gives none (Net::Init; an export's layers); a deploy file's
    layer without one is TEST's."""
    return lp.HasField("phase") and lp.phase == 0      # caffe.proto's Phase TRAIN


def fail(message):
    """Raise :class:`Unsupported` with ``message`` (the rules' refusal callback)."""
    raise Unsupported(message)


def export_only(g, lp):
    """Refuse ``lp`` outside an export's graph (``batch_free``)."""
    if not g.batch_free:
        raise Unsupported(f"layer '{lp.name}': {lp.type} is written for an export only")


def four_d(lp, value):
    if len(value.shape) != 4:
        raise Unsupported(f"layer '{lp.name}': a {len(value.shape)}-D input; the converter "
                          "writes 2-D spatial layers (N x C x H x W)")
    return value.shape


def aligned(g, operand, view):
    """``operand`` (a bottom's Value) shaped to broadcast as ``view`` (Caffe's operand view:
    ones, its shape, ones): its own lengths copied (Reshape's 0) and the trailing ones added,
    the leading ones left to broadcasting, so that no length is written (a batch-sized operand
    gives the same node for every batch size)."""
    shape, view = tuple(operand.shape), tuple(view)
    if shape == view:
        return operand
    for trailing in range(len(view) - len(shape), -1, -1):
        lead = len(view) - len(shape) - trailing
        if view[lead:lead + len(shape)] == shape:
            break
    target = np.array([0] * len(shape) + [1] * trailing, np.int64)
    return g.op("Reshape", [operand, g.const(target)])
