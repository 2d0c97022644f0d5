"""Caffe's ``debug_info`` lines (src/caffe/net.cpp), printed by the passes of a
:class:`~caffe_compat.net.stepwise.Stepwise` whose ``debug_log`` is set, as Caffe's Net prints
them while its ``debug_info_`` flag is on:

- after each layer's forward (Net::ForwardDebugInfo), for each top, then each parameter blob:
  ``    [Forward] Layer L, top blob T data: M`` and ``    [Forward] Layer L, param blob P data:
  M``, where M is the mean absolute value (``asum / count``) and P the ParamSpec's name, else
  the blob's index in the layer;
- after the backward of each layer that needs one (Net::BackwardDebugInfo), for each bottom
  that takes a diff, then each parameter with ``lr_mult != 0``: ``    [Backward] Layer L,
  bottom blob B diff: M`` and ``    [Backward] Layer L, param blob J diff: M`` (J: the index;
  a shared parameter shows the diff summed so far);
- after a whole backward of Net::ForwardBackward (Net::Backward, an ERROR line):
  ``    [Backward] All net params (data, diff): L1 norm = (A, B); L2 norm = (C, D)`` over the
  learnable parameters, each shared one once.

A solver sets the flag as Caffe's Solver::Step does: on the train net for the display
iterations only (``display && debug_info``), on the test nets for every pass; a net whose
NetParameter says ``debug_info: true`` prints in every pass (pycaffe's ``caffe.Net``).
"""
from __future__ import annotations

import math

from ..diagnostics.glog import g


def _mean_abs(t):
    """Caffe's ``asum / count`` of a blob (0 for a parameter without a diff yet)."""
    if t is None or t.numel() == 0:
        return 0.0
    return float(t.detach().double().abs().sum()) / t.numel()


def _param_names(node, count):
    """Caffe's param_display_names_ of a layer's blobs: the ParamSpec's name, else the index."""
    specs = node.param.param
    return [specs[j].name if j < len(specs) and specs[j].name else str(j) for j in range(count)]


def log_forward(store, i):
    """Net::ForwardDebugInfo for layer ``i`` of ``store``."""
    node, key, _, _ = store.nodes[i]
    log = store.debug_log
    for top in node.tops:
        log.info(f"    [Forward] Layer {node.name}, top blob {top} data: "
                 f"{g(_mean_abs(store.data[top]))}", "net.cpp:593")
    blobs = store.net.layers[key].blobs
    for name, blob in zip(_param_names(node, len(blobs)), blobs):
        log.info(f"    [Forward] Layer {node.name}, param blob {name} data: "
                 f"{g(_mean_abs(blob))}", "net.cpp:605")


def log_backward(store, i):
    """Net::BackwardDebugInfo for layer ``i`` of ``store`` (a layer that ran backward)."""
    node, key, _, _ = store.nodes[i]
    log = store.debug_log
    for bottom, need in zip(node.bottoms, store.bottom_need[i]):
        if need:
            log.info(f"    [Backward] Layer {node.name}, bottom blob {bottom} diff: "
                     f"{g(_mean_abs(store.diff_of(bottom)))}", "net.cpp:621")
    for j, (blob, need) in enumerate(zip(store.net.layers[key].blobs, store.param_need[i])):
        if need:
            log.info(f"    [Backward] Layer {node.name}, param blob {j} diff: "
                     f"{g(_mean_abs(blob.grad))}", "net.cpp:632")


def log_param_norms(store):
    """Net::Backward's line: the L1 and L2 norms of every learnable parameter's data and diff."""
    sums = [0.0, 0.0, 0.0, 0.0]
    for e in store.net.learnable:
        data = e.param.detach().double()
        diff = e.param.grad.detach().double() if e.param.grad is not None else data * 0
        for k, v in enumerate((data.abs().sum(), diff.abs().sum(), (data * data).sum(),
                               (diff * diff).sum())):
            sums[k] += float(v)
    store.debug_log.error(
        f"    [Backward] All net params (data, diff): L1 norm = ({g(sums[0])}, {g(sums[1])}); "
        f"L2 norm = ({g(math.sqrt(sums[2]))}, {g(math.sqrt(sums[3]))})", "net.cpp:721")
