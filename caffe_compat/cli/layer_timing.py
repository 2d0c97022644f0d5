"""The timed loop of ``caffe-compat time`` (tools/caffe.cpp ``time()``): one iteration of
per-layer forwards and backwards, each layer on its own inputs, as Caffe's layer-by-layer loop
runs them (:func:`layer_pass` for the torch engine, :func:`array_layer_pass` for the array
engine), and the averages Caffe prints after it (:func:`report`)."""
from __future__ import annotations

import time

from ..diagnostics.glog import g


def layer_pass(captured, sync):
    """One iteration of Caffe's timed loop over ``captured`` ((name, module, inputs or None
    for an Input layer) per layer of the net): every layer's forward on its own inputs, in
    order, then every layer's backward in reverse (the gradients of its tops, all ones, into its
    bottoms and blobs). Returns (per-layer forward seconds, per-layer backward seconds,
    forward pass seconds, backward pass seconds)."""
    import torch

    from ..net import vjp
    fwd, bwd = [0.0] * len(captured), [0.0] * len(captured)
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


def array_layer_pass(net):
    """One iteration of Caffe's timed loop over an :class:`~caffe_compat.array_net.ArrayNet`:
    ``layers[i]->Forward`` for every layer in order (a data layer takes its next batch), then
    ``layers[i]->Backward`` in reverse from the diffs as they are, with Net::Init's bottoms and
    parameters. Returns what :func:`layer_pass` returns."""
    n = len(net.nodes)
    fwd, bwd = [0.0] * n, [0.0] * n
    forward_start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        net.forward_layer(i)
        fwd[i] = time.perf_counter() - t0
    forward_time = time.perf_counter() - forward_start
    backward_start = time.perf_counter()
    for i in range(n - 1, -1, -1):
        t0 = time.perf_counter()
        net.backward_layer(i)
        bwd[i] = time.perf_counter() - t0
    return fwd, bwd, forward_time, time.perf_counter() - backward_start


def timed_iterations(log, names, iterations, one_pass):
    """Caffe's benchmark: ``iterations`` calls of ``one_pass()`` (a layer pass), each logged,
    then the averages per layer and per pass and the total (tools/caffe.cpp's lines)."""
    fwd, bwd = [0.0] * len(names), [0.0] * len(names)
    log.info("*** Benchmark begins ***", "caffe.cpp:365")
    log.info(f"Testing for {iterations} iterations.", "caffe.cpp:366")
    total_start = time.perf_counter()
    forward_time = backward_time = 0.0
    for j in range(iterations):
        iter_start = time.perf_counter()
        layer_fwd, layer_bwd, pass_fwd, pass_bwd = one_pass()
        fwd = [a + b for a, b in zip(fwd, layer_fwd)]
        bwd = [a + b for a, b in zip(bwd, layer_bwd)]
        forward_time += pass_fwd
        backward_time += pass_bwd
        log.info(f"Iteration: {j + 1} forward-backward time: "
                 f"{g((time.perf_counter() - iter_start) * 1000)} ms.", "caffe.cpp:394")
    n = max(iterations, 1)
    log.info("Average time per layer: ", "caffe.cpp:397")
    for k, name in enumerate(names):
        log.info(f"{name:>10}\tforward: {g(fwd[k] * 1000 / n)} ms.", "caffe.cpp:400")
        log.info(f"{name:>10}\tbackward: {g(bwd[k] * 1000 / n)} ms.", "caffe.cpp:403")
    total = (time.perf_counter() - total_start) * 1000
    log.info(f"Average Forward pass: {g(forward_time * 1000 / n)} ms.", "caffe.cpp:408")
    log.info(f"Average Backward pass: {g(backward_time * 1000 / n)} ms.", "caffe.cpp:410")
    log.info(f"Average Forward-Backward: {g(total / n)} ms.", "caffe.cpp:412")
    log.info(f"Total Time: {g(total)} ms.", "caffe.cpp:414")
    log.info("*** Benchmark ends ***", "caffe.cpp:415")
