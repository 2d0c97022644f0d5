"""Caffe's blob-by-blob execution of a :class:`~caffe_compat.net.core.Net`: persistent blobs,
``ForwardFromTo`` / ``BackwardFromTo`` over any layer range (pycaffe's ``caffe.Net``).

A :class:`Stepwise` keeps one ``data`` and one ``diff`` tensor per named blob, as Caffe's
Blobs do, so arrays taken from them alias the net's memory: a value written into an input
blob is what the next forward reads, a layer's output stays readable (and writable) until
that layer runs again, and ``backward`` reads the diffs found in the top blobs (the loss tops
hold their loss weight, as Caffe's SetLossWeights leaves them) and writes the bottom diffs,
layer by layer:

- bottom diffs are assigned (Caffe's layers overwrite them), parameter diffs accumulate
  (the param's ``grad``; ``clear_param_diffs`` zeroes them in place);
- which layers and bottoms take part in backward follows Caffe's Net::Init: a layer needs
  backward when a bottom does or a parameter has ``lr_mult != 0``; layers whose tops feed no
  loss are skipped; ``propagate_down: false`` stops a bottom; ``force_backward`` runs every
  layer and every bottom its layer allows.

Each layer's backward is autograd over that layer alone (its forward graph kept while a
backward may follow). A blob keeps its storage across passes once an outside view of it was
taken (``export``); other blobs adopt the layer's fresh output. The tops of a Split share its
bottom's data, as in Caffe.

A pass in which no layer keeps a graph (a deploy net) runs the forms of the engine's
inference forward (:mod:`caffe_compat.inference.fast_layers`; nothing folded, every blob
kept), so its outputs are the engine's bit for bit; a large batch of per-item layers runs in
chunks of the engine's ``inference_chunk`` items, the same bits as one pass
(tests/pycaffe/test_chunked_forward.py). Its blobs are joined on first read, C-contiguous as
pycaffe's arrays are."""
from __future__ import annotations

import sys

import torch

from ..inference import fast_inference, fast_layers
from ..parallel import threads
from ..diagnostics.glog import SolverLog
from . import debug_info, fast_step, train_plan, vjp
from .backward_needs import backward_needs
from .blob_memory import reshaped_memory
from .blob_view import BlobView
from .reshape import explain, layer_top_shapes
from ..errors import NetError


def _numpy(t, what):
    if t.device.type != "cpu":
        raise NotImplementedError(f"{what}: numpy views of blobs on {t.device} are not "
                                  "supported (CPU only); read them as tensors through "
                                  "caffe_compat.Net")
    return t.numpy()


def _joined_shape(parts):
    """The shape of a blob made of these chunks (stacked along the item axis)."""
    return (sum(int(p.shape[0]) for p in parts),) + tuple(parts[0].shape[1:])


def _join(parts):
    """The chunks of a blob as one C-contiguous tensor (chunks may be channels-last)."""
    if len(parts) == 1:
        return parts[0].contiguous()
    out = torch.empty(_joined_shape(parts), dtype=parts[0].dtype, device=parts[0].device)
    _join_into(parts, out)
    return out


def _join_into(parts, out):
    """Copy the chunks of a blob, in order, into ``out`` (any layout to ``out``'s layout)."""
    row = 0
    for p in parts:
        n = int(p.shape[0])
        out[row:row + n].copy_(p)
        row += n


class _BlobData(dict):
    """Blob name -> data tensor. A blob that a chunked inference pass computed is held as its
    chunks and joined into one tensor on its first read, so a pass whose intermediate blobs
    nobody reads costs no copies."""

    def __init__(self):
        super().__init__()
        self.parts = {}

    def __getitem__(self, name):
        parts = self.parts.pop(name, None)
        if parts is not None:
            dict.__setitem__(self, name, _join(parts))
        return dict.__getitem__(self, name)

    def __setitem__(self, name, value):
        self.parts.pop(name, None)
        dict.__setitem__(self, name, value)


class Stepwise:
    """Persistent blobs and layer-range passes over ``net`` (see the module doc)."""

    def __init__(self, net):
        self.net = net
        self.nodes = net._nodes
        self.index = {node.name: i for i, (node, _, _, _) in enumerate(self.nodes)}
        ref = net._ref
        self.data = _BlobData()
        self.diff = {}
        self._memory = {}            # the blobs' memory as Caffe's Blob::Reshape keeps it
        self.exported = set()        # blobs whose storage was handed out
        self.memory = None           # host and device copies of a net on a device
        # pycaffe's Net hooks ({"before_forward": [callables], ...}): see :meth:`forward`
        self.hooks = {}
        # Caffe's debug_info_ flag: the log that each pass's per-blob lines go to, or None
        # (caffe_compat.net.debug_info); a solver sets it, or the net's ``debug_info: true``
        # (glog lines on stderr, as pycaffe writes them)
        self.debug_log = SolverLog(sys.stderr) if net.graph.net_param.debug_info else None
        self.loss_weights = {}
        for node, key, weights, _ in self.nodes:
            for name, w in zip(node.tops, weights):
                if w:
                    self.loss_weights[name] = self.loss_weights.get(name, 0.0) + w
        for name in net.graph.blob_names:
            self.data[name] = torch.zeros(net._blob_shapes[name], dtype=ref.dtype,
                                          device=ref.device)
        self.fixed = {}              # layer index -> top indices a forward leaves as they are
        for i, (node, key, _, _) in enumerate(self.nodes):
            fixed_tops = getattr(net.layers[key], "fixed_tops", None)
            if fixed_tops is None:
                continue
            fixed = fixed_tops()
            self.fixed[i] = set(fixed)
            for j, values in fixed.items():
                self.data[node.tops[j]] = values.to(dtype=ref.dtype, device=ref.device).clone()
        # per layer, decided once: (module, runs on blobs, loss weights that are not zero)
        self.steps = [(net.layers[key], bool(getattr(net.layers[key], "runs_on_blobs", False)),
                       any(weights)) for _, key, weights, _ in self.nodes]
        self._saved = {}             # layer index -> (leaves, tops) of the last forward
        self._plan_forward = False   # the last forward was the straight-line one (fast_step)
        # the engine's inference forms, built on first use (see _substitutes)
        self._fused = {}             # conv index -> FoldedConv with the ReLU after it
        self._layout = {}            # layer index -> channels-last form, or None
        self._analyse_backward()

    # ------------------------------------------------------------------ Caffe's Net::Init
    def _analyse_backward(self):
        net = self.net
        modules = [net.layers[key] for _, key, _, _ in self.nodes]
        self.layer_need, self.bottom_need, self.param_need = backward_needs(
            [node for node, _, _, _ in self.nodes], [len(m.blobs) for m in modules],
            [weights for _, _, weights, _ in self.nodes], net.graph.force_backward,
            lambda i, j: modules[i].allow_force_backward(j))

    # ------------------------------------------------------------------ blobs
    def blob_data(self, name):
        """The data of blob ``name`` as a numpy array aliasing its memory (:class:`BlobView`);
        on a device, its host copy (:mod:`caffe_compat.net.synced_memory`)."""
        if self.memory is not None:
            return self.memory.host_data(name)
        return _numpy(self.export(name), f"blob '{name}'")

    def blob_diff(self, name):
        """The diff of blob ``name`` as a numpy array aliasing its memory."""
        if self.memory is not None:
            return self.memory.host_diff(name)
        self.export(name)
        return _numpy(self.diff_of(name), f"blob '{name}'")

    def blob_shape(self, name):
        return tuple(self.data[name].shape)

    def export(self, name):
        """The data tensor of blob ``name``, which keeps its storage from now on."""
        t = self.data[name]
        if name not in self.exported and not t.is_contiguous():
            t = self.data[name] = t.contiguous()   # a channels-last inference result
        self.exported.add(name)
        return t

    def diff_of(self, name):
        """The diff tensor of blob ``name`` (zeros, or the loss weight for loss tops; after a
        reshape, what Caffe's Blob::Reshape keeps:
        :func:`~caffe_compat.net.blob_memory.reshaped_memory`)."""
        data = self.data[name]
        d = self.diff.get(name)
        if d is not None and d.shape != data.shape and d.device == data.device \
                and d.dtype == data.dtype:
            d = self.diff[name] = reshaped_memory(self._memory, ("diff", name), d,
                                                  tuple(data.shape), d.new_zeros)
        if d is None or d.shape != data.shape or d.device != data.device:
            d = torch.zeros_like(data)
            if name in self.loss_weights:
                d.fill_(self.loss_weights[name])
            self.diff[name] = d
        return d

    def reshape_blob(self, name, shape):
        """Blob ``name`` at ``shape``, as Caffe's Blob::Reshape leaves it (the values kept
        while the count fits the blob's capacity, zeros beyond:
        :func:`~caffe_compat.net.blob_memory.reshaped_memory`; the diff follows at its next use);
        views taken before no longer alias it."""
        shape = tuple(int(d) for d in shape)
        old = self.data[name]
        if tuple(old.shape) != shape:
            if self.memory is not None:          # Python's writes reach the device copies
                self.memory.before_reshape(name)
            self.data[name] = reshaped_memory(self._memory, ("data", name), old, shape,
                                              old.new_zeros)
            if self.memory is not None:
                self.memory.reshape(name)

    def _put(self, name, t, copy):
        if name in self.data.parts:          # chunks of an earlier pass, never read
            self.data[name] = t.clone() if copy else t
            return
        buf = self.data[name]
        if t is buf:
            return
        if (copy or name in self.exported) and buf.shape == t.shape and \
                buf.dtype == t.dtype and buf.device == t.device:
            if buf.data_ptr() != t.data_ptr():
                buf.copy_(t)
            return
        self.data[name] = t.clone() if copy else t
        self.exported.discard(name)
        # the blob adopts the layer's output: the memory a reshape kept goes (its first values
        # are this output's; a reshape takes them from the blob)
        self._memory.pop(("data", name), None)

    # ------------------------------------------------------------------ passes
    def layer_range(self, start, end, default_start, default_end):
        """(start, end) layer indices from names, indices or None."""
        def index(v, default):
            if v is None:
                return default
            if isinstance(v, str):
                if v not in self.index:
                    raise NetError(f"net '{self.net.name}' has no layer '{v}'")
                return self.index[v]
            return int(v)
        return index(start, default_start), index(end, default_end)

    def forward(self, start=0, end=None):
        """Run layers ``start`` to ``end`` (inclusive); returns the total loss of the layers
        run (float), as Caffe's ForwardFromTo. A shape error names its layer
        (:func:`caffe_compat.net.reshape.explain`, from the blobs' shapes as they are)."""
        end = len(self.nodes) - 1 if end is None else end
        try:
            # host and device copies brought up to date by the memory's passes
            run = self._forward if self.memory is None else self.memory.forward
            if self.hooks or self.debug_log is not None:
                return self._hooked(range(start, end + 1), run, "forward")
            return run(start, end)
        except Exception as e:
            shapes = {name: tuple(self.data[name].shape) for name in self.data}
            raise explain(e, self.nodes, self.net.layers, shapes, self.net.name)

    def _forward(self, start, end):
        threads.apply_for_net(self.net)     # the cores we can get, 1 for a small net
        if start < 0 or end >= len(self.nodes):
            raise NetError(f"layer range {start}..{end} is outside 0..{len(self.nodes) - 1}")
        grad = torch.is_grad_enabled()
        plan = fast_step.plan_for(self) if start == 0 and end == len(self.nodes) - 1 else None
        if plan is not None:                         # the same steps, decided once
            if not grad or not any(self.layer_need):
                with torch.no_grad():
                    loss = plan.inference(self)
                if loss is not None:
                    return loss
            elif plan.ready():
                return plan.forward(self)
        self._plan_forward = False
        # no layer keeps an autograd graph in this pass (a deploy net, or grad off): layers
        # that Caffe runs in place on a fresh blob do so here too (ReLU writes its bottom)
        inplace = not grad or not any(self.layer_need)
        chunking = self._chunking(start, end) if inplace else None
        if chunking:
            return self._forward_chunked(start, end, *chunking)
        loss = 0.0
        net = self.net
        subs, fused = ({}, {})
        if inplace:
            with torch.no_grad():
                subs, fused = self._substitutes(start, end)
        for i in range(start, end + 1):
            node, key, weights, _ = self.nodes[i]
            module, runs_on_blobs, has_loss = self.steps[i]
            if node.type == "Input":
                continue
            if i - 1 in fused:                    # the ReLU ran inside the convolution
                self._saved.pop(i, None)
                continue
            if runs_on_blobs:
                # a Python layer works on the net's own blobs, as in Caffe
                module.forward_blobs([BlobView(self, b) for b in node.bottoms],
                                     [BlobView(self, t) for t in node.tops])
                if self.memory is not None:    # it wrote the host copies
                    self.memory.data_current(node.tops)
                for name, w in zip(node.tops, weights):
                    if w:
                        loss += float(w) * float(self.data[name].sum())
                continue
            keep_graph = grad and self.layer_need[i]
            bottoms = [self.data[b] for b in node.bottoms]
            if keep_graph:      # (a copy where the layer overwrites it: keep its input)
                leaves = [t.detach().clone() if b in node.tops or not t.is_floating_point()
                          else t.detach() for b, t in zip(node.bottoms, bottoms)]
            if keep_graph and train_plan.ENABLED and module.explicit_forward is not None \
                    and module.explicit_ready():
                # Caffe's Forward_cpu, its Backward_cpu to follow without autograd: the same
                # float32 operations as the graph's (caffe_compat.net.train_plan)
                tops, state = module.explicit_forward(*leaves)
                self._saved[i] = train_plan.ExplicitState(leaves, tops, state)
            elif keep_graph:
                for leaf, need in zip(leaves, self.bottom_need[i]):
                    if need and leaf.is_floating_point():
                        leaf.requires_grad_(True)
                with torch.enable_grad():
                    tops = module(*leaves)
                tops = (tops,) if isinstance(tops, torch.Tensor) else tuple(tops)
                self._saved[i] = (leaves, tops)
            else:
                self._saved.pop(i, None)
                with torch.no_grad():
                    if i in subs:
                        tops = subs[i](*bottoms)
                    elif inplace and i in net._exclusive_inplace:
                        tops = module.forward_inplace(bottoms[0])
                    else:
                        tops = module(*bottoms)
                tops = (tops,) if isinstance(tops, torch.Tensor) else tuple(tops)
            if module.is_data:
                tops = tuple(t.to(device=net._ref.device, dtype=net._ref.dtype) for t in tops)
            if node.type == "Split":       # Caffe's SplitLayer shares its bottom's data
                for name in node.tops:
                    self.data[name] = self.data[node.bottoms[0]]
                continue
            fixed = self.fixed.get(i, ())
            for j, (name, t, w) in enumerate(zip(node.tops, tops, weights)):
                if j in fixed:           # the blob holds its set-up values, or the user's
                    t = self.data[name]
                else:
                    self._put(name, t.detach(), copy=keep_graph)
                if w:   # a 0-d loss is its own sum (a -0.0 becomes 0.0 in ``loss`` either way)
                    loss += float(w) * float(t.detach() if t.dim() == 0 else t.detach().sum())
        return loss

    def _chunking(self, start, end):
        """``(items per chunk, items)`` for an inference pass over layers ``start`` to ``end``
        in chunks (the engine's ``inference_chunk``), or None for one pass: only for per-item
        layers that read no data source, hold no fixed or loss tops and share no blob (no
        Split, no Python layer), fed by blobs of one batch size larger than a chunk."""
        net = self.net
        chunk = net.inference_chunk
        if not chunk or not net._per_item:
            return None
        made, sizes = set(), set()
        for i in range(start, end + 1):
            node, key, weights, _ = self.nodes[i]
            if node.type in ("Input", "Silence"):      # Silence: no tops, nothing to run
                continue
            module = net.layers[key]
            if (module.is_data or node.type == "Split" or i in self.fixed or any(weights)
                    or getattr(module, "runs_on_blobs", False)):
                return None
            for b in node.bottoms:
                if b not in made:
                    shape = self.data[b].shape
                    sizes.add(int(shape[0]) if len(shape) else -1)
            made.update(node.tops)
        if len(sizes) != 1 or next(iter(sizes)) <= chunk:
            return None
        return int(chunk), next(iter(sizes))

    def _forward_chunked(self, start, end, chunk, n):
        """Layers ``start`` to ``end`` run item chunk by item chunk (the same arithmetic per
        item as one pass), so each chunk's intermediate blobs are still in cache when the next
        layer reads them. Blobs handed out as views get the joined result in their storage;
        the others keep their chunks until read (:class:`_BlobData`)."""
        net = self.net
        parts = {}
        for i in range(start, end + 1):
            self._saved.pop(i, None)
        with torch.no_grad():
            subs, fused = self._substitutes(start, end)
            for c0 in range(0, n, chunk):
                rows = slice(c0, min(n, c0 + chunk))
                local = {}
                for i in range(start, end + 1):
                    node, key, _, _ = self.nodes[i]
                    if node.type in ("Input", "Silence"):
                        continue
                    if i - 1 in fused:            # the ReLU ran inside the convolution
                        continue
                    bottoms = [local[b] if b in local else self.data[b][rows]
                               for b in node.bottoms]
                    if i in subs:
                        tops = subs[i](*bottoms)
                    elif i in net._exclusive_inplace:
                        tops = net.layers[key].forward_inplace(bottoms[0])
                    else:
                        tops = net.layers[key](*bottoms)
                    tops = (tops,) if isinstance(tops, torch.Tensor) else tuple(tops)
                    for name, t in zip(node.tops, tops):
                        local[name] = t
                for name, t in local.items():
                    parts.setdefault(name, []).append(t)
        for name, ps in parts.items():
            buf = self.data[name] if name in self.exported else None
            if buf is not None and tuple(buf.shape) == _joined_shape(ps) and buf.dtype == ps[0].dtype \
                    and buf.device == ps[0].device:
                if ps[0].untyped_storage().data_ptr() != buf.untyped_storage().data_ptr():
                    _join_into(ps, buf)          # else a layer wrote the blob in place
            else:
                self.exported.discard(name)
                self.data.parts[name] = ps
        return 0.0

    def _substitutes(self, start, end):
        """``({layer index: callable run in its place}, {indices of fused convolutions})`` for
        an inference pass over ``start``..``end``: the engine's fast-path forms of the layers,
        with Caffe's blobs (nothing folded, every blob kept). A convolution that Caffe follows
        by ReLU on the same blob runs with it as one oneDNN call (the engine's fast path,
        without folding anything: the same float32 weights, and ``max(y, 0)`` applied to the
        same sums); the Pooling, LRN and Concat layers take their channels-last forms
        (:mod:`caffe_compat.inference.fast_layers`, the forms the engine's inference forward
        runs), so that the blobs between the fused convolutions keep oneDNN's layout (a blob
        read through pycaffe is made C-contiguous first)."""
        net = self.net
        subs, fused = {}, {}
        if fast_inference.applies(net):
            for i in range(start, end):
                node, key, _, _ = self.nodes[i]
                nxt, nkey, nweights, _ = self.nodes[i + 1]
                module = net.layers[key]
                if not (fast_inference._conv_ok(module, node) and nxt.type == "ReLU"
                        and i + 1 in net._exclusive_inplace and nxt.bottoms == node.tops
                        and net.layers[nkey].slope == 0.0 and not any(nweights)):
                    continue
                if i not in self._fused:
                    self._fused[i] = fast_inference.FoldedConv(
                        module, [net.layers[nkey]],
                        fast_inference.ROWS[fast_inference.row_name(net)])
                fused[i] = self._fused[i]
        if fast_inference.layout_layers(net):
            for i in range(start, end + 1):
                node, key, _, _ = self.nodes[i]
                if node.type not in fast_layers.REPLACERS:
                    continue
                if i not in self._layout:
                    self._layout[i] = fast_layers.replacement(net.layers[key], node)
                if self._layout[i] is not None:
                    subs[i] = self._layout[i]
        subs.update(fused)
        return subs, fused

    def backward(self, start=None, end=0):
        """Back-propagate layers ``start`` (default: the last) down to ``end`` (inclusive),
        reading top diffs and writing bottom and parameter diffs (Caffe's BackwardFromTo)."""
        start = len(self.nodes) - 1 if start is None else start
        # host and device copies brought up to date by the memory's passes
        run = self._backward if self.memory is None else self.memory.backward
        if self.hooks or self.debug_log is not None:
            self._hooked(range(start, end - 1, -1), run, "backward")
            return None
        return run(start, end)

    def forward_backward(self):
        """Caffe's Net::ForwardBackward: a whole forward, then a whole backward (Net::Backward,
        which with debug_info ends with the parameters' norms); the forward's loss."""
        loss = self.forward()
        self.backward()
        if self.debug_log is not None:
            debug_info.log_param_norms(self)
        return loss

    def _hooked(self, layers, run, direction):
        """Caffe's ForwardFromTo / BackwardFromTo with the net's callbacks (pycaffe's
        ``before_forward``, ``after_forward``, ``before_backward``, ``after_backward``): each
        layer ``i`` of ``layers`` runs alone (``run(i, i)``), between ``callback(i)`` of every
        callback added before it and after it, in the order they were added; the host views
        are current in the callbacks; with ``debug_log`` set, each layer's debug_info lines
        follow its pass (:mod:`caffe_compat.net.debug_info`). The total loss of the layers
        run."""
        before = self.hooks.get("before_" + direction, ())
        after = self.hooks.get("after_" + direction, ())
        loss = 0.0
        for i in layers:
            for callback in before:
                callback(i)
            loss += run(i, i) or 0.0
            if self.debug_log is not None:
                if direction == "forward":
                    debug_info.log_forward(self, i)
                elif self.layer_need[i]:
                    debug_info.log_backward(self, i)
            for callback in after:
                callback(i)
        return loss

    def _backward(self, start, end):
        if self._plan_forward and start == len(self.nodes) - 1 and end == 0:
            plan = fast_step.plan_for(self)
            if plan is not None:
                return plan.backward(self)                   # after the plan's forward
        threads.apply_for_net(self.net)
        for i in range(start, end - 1, -1):
            if not self.layer_need[i]:
                continue
            node = self.nodes[i][0]
            if not node.bottoms and not any(self.param_need[i]):
                continue
            module, runs_on_blobs, _ = self.steps[i]
            if runs_on_blobs:
                for b in node.bottoms:
                    self.diff_of(b)
                module.backward_blobs([BlobView(self, t) for t in node.tops],
                                      list(self.bottom_need[i]),
                                      [BlobView(self, b) for b in node.bottoms])
                continue
            if i not in self._saved:
                self._replay(i)
            if isinstance(self._saved[i], train_plan.ExplicitState):
                train_plan.stepwise_backward(self, i, node, module)
                continue
            leaves, tops = self._saved[i]
            blob = self.net._blob_readers.get(i)
            if blob is not None:            # Caffe's backward reads the blob as it is now
                if self.bottom_need[i][0]:
                    train_plan.store_diffs([(blob, module.in_place_backward(
                        leaves[0].detach(), self.data[blob], self.diff_of(blob)))], [],
                        self.diff_of)
                continue
            outs, grads = [], []
            for name, t in zip(node.tops, tops):
                if t.requires_grad:
                    outs.append(t)
                    grads.append(self.diff_of(name).reshape(t.shape).to(t.dtype))
            params = [p for p, need in zip(module.blobs, self.param_need[i])
                      if need and p.requires_grad]
            wanted = [leaf for leaf, need in zip(leaves, self.bottom_need[i])
                      if need and leaf.requires_grad]
            results = [None] * (len(wanted) + len(params))
            if outs and (wanted or params):
                results = vjp.grad(outs, wanted + params, grads, retain_graph=True,
                                   allow_unused=True)
            bottoms = [b for b, leaf, need in zip(node.bottoms, leaves, self.bottom_need[i])
                       if need and leaf.requires_grad]     # (the order of ``wanted``)
            train_plan.store_diffs(zip(bottoms, results), zip(params, results[len(wanted):]),
                                   self.diff_of)

    def _replay(self, i):
        """Rebuild layer ``i``'s graph from the blobs as they are (its forward ran elsewhere)."""
        with torch.enable_grad():
            node = self.nodes[i][0]
            saved_tops = {t: (self.data[t], self.data[t].clone()) for t in node.tops}
            self.forward(i, i)
            for name, (t, value) in saved_tops.items():  # the replay changes no output
                self.data[name] = t.copy_(value)
        if i not in self._saved:
            raise NetError(f"layer '{node.name}': no forward graph to back-propagate")

    def clear_param_diffs(self):
        """Zero every parameter diff in place (Caffe's ClearParamDiffs)."""
        with torch.no_grad():
            for e in self.net.learnable:
                if e.param.grad is not None:
                    e.param.grad.zero_()
        if self.memory is not None:
            self.memory.clear_param_diffs()

    def reshape(self):
        """Propagate shapes from the input blobs through every layer (Caffe's Net::Reshape):
        blobs whose shape changes get new storage."""
        net = self.net
        for node, key, _, _ in self.nodes:
            if node.type == "Input" or not node.bottoms:
                continue
            shapes = [tuple(self.data[b].shape) for b in node.bottoms]
            for name, shape in zip(node.tops, layer_top_shapes(node, net.layers[key], shapes)):
                self.reshape_blob(name, shape)
