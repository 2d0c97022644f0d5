"""One count of in-place writes for all the weights of a net whose forwards run on an engine
(``caffe_compat.Net(engine=...)``).

An engine runs an export of the weights, so each of its forwards must first know whether any
weight was written in place since that export (``net.params["conv1"][0].mul_(2)``). Torch counts
the in-place writes of each tensor (its version counter, shared by a tensor and its views and
``detach()`` aliases); summing the counts of every weight costs a cache miss or more per tensor
once the engine's forward has filled the caches (about 200 µs over MobileNet v2's 320 tensors:
docs/benchmarks.md). :func:`gather` puts the weights of such a net, when it is built, into one
float tensor, each weight a view of it keeping its identity (``torch.utils.swap_tensors``), so
that they share that tensor's count: one read tells whether any of them was written.
:func:`watched` gives the tensors a forward sums the counts of: that tensor, and each weight no
longer in it (moved by ``.data = ...``, another device, or replaced) on its own.

Nets whose forward writes their own blobs (BatchNorm without global statistics; a Python
layer's may) keep a count per tensor: with one count, the statistics a forward writes would mark
every weight saved for its backward as written. For the same reason a program that writes one
weight between a forward under autograd and its backward sees torch refuse that backward. The
tensor holding the weights lives as long as the net (after ``net.to("cuda")`` too)."""
from __future__ import annotations

import operator
import weakref

import torch
from torch import nn

from .param_memory import _unique

# the fewest weight tensors worth one count: gathering copies every weight once when the net is
# built (57 ms for ResNet-50's 102 MB in 320 tensors, 13 ms for MobileNet v2's 14 MB in 320: first
# writes of fresh memory); a count per tensor costs a forward well under a microsecond each
MIN_TENSORS = 64
# net -> the tensor holding its weights; kept beside the net, not on it, so that a copy or an
# unpickled net (whose weights are its own tensors again) counts each weight on its own
_WHOLE = weakref.WeakKeyDictionary()


def _weights(net):
    """The net's weight tensors (each once: a blob shared by name appears once), layer order."""
    return _unique(b for _, key, _, _ in net._nodes for b in net.layers[key].blobs)


def gather(net):
    """Put the weights of ``net`` into one tensor (module doc), kept for :func:`watched`;
    every weight is left as it was where they cannot share one: a forward that writes blobs (or
    a Python layer, which may), weights of several dtypes or devices, a weight with a weak
    reference, or fewer than :data:`MIN_TENSORS` weights (their counts cost a forward little)."""
    whole = _gathered(net)
    if whole is not None:
        _WHOLE[net] = whole


def _gathered(net):
    if any(getattr(net.layers[key], "forward_writes_blobs", False) or node.type == "Python"
           for node, key, _, _ in net._nodes):
        return None                   # (a Python layer's forward may write its blobs)
    weights = _weights(net)
    if len(weights) < MIN_TENSORS or len({(t.dtype, t.device) for t in weights}) != 1:
        return None
    first = weights[0]
    whole = torch.empty(sum(t.numel() for t in weights), dtype=first.dtype, device=first.device)
    start = 0
    for k, t in enumerate(weights):
        part = whole[start:start + t.numel()].view(t.shape)
        start += t.numel()
        with torch.no_grad():
            part.copy_(t)
        new = nn.Parameter(part, requires_grad=t.requires_grad) \
            if isinstance(t, nn.Parameter) else part
        new.__dict__.update(t.__dict__)
        try:
            torch.utils.swap_tensors(t, new)
        except RuntimeError:          # (a weak reference, or a tensor in an autograd graph):
            return whole if k else None   # this one and the rest keep their own counts
    return whole


def watched(net, weights):
    """The tensors whose counts of in-place writes tell whether any of ``weights`` (of
    ``net``) was written: the tensor :func:`gather` made, for those still in it, and each other
    one on its own."""
    weights = list(weights)
    whole = _WHOLE.get(net)
    if whole is None:
        return weights
    base = whole.untyped_storage().data_ptr()
    rest = [t for t in weights if t.device != whole.device or
            t.untyped_storage().data_ptr() != base]
    return ([whole] if len(rest) < len(weights) else []) + rest


_VERSION = operator.attrgetter("_version")      # a tensor's count of in-place writes


def count(tensors):
    """The sum of the counts of in-place writes of ``tensors`` (:func:`watched`'s)."""
    return sum(map(_VERSION, tensors))
