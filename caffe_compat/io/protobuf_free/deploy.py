"""A deploy definition read by the light reader as :class:`caffe_compat.dnn.Net` reads it: the
upgrades a current-format net may need (the ``input`` fields become an Input layer, a
BatchNorm's three old ``param`` entries get lr_mult and decay_mult 0) and the TEST phase's layers
(:mod:`caffe_compat.net.rules`), as :func:`caffe_compat.io.upgrade.upgrade_net` and
:func:`caffe_compat.net.graph.filter_net` give them. None where the protobuf reader is to read
the definition: legacy ``layers``, ``input`` fields it would refuse or warn about, a layer
with both include and exclude rules (its error)."""
from __future__ import annotations

from caffe_compat.diagnostics.messages import info
from caffe_compat.net.rules import layer_included

from . import text as light_text
from .message import Message

_TEST = 1                                     # caffe.Phase.TEST
_UPGRADE_LOG = "caffe_compat.io.upgrade"      # the upgrade's logger: the same info lines


class Deploy:
    """``name``, ``layers`` (the TEST phase's LayerParameters, Input layers included) and
    ``open_inputs`` (``input`` fields without a shape, whose shape comes with setInput)."""

    __slots__ = ("name", "layers", "open_inputs")

    def __init__(self, name, layers, open_inputs):
        self.name, self.layers, self.open_inputs = name, layers, open_inputs


def _input_layer(net):
    """The Input layer the upgrade makes of ``net``'s ``input`` fields (None: no shapes,
    the inputs are dropped); raises _Refused where the upgrade would err or warn."""
    names = list(net.input)
    if len(net.input_shape):
        if len(net.input_shape) < len(names):
            raise _Refused
        shapes = [list(net.input_shape[i].dim) for i in range(len(names))]
    elif len(net.input_dim):
        dims = list(net.input_dim)
        if len(dims) != 4 * len(names):
            raise _Refused
        shapes = [dims[4 * i:4 * i + 4] for i in range(len(names))]
    else:
        return None
    shape_messages = [Message("BlobShape", {"dim": dims}) for dims in shapes]
    return Message("LayerParameter", {
        "name": "input", "type": "Input", "top": names,
        "input_param": Message("InputParameter", {"shape": shape_messages})})


class _Refused(Exception):
    """Left to the protobuf reader."""


def read(text, source):
    """The :class:`Deploy` of prototxt ``text`` (``source`` names it in the upgrade's log
    lines), or None (module doc)."""
    net = light_text.parse(text)
    if net is None or len(net.layers):
        return None
    open_inputs = [] if len(net.input_shape) or len(net.input_dim) else list(net.input)
    layers = list(net.layer)
    if len(net.input):
        try:
            made = _input_layer(net)
        except _Refused:
            return None
        info(_UPGRADE_LOG, "%s: turning the 'input' fields into an Input layer", source)
        if made is not None:
            layers.insert(0, made)
    if any(lp.type == "BatchNorm" and len(lp.param) == 3 for lp in layers):
        info(_UPGRADE_LOG, "%s: BatchNorm's 'param' entries get lr_mult 0, decay_mult 0", source)
        layers = [lp.replaced(param=[s.replaced(lr_mult=0.0, decay_mult=0.0) for s in lp.param])
                  if lp.type == "BatchNorm" and len(lp.param) == 3 else lp for lp in layers]
    state = net.state.replaced(phase=_TEST, level=0)
    kept = []
    for lp in layers:
        if len(lp.include) and len(lp.exclude):
            return None
        if layer_included(lp, state):
            kept.append(lp)
    return Deploy(net.name, kept, open_inputs)
