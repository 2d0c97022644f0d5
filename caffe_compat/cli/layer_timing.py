"""The timed loop of ``caffe-compat time`` (tools/caffe.cpp ``time()``): one iteration of
per-layer forwards and backwards, each layer on its own inputs, as Caffe's layer-by-layer loop
runs them."""
from __future__ import annotations

import time

import torch

from ..net import vjp


def layer_pass(captured, sync):
    """One iteration of Caffe's timed loop over ``captured`` ((name, module, inputs or None
    for an Input layer) per layer of the net): every layer's forward on its own inputs, in
    order, then every layer's backward in reverse (the gradients of its tops, all ones, into its
    bottoms and blobs). Returns (per-layer forward seconds, per-layer backward seconds,
    forward pass seconds, backward pass seconds)."""
    fwd = [0.0] * len(captured)
    bwd = [0.0] * len(captured)
    runs = []
    forward_start = time.perf_counter()
    for k, (name, module, inputs) in enumerate(captured):
        if inputs is None:               # an Input layer: its forward does nothing
            runs.append(((), (), module))
            continue
        ins = tuple(x.detach().requires_grad_(x.is_floating_point() and x.requires_grad)
                    for x in inputs)
        t0 = time.perf_counter()
        out = module(*ins)
        sync()
        fwd[k] = time.perf_counter() - t0
        runs.append((ins, out if isinstance(out, tuple) else (out,), module))
    forward_time = time.perf_counter() - forward_start
    backward_start = time.perf_counter()
    for k in range(len(runs) - 1, -1, -1):
        ins, outs, module = runs[k]
        wrt = [x for x in ins if x.requires_grad] + [p for p in module.blobs if p.requires_grad]
        tops = [o for o in outs if o.requires_grad]
        if not wrt or not tops:
            continue
        t0 = time.perf_counter()
        vjp.grad(tops, wrt, [torch.ones_like(o) for o in tops], allow_unused=True)
        sync()
        bwd[k] = time.perf_counter() - t0
    return fwd, bwd, forward_time, time.perf_counter() - backward_start
