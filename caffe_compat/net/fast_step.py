"""pycaffe's whole-net training passes as straight-line steps: Caffe's ``Net::Forward`` and
``Net::Backward`` over a :class:`~caffe_compat.net.stepwise.Stepwise`'s blobs, with the
per-layer decisions of its general loop taken once per net.

:meth:`Stepwise.forward <caffe_compat.net.stepwise.Stepwise.forward>` over every layer with
autograd on, and the whole ``backward`` after it, run these when every layer taking part in
backward offers Caffe's explicit calls (:mod:`caffe_compat.net.train_plan`; Split for up to
two tops) and no layer works on the blobs themselves (Python layers) or holds fixed tops: the
same layer calls, tensors, order and copies into blob storage as the general loop, so every
value readable through ``net.blobs`` / ``net.params`` is the general loop's bit for bit
(tests/pycaffe/test_fast_step.py), and a partial backward after it finds each layer's saved
state where the general loop leaves it. A whole-net forward with autograd off (a test pass,
a deploy net) takes the plan's inference records where the general loop would substitute
nothing (no convolution, pooling, LRN or concat, no batch in chunks)."""
from __future__ import annotations

import torch

from ..inference import fast_layers
from ..parallel import threads
from . import train_plan

_INPUT, _EXPLICIT, _PLAIN = range(3)
# False: pycaffe's passes take Stepwise's general loop (the tests compare the two)
ENABLED = True


class StepPlan:
    """The straight-line forward and backward of one :class:`Stepwise` (see the module doc);
    :func:`plan_for` builds it."""

    # the store is passed to each call, not kept: a plan kept by its store and keeping it
    # would be a reference cycle holding the net (and its open databases) until the
    # collector runs, where Caffe releases them with their last reference
    def __init__(self, records, backward_records, explicit_modules, inference_records):
        self.records = records
        self.inference_records = inference_records
        self.backward_records = backward_records
        self.explicit_modules = explicit_modules
        self._ready_key = None
        self._ready = False

    def ready(self):
        """Whether the plan applies now: autograd on and every explicit layer's
        ``explicit_ready()`` (asked again when the kernel settings or the parameters' device
        or dtype change)."""
        if self.records is None or not torch.is_grad_enabled():
            return False
        key = (train_plan.kernel_state(),      # the layers' parameters as they are now
               tuple((id(p), p.dtype, p.device) for m in self.explicit_modules
                     for p in m.blobs))
        if key != self._ready_key:
            self._ready = all(m.explicit_ready() for m in self.explicit_modules)
            self._ready_key = key
        return self._ready

    def forward(self, store):
        """Every layer forward, as Stepwise's general loop with autograd on; the total loss."""
        net = store.net
        threads.apply_for_net(net)
        data, saved = store.data, store._saved
        explicit_state = train_plan.ExplicitState
        loss = 0.0
        for kind, i, module, bottoms, tops_names, clones, is_data, weighted, split in \
                self.records:
            if kind == _INPUT:
                continue
            if kind == _EXPLICIT:
                leaves = [data[b].detach().clone() if c else data[b].detach()
                          for b, c in zip(bottoms, clones)]
                tops, state = module.explicit_forward(*leaves)
                saved[i] = explicit_state(leaves, tops, state)
            else:
                saved.pop(i, None)
                if split:                # nothing to compute: the tops share the bottom
                    tops = ()
                else:
                    with torch.no_grad():
                        tops = module(*[data[b] for b in bottoms])
                    if isinstance(tops, torch.Tensor):
                        tops = (tops,)
            loss = _store_tops(store, tops, bottoms, tops_names, is_data, weighted, split,
                               kind == _EXPLICIT, loss)
        store._plan_forward = True
        return loss

    def inference(self, store):
        """Every layer forward with autograd off, as Stepwise's general loop runs it for a net
        whose layers have no inference substitutes (no convolution, pooling, LRN or concat):
        layers in place in Caffe on a blob nothing else holds write it in place, every top
        adopted unless its storage was handed out; the total loss. None where the plan does
        not apply (a batch the general loop would run in chunks, or layers with
        substitutes)."""
        net = store.net
        records = self.inference_records
        if records is None or (net.inference_chunk and net._per_item):
            return None
        threads.apply_for_net(net)
        data, saved = store.data, store._saved
        loss = 0.0
        for i, module, bottoms, tops_names, is_data, weighted, split, in_place in records:
            saved.pop(i, None)
            if split:
                tops = ()
            elif in_place:
                tops = module.forward_inplace(data[bottoms[0]])
            else:
                tops = module(*[data[b] for b in bottoms])
            if isinstance(tops, torch.Tensor):
                tops = (tops,)
            loss = _store_tops(store, tops, bottoms, tops_names, is_data, weighted, split, False,
                               loss)
        store._plan_forward = False
        return loss

    def backward(self, store):
        """Every layer backward after :meth:`forward`, as Stepwise's general loop."""
        threads.apply_for_net(store.net)
        saved, diff_of = store._saved, store.diff_of
        with torch.no_grad():
            for i, module, tops_names, bottoms, wanted, params, skip in self.backward_records:
                train_plan.explicit_backward(
                    module, saved[i], tops_names, bottoms, wanted,
                    [need and p.requires_grad for p, need in zip(module.blobs, params)], skip,
                    diff_of)


def _store_tops(store, tops, bottoms, tops_names, is_data, weighted, split, copy, loss):
    """A layer's tops into their blobs as the general loop stores them (a Split's the bottom's
    data itself, a data layer's cast to the net's dtype and device, copied or adopted); the
    total ``loss`` with the layer's weighted tops added, in top order."""
    data = store.data
    if split:                            # Caffe's SplitLayer shares its bottom's data
        shared = data[bottoms[0]]
        for name in tops_names:
            data[name] = shared
        return loss
    if is_data:
        ref = store.net._ref
        dtype, device = ref.dtype, ref.device
        tops = tuple(t if t.dtype == dtype and t.device == device
                     else t.to(device=device, dtype=dtype) for t in tops)
    for name, t in zip(tops_names, tops):
        store._put(name, t.detach(), copy)
    for j, w in weighted:
        t = tops[j].detach()
        loss += w * float(t if t.dim() == 0 else t.sum())
    return loss


def plan_for(store):
    """The :class:`StepPlan` of ``store`` (None where the general loop must run), built once
    and again when the blobs' dtypes change."""
    if not ENABLED:
        return None
    key = tuple(t.dtype for t in store.data.values()) if not store.data.parts else None
    cache = store.__dict__.get("_step_plan_cache")
    if cache is not None and cache[0] == key:
        return cache[1]
    plan = _build(store) if key is not None else None
    store._step_plan_cache = (key, plan)
    return plan


def _build(store):
    """The plan of ``store``: None for a net with Python layers or fixed tops; its training
    records None where a layer that takes part in backward has no explicit calls."""
    if store.fixed or any(runs_on_blobs for _, runs_on_blobs, _ in store.steps):
        return None
    inference = _inference_records(store)
    records, backward_records, explicit = _training_records(store)
    if records is None and inference is None:
        return None
    return StepPlan(records, backward_records, explicit, inference)


def _training_records(store):
    net = store.net
    if not train_plan.ENABLED or net.graph.force_backward:
        return None, None, []
    records, backward_records, explicit = [], [], []
    for i, (node, key, weights, _) in enumerate(store.nodes):
        module = store.steps[i][0]
        if node.type == "Input":
            records.append((_INPUT, i, module, (), (), (), False, (), False))
            continue
        need = store.layer_need[i]
        if need and module.explicit_forward is None:
            return None, None, []
        if need:
            explicit.append(module)
        clones = tuple(b in node.tops or not store.data[b].is_floating_point()
                       for b in node.bottoms)
        weighted = tuple((j, float(w)) for j, w in enumerate(weights) if w)
        records.append((_EXPLICIT if need else _PLAIN, i, module, tuple(node.bottoms),
                        tuple(node.tops), clones, bool(module.is_data), weighted,
                        node.type == "Split"))
    for i in range(len(store.nodes) - 1, -1, -1):
        node = store.nodes[i][0]
        if not store.layer_need[i] or (not node.bottoms and not any(store.param_need[i])):
            continue
        module = store.steps[i][0]
        wanted = tuple(need and store.data[b].is_floating_point()
                       for b, need in zip(node.bottoms, store.bottom_need[i]))
        backward_records.append((i, module, tuple(node.tops), tuple(node.bottoms), wanted,
                                 tuple(store.param_need[i]),
                                 frozenset(module.nondifferentiable_tops)))
    return records, backward_records, explicit


def _inference_records(store):
    """The records of :meth:`StepPlan.inference`, or None for a net with layers that the
    general loop replaces by the engine's inference forms (Stepwise._substitutes)."""
    net = store.net
    out = []
    for i, (node, key, weights, _) in enumerate(store.nodes):
        if node.type == "Input":
            continue
        if "Convolution" in node.type or node.type in fast_layers.REPLACERS:
            return None
        module = store.steps[i][0]
        out.append((i, module, tuple(node.bottoms), tuple(node.tops), bool(module.is_data),
                    tuple((j, float(w)) for j, w in enumerate(weights) if w),
                    node.type == "Split", i in net._exclusive_inplace))
    return out
