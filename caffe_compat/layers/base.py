"""The base class of every layer module.

A Caffe layer's ``LayerSetUp`` + ``Reshape`` become ``__init__`` (which receives the bottom
shapes, as Caffe's SetUp does) and ``Forward_cpu`` becomes ``forward``. Backward is left to
autograd; a layer whose Caffe backward differs from the true gradient of its forward (or that
refuses to propagate to some input) says so by detaching that input.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..data.filler_rules import as_fillers
from ..errors import NetError

# Caffe's Blob::Reshape refuses blobs of more than INT_MAX elements; checked before allocating.
MAX_BLOB_COUNT = 2**31 - 1


def weights_key(t):
    """What changes whenever parameter ``t`` may have changed: its storage, torch's version
    counter (in-place torch writes) and the count of numpy views handed out of it (pycaffe's
    ``params[...][i].data``: writes through numpy do not move torch's counter). Caches of
    weights derived for inference (reordered, folded) compare it before use."""
    return (t.data_ptr(), t._version, getattr(t, "_numpy_views", 0))


def mark_numpy_view(t):
    """Count a numpy view of parameter ``t`` handed out (see :func:`weights_key`)."""
    t._numpy_views = getattr(t, "_numpy_views", 0) + 1


def canonical_axis(axis, num_axes, layer="", what="axis"):
    """Caffe's Blob::CanonicalAxisIndex: negative axes count from the end; range checked."""
    if not -num_axes <= axis < max(num_axes, 1):
        raise NetError(f"layer '{layer}': {what} {axis} out of range for a {num_axes}-axis blob")
    return axis + num_axes if axis < 0 else axis


def count(shape, start=0, end=None):
    """Product of ``shape[start:end]`` (Caffe's Blob::count(start, end)); 1 for an empty range."""
    return math.prod(shape[start:end])


class Layer(nn.Module):
    """One Caffe layer as a torch module.

    Subclasses set ``type_name`` (through :func:`register_layer`), ``blob_names`` (the names under
    which the layer's parameter blobs appear in a state_dict, in Caffe's blob order) and the blob
    count limits that Caffe's ``CheckBlobCounts`` enforces. ``forward(*bottoms)`` returns a tuple
    of tops (or one tensor for a single top).
    """

    type_name = "?"
    blob_names: tuple = ()
    # Caffe's ExactNumBottomBlobs / MinBottomBlobs / MaxBottomBlobs (None: no limit).
    exact_bottoms = None
    min_bottoms = None
    max_bottoms = None
    exact_tops = None
    min_tops = None
    max_tops = None
    # Loss layers get a default loss_weight of 1 on their first top (Caffe's LossLayer).
    is_loss = False
    # A data layer produces tops from files; the net calls it without bottoms.
    is_data = False
    # Whether forward writes the layer's own blobs (BatchNorm's statistics in TRAIN): a net on
    # a device then takes those blobs as changed on the device (caffe_compat.net.synced_memory).
    forward_writes_blobs = False
    # The type's rule (``caffe_compat.rules.<type>``): ``rule_of(param, bottom_shapes)`` is kept
    # as ``self.rule``, and its ``top_shape(bottom_shape)`` gives the one top's shape (its
    # ``top_shape(bottom_shapes)`` of every bottom where ``rule_reads_bottoms``).
    rule_of = None
    rule_reads_bottoms = False

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__()
        self.param = param
        self.name = param.name
        self.phase = phase
        self.bottom_shapes = [tuple(s) for s in bottom_shapes]
        self._blob_order = []
        if self.rule_of is not None:
            self.rule = self.rule_of(param, self.bottom_shapes)
        if self.shapes_at_setup:         # top_shapes' refusals at set-up, as Caffe's Reshape
            self.top_shapes(self.bottom_shapes)

    # ----------------------------------------------------------------- parameters
    def add_blob(self, name, shape, dtype=torch.float32):
        """Create parameter blob ``name`` (zeros; fillers run later) in Caffe's blob order."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape) or math.prod(shape) > MAX_BLOB_COUNT:
            self.fail(f"parameter blob '{name}' of shape {shape} has {math.prod(shape)} "
                      f"elements; Caffe allows at most {MAX_BLOB_COUNT} per blob")
        p = nn.Parameter(torch.zeros(shape, dtype=dtype))
        self.register_parameter(name, p)
        self._blob_order.append(name)
        return p

    @classmethod
    def names_of_blobs(cls, n):
        """The names of the ``n`` blobs a caffemodel stores for a layer of this type, in Caffe's
        order (``blob_names``, then ``blob<i>``); types whose layout depends on the
        parameters (LSTM, RNN with a static input) override it."""
        names = cls.blob_names
        return [names[i] if i < len(names) else f"blob{i}" for i in range(n)]

    @property
    def blobs(self):
        """The parameter blobs, in the order Caffe stores them in a caffemodel."""
        return [getattr(self, n) for n in self._blob_order]

    def set_blob(self, index, param):
        """Replace blob ``index`` by ``param`` (shared parameters, Caffe's ShareWeights)."""
        setattr(self, self._blob_order[index], param)

    def export_param(self, layer_param):
        """Adjust the LayerParameter written to a caffemodel as Caffe's SetUp leaves it (e.g.
        BatchNorm adds lr_mult 0 param specs); the default leaves it unchanged."""

    def filler_params(self):
        """The FillerParameter of each blob, in blob order: the rule's ``fillers()`` where the
        type's rule gives them (a number as Caffe's constant filler), else None (leave zeros)."""
        fillers = getattr(getattr(self, "rule", None), "fillers", None)
        return [None] * len(self._blob_order) if fillers is None else as_fillers(fillers())

    # ----------------------------------------------------------------- behaviour
    # True for layers that compute each item (index of axis 0) from that item alone, so that an
    # inference batch can be run in chunks (a property where the layer's parameters decide).
    item_wise = False
    shapes_at_setup = False
    # An in-place variant ``forward_inplace(x)`` the net may call without autograd when the
    # layer is in place in Caffe and its bottom is a fresh tensor that nothing else holds.
    forward_inplace = None
    # ``in_place_backward(x, data, dy)``: the bottom diff Caffe's Backward_cpu gives when the
    # layer runs in place, reading its bottom and top data from the blob as the forward left it
    # (``data``; ``x`` the input); None where that is the gradient autograd takes. ``reads_signs``:
    # it reads only the data's signs (ReLU), which a ``keeps_signs`` layer in place after it
    # leaves as they were where a diff passes (Dropout).
    in_place_backward = None
    reads_signs = keeps_signs = False

    # Caffe's Forward_cpu / Backward_cpu as two explicit calls, for the training passes that
    # run layer by layer without autograd (:mod:`caffe_compat.net.train_plan`, pycaffe's
    # stepwise passes). A layer offering them defines
    # ``explicit_forward(*bottoms) -> (tops, saved)`` (tops as a tuple, with the same float32
    # operations as ``forward`` while training) and
    # ``explicit_backward(saved, top_diffs, bottom_need, param_need) -> (bottom diffs, param
    # diffs)`` (the arithmetic of the backward that autograd runs for ``forward``, so that the
    # two give the same bits; None where no diff is computed), and ``explicit_ready()`` saying
    # whether they apply now (the same kernels as autograd's forward would use; it may depend
    # on the parameters' device and dtype and on caffe_compat.net.train_plan.kernel_state() only:
    # the training plan asks again only when those change).
    explicit_forward = None
    explicit_backward = None
    # indices of the tops that take no diff (autograd's non-differentiable outputs)
    nondifferentiable_tops = ()

    def explicit_ready(self):
        """Whether :attr:`explicit_forward` / :attr:`explicit_backward` apply now."""
        return self.explicit_forward is not None

    def allow_force_backward(self, bottom_index):
        """Caffe's AllowForceBackward: loss layers refuse it on their label input."""
        return not (self.is_loss and bottom_index == 1)

    def top_shapes(self, bottom_shapes):
        """Shapes of the tops for these bottom shapes: the rule's (:attr:`rule_of`) where the
        type has one, else those of a forward on meta tensors."""
        if self.rule_of is not None:
            shapes = [tuple(s) for s in bottom_shapes]
            return [self.rule.top_shape(shapes if self.rule_reads_bottoms else shapes[0])]
        dtype = self.blobs[0].dtype if self.blobs else torch.float32
        metas = [torch.empty(s, dtype=dtype, device="meta") for s in bottom_shapes]
        params = {n: torch.empty_like(getattr(self, n), device="meta") for n in self._blob_order}
        with torch.no_grad():
            tops = torch.func.functional_call(self, params, tuple(metas))
        if isinstance(tops, torch.Tensor):
            tops = (tops,)
        return [tuple(t.shape) for t in tops]

    def extra_repr(self):
        return f"name={self.name!r}"

    def fail(self, message, field=None):
        """Raise the layer's NetError. ``field`` (a dotted path such as
        ``"convolution_param.kernel_size"``) names the parameter at fault, so that the error
        points at its line; without it the line is that of the parameter the message names,
        else of the layer."""
        err = NetError(f"layer '{self.name}' (type {self.type_name}): {message}")
        err.field = field
        raise err
