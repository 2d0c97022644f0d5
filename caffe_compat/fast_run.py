"""The no-grad forward of a fast-path plan (:mod:`caffe_compat.fast_inference`) as a flat list
of steps worked out once per net and set of kept blobs.

``Net._run`` decides, for every layer of every forward, whether it is folded away, replaced,
run in place, whose inputs to detach, which blobs to free after it and which versions to
record. None of that changes between two forwards with the same plan, so :class:`CompiledRun`
decides it once: each step is (callable, bottom names, top names, which tops are new blobs,
blobs freed after it). The layers run are the same and in the same order, on the same values,
so the outputs are the same as the plan's layer loop, bit for bit (tests compare them).

A net with loss weights or data layers keeps the general loop (the loss is summed there, data
layers read batches): :func:`compile_run` gives None for it.
"""
from __future__ import annotations

import torch


class CompiledRun:
    """The steps of one plan; calling it with the fed inputs returns ``(values, first
    versions, None)`` as ``Net._run`` does."""

    def __init__(self, net, plan, keep):
        steps, reads = [], []
        for node, key, weights, _ in net._nodes:
            if node.index in plan.skip:
                continue
            module = net.layers[key]
            if node.type == "Input":
                shapes = tuple(net._blob_shapes[t] for t in node.tops)
                steps.append([None, shapes, tuple(node.tops), (True,) * len(node.tops), ()])
                reads.append(())
                continue
            if node.index in plan.replace:
                fn, bottoms, tops = plan.replace[node.index]
            else:
                fn = module.forward_inplace if node.index in net._exclusive_inplace \
                    else module
                bottoms, tops = tuple(node.bottoms), tuple(node.tops)
            fresh = tuple(not (j < len(node.bottoms) and node.bottoms[j] == name)
                          for j, name in enumerate(tops))
            steps.append([fn, tuple(bottoms), tuple(tops), fresh, ()])
            reads.append(tuple(bottoms))
        if keep is not None:
            # a blob is freed after the last step that reads it, unless it is kept
            last = {}
            for i, names in enumerate(reads):
                for b in names:
                    last[b] = i
            for b, i in last.items():
                if b not in keep:
                    steps[i][4] += (b,)
        self.steps = [tuple(s) for s in steps]
        self.dtype, self.device = net._ref.dtype, net._ref.device

    def __call__(self, inputs):
        values, first = {}, {}
        for fn, bottoms, tops, fresh, drops in self.steps:
            if fn is None:        # an Input layer: the fed blobs, zeros for the others
                outs = tuple(inputs[t] if t in inputs else
                             torch.zeros(s, dtype=self.dtype, device=self.device)
                             for t, s in zip(tops, bottoms))
            else:
                outs = fn(*[values[b] for b in bottoms])
                if isinstance(outs, torch.Tensor):
                    outs = (outs,)
            for b in drops:
                del values[b]
                first.pop(b, None)
            for name, t, new in zip(tops, outs, fresh):
                values[name] = t
                if new:
                    first[name] = t
        return values, first, None


def compile_run(net, plan, keep):
    """A :class:`CompiledRun` for this plan, or None where the general loop must run."""
    for node, key, weights, _ in net._nodes:
        if any(weights) or net.layers[key].is_data:
            return None
    return CompiledRun(net, plan, keep)
