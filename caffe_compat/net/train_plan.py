"""A training pass without autograd: Caffe's ``Net::ForwardBackward`` layer by layer.

Caffe trains by running ``Forward_cpu`` over the layers and ``Backward_cpu`` over them in
reverse, each layer writing its bottom diffs and adding into its parameter diffs. For a net
whose every layer taking part in backward offers Caffe's two calls (``explicit_forward`` /
``explicit_backward``, :class:`caffe_compat.layers.base.Layer`), the solver's
forward-backward runs them instead of autograd (whose fixed cost per pass is most of a small
net's iteration), decided once per net:

- forward: every layer in order, with the autograd forward's float32 operations, the blobs
  and total loss set as :meth:`Net.forward <caffe_compat.net.core.Net.forward>` sets them;
- backward: the layers in reverse, each top's diff the one autograd would give it (a loss top
  weighted ``w``: ``w`` as a float32 scalar), each parameter's diff stored as AccumulateGrad
  stores it (the first of an iteration as it is, later ones added in place, as ``iter_size``
  passes accumulate in Caffe).

The diffs, losses and trained parameters are the autograd path's bit for bit
(tests/caffe_compat/net/test_train_plan.py). The plan applies only where that is sure:
float32 on the CPU, the exact products in use
(:func:`caffe_compat.kernels.blas_order.usable_in_training`), no ``force_backward``, no kept
diffs, every blob that carries a diff read by one layer at most (Split layers have no
explicit backward yet) and every loss top a scalar. Layers with the explicit calls:
InnerProduct, Convolution (one 4-D bottom, the exact products), SoftmaxWithLoss, ReLU, LRN,
Split (two tops at most); data layers and layers without a backward need none. Any other net
keeps autograd. pycaffe's layer-by-layer passes (:mod:`caffe_compat.net.stepwise`) choose per
layer (:func:`stepwise_backward`)."""
from __future__ import annotations

import torch

from ..kernels import blas_order
from ..layers._neuron import NoBackwardLayer
from ..parallel import threads

# False: every training pass through autograd, here and in pycaffe's layer-by-layer passes
# (caffe_compat.net.stepwise); the explicit passes' tests compare the two
ENABLED = True


class TrainPlan:
    """The explicit forward-backward of one net (see the module doc); build with
    :func:`plan_for`."""

    def __init__(self, net, steps, explicit_layers, grad_blobs, loss_tops):
        self.net = net
        # per layer: (kind, module, bottoms, tops, written in place, loss weights, explicit,
        # bottom needs, param needs, parameter blobs)
        self.steps = steps
        self.explicit_layers = explicit_layers
        self.loss_tops = loss_tops            # (top name, float32 scalar of its weight)
        # what each pass does per layer, worked out here once: the forward's records
        # (kind, module, bottoms, tops, tops not written in place, (top index, weight) of the
        # weighted tops, the backward's record or None) and the backward's (module, bottoms,
        # tops, bottom needs, param needs, (bottom, index) of the bottoms that take a diff,
        # (parameter, index) of the parameters that do)
        self.forward_records = []
        for kind, module, bottoms, tops, in_places, weights, explicit, bottom_need, \
                param_need, blobs in steps:
            backward = None
            if explicit:
                backward = (module, bottoms, tops, bottom_need, param_need,
                            tuple((b, i) for i, (b, n) in enumerate(zip(bottoms, bottom_need))
                                  if n),
                            tuple((p, i) for i, (p, n) in enumerate(zip(blobs, param_need))
                                  if n))
            self.forward_records.append((
                kind, module, bottoms, tops,
                tuple(name for name, in_place in zip(tops, in_places) if not in_place),
                tuple((i, w) for i, w in enumerate(weights) if w), backward))
        # (blob, name, carries a diff in autograd's pass) of every blob the pass sets
        self.blob_records = [(blob, name, name in grad_blobs) for name, blob in net.blobs.items()]

    _ready_state = None
    _ready = False

    def ready(self):
        """Whether the plan applies now: autograd on, and every explicit layer's
        ``explicit_ready()``, asked again only when the kernel settings
        (:func:`kernel_state`) change; :func:`plan_for` decides again when the parameters'
        device or dtype does."""
        if not torch.is_grad_enabled():    # autograd's pass would compute no diff at all
            return False
        state = kernel_state()
        if state != self._ready_state:
            self._ready = all(module.explicit_ready() for module in self.explicit_layers)
            self._ready_state = state
        return self._ready

    def forward_backward(self):
        """One forward and backward pass; sets the blobs and ``net.loss`` as a forward does
        and every parameter's diff as autograd's backward does. Returns the total loss
        (a tensor) or None."""
        net = self.net
        threads.apply_for_net(net)          # the cores we can get, 1 for a small net
        ref = net._buffers["_ref"]          # (Module.__getattr__'s look-up, done directly)
        values, first, saved = {}, {}, []
        loss = None
        for kind, module, bottoms, tops_names, firsts, weighted, backward in \
                self.forward_records:
            if backward is not None:
                tops, state = module.explicit_forward(*[values[b] for b in bottoms])
                saved.append((backward, state))
            elif kind == "input":
                tops = tuple(torch.zeros(net._blob_shapes[name], dtype=ref.dtype,
                                         device=ref.device) for name in tops_names)
            else:
                tops = module(*[values[b] for b in bottoms])
                if isinstance(tops, torch.Tensor):
                    tops = (tops,)
                if kind == "data":
                    tops = tuple(t if t.dtype == ref.dtype and t.device == ref.device
                                 else t.to(device=ref.device, dtype=ref.dtype) for t in tops)
            values.update(zip(tops_names, tops))
            for name in firsts:
                first[name] = values[name]
            for i, w in weighted:
                t = tops[i]
                if w != 1.0:
                    term = t.sum() * w
                else:                  # the sum of a 0-d loss is the loss, bit for bit
                    term = t if t.dim() == 0 else t.sum()
                loss = term if loss is None else loss + term
        net.__dict__["loss"] = loss         # a plain attribute: no Module.__setattr__ checks
        for blob, name, carries in self.blob_records:
            blob._set(values.get(name), first.get(name), False, carries)
        diffs = dict(self.loss_tops)
        pop = diffs.pop
        for (module, bottoms, tops_names, bottom_need, param_need, bottom_targets,
             param_targets), state in reversed(saved):
            top_diffs = [pop(name, None) for name in tops_names]
            for d in top_diffs:
                if d is not None:
                    break
            else:
                continue                   # feeds no loss: autograd runs nothing here
            bottom_diffs, param_diffs = module.explicit_backward(state, top_diffs, bottom_need,
                                                                 param_need)
            for name, i in bottom_targets:
                d = bottom_diffs[i]
                if d is not None:
                    diffs[name] = d
            for p, i in param_targets:
                g = param_diffs[i]
                if g is None:
                    continue
                if p.grad is None:         # autograd's AccumulateGrad: the first diff as is
                    p.grad = g if g.is_contiguous() else g.contiguous()
                else:                      # ... later ones added in place
                    p.grad.add_(g)
        return loss


def plan_for(net):
    """The net's :class:`TrainPlan` (None where autograd must run), decided once, and again
    when the net's device, dtype or parameters (which, and which learn) change."""
    if not ENABLED:
        return None
    cache = net.__dict__.get("_train_plan_cache")
    if cache is None:
        holders = [net.layers[key] for _, key, _, _ in net._nodes if net.layers[key].blobs]
        cache = net.__dict__["_train_plan_cache"] = [holders, None, None]
    holders = cache[0]
    ref = net._buffers["_ref"]
    key = [ref.device, ref.dtype, net.keep_diffs]
    key += [(id(p), p.requires_grad, p.dtype, p.is_cpu) for m in holders
            for p in m._parameters.values()]
    if key != cache[1]:
        cache[1], cache[2] = key, _build(net)
    return cache[2]


def _build(net):
    if net.keep_diffs or net.graph.force_backward or net._ref.dtype != torch.float32 or \
            net._ref.device.type != "cpu":
        return None
    steps_in, _ = net._walk()
    requires = set()                  # blobs that require grad in autograd's pass
    readers = {}                      # (such blob, version) -> layers reading it with a diff
    version = {}                      # blob -> how many layers wrote it so far (in place)
    steps, explicit_layers = [], []
    loss_tops = []
    for index, kind, module, bottoms, _, prop, tops, in_places, weights in steps_in:
        bottom_need = tuple(b in requires and p for b, p in zip(bottoms, prop))
        param_need = tuple(p.requires_grad for p in module.blobs)
        if isinstance(module, NoBackwardLayer) and not any(param_need):
            # Accuracy and its kind: tops that carry no gradient, in autograd's pass too
            bottom_need = (False,) * len(bottoms)
        need = any(bottom_need) or any(param_need)
        explicit = False
        if need:
            if kind != "layer" or module.explicit_forward is None:
                return None           # a layer without Caffe's explicit backward
            explicit = True
            explicit_layers.append(module)
            for b, n in zip(bottoms, bottom_need):
                if n:
                    key = (b, version.get(b, 0))
                    readers[key] = readers.get(key, 0) + 1
            requires.update(tops)
        for name in tops:
            version[name] = version.get(name, 0) + 1
        for name, w in zip(tops, weights):
            if not w:
                continue
            if name in requires:
                if net._blob_shapes[name] != ():
                    return None       # a weighted blob that is not a scalar loss
                loss_tops.append((name, w))
        # the layer's parameters with the step: the plan is built again when they change
        steps.append((kind, module, bottoms, tops, in_places, weights, explicit,
                      bottom_need, param_need, tuple(module.blobs)))
    read = {name for name, _ in readers}
    if not loss_tops or any(n > 1 for n in readers.values()) or \
            any(name in read for name, _ in loss_tops):
        return None
    # the diff autograd gives a loss top weighted w: ones * w, a float32 scalar
    loss_tops = [(name, torch.ones((), dtype=net._ref.dtype) * w if w != 1.0
                  else torch.ones((), dtype=net._ref.dtype)) for name, w in loss_tops]
    if len({name for name, _ in loss_tops}) != len(loss_tops):
        return None
    return TrainPlan(net, steps, explicit_layers, frozenset(requires), loss_tops)


def kernel_state():
    """The settings a layer's ``explicit_ready()`` may depend on besides its parameters'
    device and dtype: which products training uses (:mod:`caffe_compat.kernels.blas_order`) and
    whether a trace is being recorded."""
    return (blas_order.ENABLED, blas_order.EXACT_TRAINING, blas_order.INFERENCE,
            torch.jit.is_tracing())


# ---------------------------------------------------------------------- pycaffe's passes
class ExplicitState:
    """What a layer's explicit forward left for its explicit backward in pycaffe's
    layer-by-layer passes (:class:`caffe_compat.net.stepwise.Stepwise`): its bottoms as the layer
    read them, its tops, and the layer's own saved values."""

    __slots__ = ("leaves", "tops", "state")

    def __init__(self, leaves, tops, state):
        self.leaves, self.tops, self.state = leaves, tops, state


def stepwise_backward(store, i, node, module):
    """Layer ``i``'s Backward_cpu as its explicit call in a :class:`~caffe_compat.net.stepwise.
    Stepwise` ``store``: the diffs that the store's autograd form writes, bit for bit (the
    same kernels on the same tensors): bottom diffs assigned, parameter diffs added."""
    saved = store._saved[i]
    wanted = [need and leaf.is_floating_point()
              for leaf, need in zip(saved.leaves, store.bottom_need[i])]
    params = [need and p.requires_grad for p, need in zip(module.blobs, store.param_need[i])]
    explicit_backward(module, saved, node.tops, node.bottoms, wanted, params,
                      module.nondifferentiable_tops, store.diff_of)


def explicit_backward(module, saved, tops_names, bottoms, wanted, want_params, skip, diff_of):
    """``module``'s explicit Backward_cpu after the forward that left ``saved``
    (:class:`ExplicitState`): a top takes its diff (``diff_of(name)``) where autograd's would
    require grad (not the tops in ``skip``); the ``wanted`` bottoms' diffs assigned, the
    ``want_params`` parameters' diffs added."""
    differentiable = any(wanted) or any(p.requires_grad for p in module.blobs)
    top_diffs = []
    for j, (name, t) in enumerate(zip(tops_names, saved.tops)):
        if not differentiable or j in skip:
            top_diffs.append(None)
            continue
        d = diff_of(name)
        if d.shape != t.shape:
            d = d.reshape(t.shape)
        top_diffs.append(d if d.dtype == t.dtype else d.to(t.dtype))
    bottom_diffs, param_diffs = [None] * len(wanted), [None] * len(want_params)
    if any(d is not None for d in top_diffs) and (any(wanted) or any(want_params)):
        bottom_diffs, param_diffs = module.explicit_backward(saved.state, top_diffs, wanted,
                                                             want_params)
    store_diffs([(b, g) for b, g, need in zip(bottoms, bottom_diffs, wanted) if need],
                [(p, g) for p, g, need in zip(module.blobs, param_diffs, want_params) if need],
                diff_of)


def store_diffs(bottom_grads, param_grads, diff_of):
    """A layer's backward into pycaffe's blobs: each ``(bottom name, gradient)`` of
    ``bottom_grads`` assigned to the bottom's diff (``diff_of(name)``; zeros for a gradient
    of None), each ``(parameter, gradient)`` of ``param_grads`` added to its diff."""
    with torch.no_grad():
        for b, g in bottom_grads:
            d = diff_of(b)
            if g is None:
                d.zero_()
            else:
                d.copy_(g if g.shape == d.shape else g.reshape(d.shape))
        for p, g in param_grads:
            if g is None:
                continue
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            p.grad.add_(g)
