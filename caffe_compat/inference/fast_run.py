"""The no-grad forward of an inference plan (:mod:`caffe_compat.inference.fast_inference`) as a
flat list of steps worked out once per net and set of kept blobs.

``Net._run`` decides at every layer of every forward whether it is folded away, replaced, run
in place, which inputs to detach, which blobs to free and which versions to record; none of
that changes between two forwards of one plan, so :class:`CompiledRun` decides it once (a
step: callable, bottom names, top names, which tops are new blobs, blobs freed after it). The
outputs are the plan's layer loop's, bit for bit (tests compare them). A net with loss
weights or data layers keeps the general loop (:func:`compile_run` gives None)."""
from __future__ import annotations

import torch

from ..parallel import threads


class CompiledRun:
    """The steps of one plan; calling it with the fed inputs returns ``(values, first
    versions, None)`` as ``Net._run`` does."""

    def __init__(self, net, plan, keep):
        steps, reads, self._nodes = [], [], []
        for node, key, weights, _ in net._nodes:
            if node.index in plan.skip:
                continue
            self._nodes.append(node)
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
            last = {b: i for i, names in enumerate(reads) for b in names}
            for b, i in last.items():
                if b not in keep:
                    steps[i][4] += (b,)
        self.steps = [tuple(s) for s in steps]
        self.dtype, self.device = net._ref.dtype, net._ref.device
        self.thread_steps = plan.row.thread_steps     # CPU threads per step (its device row)
        # per step, the batch from which it runs on more than one thread: its work at the
        # set-up shapes, per item, against threads.SMALL_LAYER_WORK (decided once here)
        self.parallel_from = self._parallel_from(net)

    def _parallel_from(self, net):
        shapes, found = net._blob_shapes, []
        batch = next((int(shapes[t][0]) for node, _, _, _ in net._nodes if node.type == "Input"
                      for t in node.tops[:1] if shapes.get(t)), 1) or 1
        keys = {node.index: key for node, key, _, _ in net._nodes}
        for (fn, bottoms, tops, _, _), node in zip(self.steps, self._nodes):
            if fn is None:
                found.append(0)
                continue
            module = net.layers[keys[node.index]]
            work = threads.layer_work(module, [shapes.get(b) for b in bottoms],
                                      [shapes.get(t) for t in tops])
            per_item = max(work / batch, 1e-9)
            found.append(threads.SMALL_LAYER_WORK / per_item)
        return tuple(found)

    def __call__(self, inputs):
        values, first = {}, {}
        many = torch.get_num_threads()      # as threads.apply set it for this pass
        batch = next((int(v.shape[0]) for v in inputs.values() if v.dim()), 1) \
            if threads.PER_LAYER and self.thread_steps and many > 1 else 0
        current = many
        for (fn, bottoms, tops, fresh, drops), parallel_from in zip(self.steps,
                                                                     self.parallel_from):
            if fn is None:        # an Input layer: the fed blobs, zeros for the others
                outs = tuple(inputs[t] if t in inputs else
                             torch.zeros(s, dtype=self.dtype, device=self.device)
                             for t, s in zip(tops, bottoms))
            else:
                if batch:         # small work on one thread, large products on all
                    want = many if batch >= parallel_from else 1
                    if want != current:
                        threads.set_pass_threads(want)
                        current = want
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
        if current != many:
            threads.set_pass_threads(many)
        return values, first, None


def compile_run(net, plan, keep):
    """A :class:`CompiledRun` for this plan, or None where the general loop must run."""
    for node, key, weights, _ in net._nodes:
        if any(weights) or net.layers[key].is_data:
            return None
    return CompiledRun(net, plan, keep)
