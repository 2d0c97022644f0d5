"""The array layer's interface and the checks every layer shares.

A layer is set up from its LayerParameter and bottom shapes (Caffe's LayerSetUp; anything
outside the forms it runs raises :class:`~caffe_compat.array_net.registry.Unsupported`), says
its parameter blobs' shapes and fillers, its tops' shapes for given bottom shapes (Reshape) and
writes its tops from its bottoms (Forward_cpu); the layers with Caffe's Backward_cpu say so with
:meth:`ArrayLayer.can_backward`."""
from __future__ import annotations

from ...data.filler_rules import as_fillers
from ..registry import Unsupported


class ArrayLayer:
    """Base of the array layers: no parameters, one top per bottom of the same shape."""

    type = None
    # whether a top may be its bottom (Caffe runs the layer in place)
    in_place = False
    # a loss layer (Caffe's LossLayer: loss_weight 1 on its first top unless given)
    is_loss = False
    # a data layer (reads a source; ``produce()`` gives its tops' next values)
    is_data = False
    # tops that are the bottom's own memory (``shared_tops``), as Split's and Flatten's
    shares_bottom = False
    # backward may leave the weight gradient for when the diff is asked for (add_weight_grad;
    # caffe_compat.array_net.deferred_grads)
    defers_weight_grad = False
    # exactly one bottom and one top (what the layer runs)
    one_bottom = False
    # the type's rule (``caffe_compat.rules.<type>``): ``rule_of(param, bottom_shapes)`` is kept
    # as ``self.rule``, and its ``top_shape(bottom_shape)`` gives the one top's shape
    rule_of = None
    # the rule's ``top_shape`` reads every bottom's shape (else bottom 0's)
    top_of_all = False

    def __init__(self, param, bottom_shapes, phase):
        self.param = param
        self.name = param.name
        self.phase = phase
        if len(param.loss_weight) and any(param.loss_weight) and not self.is_loss:
            raise Unsupported(f"layer '{self.name}': loss weights")
        if len(param.param) and any(spec.name for spec in param.param):
            raise Unsupported(f"layer '{self.name}': shared parameters")
        if self.one_bottom:
            need(len(bottom_shapes) == 1 and len(param.top) == 1, f"{self.type} of one bottom")
        if self.rule_of is not None:
            self.rule = self.rule_of(param, bottom_shapes)

    def param_shapes(self):
        """Shapes of the parameter blobs, in Caffe's order."""
        return []

    def filler_params(self):
        """The FillerParameter of each parameter blob."""
        return []

    def top_shapes(self, bottom_shapes):
        """The rule's top shape where the type has one (:attr:`rule_of`), else the bottom's."""
        if self.rule_of is not None:
            return [self.rule.top_shape(bottom_shapes if self.top_of_all else bottom_shapes[0])]
        return [tuple(bottom_shapes[0])]

    def forward(self, bottoms, tops, params):
        """Write ``tops`` (arrays of :meth:`top_shapes`) from ``bottoms``."""
        raise NotImplementedError

    def can_backward(self):
        """Whether :meth:`backward` can run now (the state its forward keeps is there); by
        default whether the type has one."""
        return type(self).backward is not ArrayLayer.backward

    def allow_force_backward(self, j):
        """Caffe's AllowForceBackward: ``force_backward`` reaches bottom ``j`` (a loss layer's
        labels, its second bottom, are kept out)."""
        return not (self.is_loss and j == 1)

    def trains(self):
        """Whether this layer, as set up, has Caffe's Backward_cpu here (a solver trains
        through it once its forward has run)."""
        return type(self).backward is not ArrayLayer.backward

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        """Caffe's Backward_cpu: assign the bottom diffs that are not None from the top diffs
        (and the data), add into the parameter diffs that are not None."""
        raise Unsupported(f"backward of {self.type}")


class BottomDiffLayer(ArrayLayer):
    """A layer whose Backward_cpu writes only bottom 0's diff (no parameter diffs):
    :meth:`backward_bottom` runs when that diff is asked for."""

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        if bottom_diffs[0] is not None:
            self.backward_bottom(bottoms, tops, bottom_diffs[0], top_diffs)

    def backward_bottom(self, bottoms, tops, dx, top_diffs):
        """Assign bottom 0's diff ``dx`` from the top diffs (and the data)."""
        raise NotImplementedError


class NoDiffLayer(ArrayLayer):
    """A layer whose Backward_cpu propagates nothing (Accuracy, Input, the data layers)."""

    def backward(self, bottoms, tops, bottom_diffs, top_diffs, params, param_diffs):
        pass


class RuleBlobsLayer(ArrayLayer):
    """A layer whose parameter blobs are its rule's (``self.rule``): their shapes, and their
    fillers as FillerParameters."""

    def param_shapes(self):
        return self.rule.param_shapes()

    def filler_params(self):
        return as_fillers(self.rule.fillers())


def need(condition, what):
    """:class:`Unsupported` with ``what`` unless ``condition``."""
    if not condition:
        raise Unsupported(what)
