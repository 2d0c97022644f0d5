"""``Net``: a Caffe net definition (and optionally its weights) as one ``torch.nn.Module``.

It mirrors pycaffe's ``caffe.Net``: ``forward(**inputs)`` returns the output blobs,
``blobs[name].data`` / ``.diff`` hold every named blob after the last forward/backward, and
``params[layer][i]`` are the parameter blobs in Caffe's order. The layer list, blob names, split
layers, in-place reuse and loss weights are Caffe's (see :mod:`caffe_compat.graph`).
"""
from __future__ import annotations

import collections
import os
import re

import numpy as np
import torch
from torch import nn

from . import fillers
from .data.caffe_random import CaffeRandom
from .errors import CaffeCompatError, NetError, WeightsError
from .graph import build_graph, phase_name
from .io import caffemodel as caffemodel_io
from .io import prototxt as prototxt_io
from .layers import base as _layer_base
from .layers import layer_class
from .proto import caffe_pb2


class Blob:
    """A named blob after the last forward: ``data`` (last in-place version) and ``diff``.

    As in Caffe, an in-place chain shares one blob: ``data`` is the output of the last layer
    that wrote it, ``diff`` the gradient with respect to the first producer's output.
    """

    __slots__ = ("name", "shape", "_data", "_first", "_kept")

    def __init__(self, name, shape):
        self.name = name
        self.shape = tuple(shape)
        self._data = None
        self._first = None
        self._kept = False

    def _set(self, data, first, kept):
        self._data, self._first, self._kept = data, first, kept
        if kept and first is not None and first.requires_grad:
            first.retain_grad()
        if isinstance(data, list):
            self.shape = (sum(int(t.shape[0]) for t in data),) + tuple(data[0].shape[1:])
        elif data is not None:
            self.shape = tuple(data.shape)

    @property
    def data(self):
        if self._data is None:
            return torch.zeros(self.shape)
        if isinstance(self._data, list):  # a chunked forward: joined on first access
            self._data = torch.cat(self._data) if len(self._data) > 1 else self._data[0]
        return self._data

    @property
    def diff(self):
        t = self._first
        if t is not None and t.requires_grad and not t.is_leaf and not self._kept:
            raise NetError(f"blob '{self.name}': the diffs of computed blobs are kept only by a "
                           "net built with keep_diffs=True")
        if t is None or t.grad is None:
            ref = self._data if self._data is not None else torch.zeros(self.shape)
            return torch.zeros_like(ref)
        return t.grad

    @property
    def count(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self):
        return f"Blob({self.name!r}, shape={self.shape})"


class ParamSpecEntry:
    """A learnable parameter with Caffe's per-parameter settings (owner layer and index)."""

    __slots__ = ("param", "layer", "index", "lr_mult", "decay_mult", "display_name")

    def __init__(self, param, layer, index, lr_mult, decay_mult, display_name):
        self.param = param
        self.layer = layer
        self.index = index
        self.lr_mult = lr_mult
        self.decay_mult = decay_mult
        self.display_name = display_name

    def __repr__(self):
        return (f"ParamSpecEntry({self.layer}/{self.index}, lr_mult={self.lr_mult}, "
                f"decay_mult={self.decay_mult})")


# ModuleDict keys must not shadow its attributes: a layer named "type", "eval" or "to"
_RESERVED_KEYS = frozenset(dir(nn.ModuleDict()))


def _module_key(name, taken):
    key = re.sub(r"[^0-9A-Za-z_]", "_", name) or "_"
    if key[0].isdigit():
        key = "_" + key
    base, k = key, 1
    while key in taken or key in _RESERVED_KEYS:
        k += 1
        key = f"{base}_{k}"
    taken.add(key)
    return key


def load_net_param(model):
    """A NetParameter (upgraded) from a path, a prototxt string or a NetParameter."""
    if isinstance(model, caffe_pb2.NetParameter):
        out = caffe_pb2.NetParameter()
        out.CopyFrom(model)
        from .io.upgrade import upgrade_net
        return upgrade_net(out)
    if isinstance(model, (str, os.PathLike)) and (isinstance(model, os.PathLike)
                                                  or "\n" not in model and "{" not in model):
        return prototxt_io.read_net(os.fspath(model))
    return prototxt_io.parse_net(str(model), filename="<string>")


class Net(nn.Module):
    """A Caffe net as a torch module.

    ``model``: prototxt path, prototxt text or NetParameter. ``weights``: caffemodel path(s) copied
    by layer name (Caffe's CopyTrainedLayersFrom). ``phase``: "train" or "test". ``level`` and
    ``stages`` complete the NetState. ``seed`` seeds the fillers and, as Caffe::set_random_seed, the
    crops, mirrors and shuffles of the data layers. ``data_sources`` maps a data
    layer name (or the original ``source`` string) to a replacement source path.
    ``keep_diffs`` keeps the diff of every computed blob after ``backward`` (costs memory);
    without it only inputs and parameters have gradients and ``blobs[name].diff`` of a computed
    blob raises.
    """

    def __init__(self, model, weights=None, phase="test", *, level=None, stages=None,
                 dtype=torch.float32, seed=None, data_sources=None, keep_diffs=False):
        super().__init__()
        net_param = load_net_param(model)
        self.source = os.fspath(model) if isinstance(model, (str, os.PathLike)) and \
            "\n" not in str(model) else "<net>"
        self.graph = build_graph(net_param, phase, level, stages)
        self.phase = phase_name(self.graph.phase)
        self.name = self.graph.name
        self.keep_diffs = keep_diffs
        self.data_sources = dict(data_sources or {})
        self.layers = nn.ModuleDict()
        self._nodes = []              # (node, module key, loss weights, propagate_down)
        self._layer_keys = {}
        self._blob_shapes = collections.OrderedDict()
        self.register_buffer("_ref", torch.empty(0, dtype=dtype), persistent=False)
        generator = torch.Generator()
        generator.manual_seed(int(seed) if seed is not None else torch.initial_seed())
        # Caffe's random stream after Caffe::set_random_seed(seed): data layers draw their
        # seeds from it in layer order (caffe_compat.data.caffe_random)
        self.caffe_rng = CaffeRandom(seed)
        taken = set()
        for node in self.graph.layers:
            self._build_layer(node, dtype, taken, generator)
        self._share_and_collect_params()
        self.blobs = collections.OrderedDict(
            (n, Blob(n, self._blob_shapes[n])) for n in self.graph.blob_names)
        self._per_item = all(self.layers[key].per_item() for _, key, _, _ in self._nodes) \
            and not any(self.layers[key].is_data for _, key, _, _ in self._nodes)
        self._exclusive_inplace = self._find_exclusive_inplace()
        self._last_use = {}          # blob -> index of the last node reading it
        for node, _, _, _ in self._nodes:
            for b in node.bottoms:
                self._last_use[b] = node.index
        # items per chunk of a no-grad forward (see forward); 0 or None runs one pass
        self.inference_chunk = 8
        self.loss = None
        if weights:
            for w in ([weights] if isinstance(weights, (str, os.PathLike)) else weights):
                self.copy_from(w)

    # ------------------------------------------------------------------ construction
    def _build_layer(self, node, dtype, taken, generator):
        lp = node.param
        cls = layer_class(lp.type, lp.name)
        if cls.is_loss and not node.tops:   # Caffe's AutoTopBlobs: an anonymous loss top
            node.tops.append("(automatic)")
        nb, nt = len(node.bottoms), len(node.tops)
        for what, n, exact, lo, hi in (("bottom", nb, cls.exact_bottoms, cls.min_bottoms,
                                        cls.max_bottoms),
                                       ("top", nt, cls.exact_tops, cls.min_tops, cls.max_tops)):
            if exact is not None and n != exact:
                raise NetError(f"layer '{lp.name}' (type {lp.type}) takes exactly {exact} {what} "
                               f"blob(s), got {n}")
            if lo is not None and n < lo:
                raise NetError(f"layer '{lp.name}' (type {lp.type}) takes at least {lo} {what} "
                               f"blob(s), got {n}")
            if hi is not None and n > hi:
                raise NetError(f"layer '{lp.name}' (type {lp.type}) takes at most {hi} {what} "
                               f"blob(s), got {n}")
        bottom_shapes = [self._blob_shapes[b] for b in node.bottoms]
        try:
            if getattr(cls, "is_data", False):
                extra = {"caffe_rng": self.caffe_rng} if getattr(cls, "uses_caffe_rng", False) \
                    else {}
                module = cls(lp, bottom_shapes, self.phase, sources=self.data_sources, **extra)
            else:
                module = cls(lp, bottom_shapes, self.phase)
        except CaffeCompatError:
            raise
        except Exception as e:  # a layer's own checks raise NetError; anything else is wrapped
            raise NetError(f"layer '{lp.name}' (type {lp.type}): cannot be set up for bottom "
                           f"shapes {bottom_shapes}: {e}") from e
        module.to(dtype)
        for p, fp in zip(module.blobs, module.filler_params()):
            if fp is not None:
                fillers.fill(p.data, fp, generator, where=f"layer '{lp.name}'")
        try:
            top_shapes = module.top_shapes(bottom_shapes)
        except CaffeCompatError:
            raise
        except Exception as e:
            raise NetError(f"layer '{lp.name}' (type {lp.type}): bottom shapes {bottom_shapes} "
                           f"are not valid for this layer: {e}") from e
        if len(top_shapes) != nt:
            raise NetError(f"layer '{lp.name}' (type {lp.type}) produces {len(top_shapes)} "
                           f"top(s) but {nt} are named")
        for name, shape in zip(node.tops, top_shapes):
            if np.prod(shape, dtype=object) > _layer_base.MAX_BLOB_COUNT:
                raise NetError(f"layer '{lp.name}' (type {lp.type}): top '{name}' of shape "
                               f"{tuple(shape)} has more than {_layer_base.MAX_BLOB_COUNT} "
                               "elements, Caffe's limit per blob")
            self._blob_shapes[name] = tuple(shape)
        if module.is_loss and not len(lp.loss_weight):
            # Caffe's LossLayer::LayerSetUp adds loss_weight 1 to the layer's own parameter
            # (Net::ToProto writes it); SetLossWeights then wants one weight per top.
            if nt != 1:
                raise NetError(f"layer '{lp.name}' (type {lp.type}): a loss layer with {nt} "
                               "tops needs loss_weight given once per top (Caffe adds a single "
                               "default loss_weight 1 and then refuses the layer)")
            lp.loss_weight.append(1.0)
        if len(lp.loss_weight):
            if len(lp.loss_weight) != nt:
                raise NetError(f"layer '{lp.name}': loss_weight must be unspecified or given once "
                               f"per top blob ({nt}), got {len(lp.loss_weight)}")
            weights = [float(w) for w in lp.loss_weight]
        else:
            weights = [1.0 if (module.is_loss and j == 0) else 0.0 for j in range(nt)]
        key = _module_key(lp.name, taken)
        self.layers[key] = module
        self._layer_keys.setdefault(lp.name, key)
        prop = list(lp.propagate_down) if len(lp.propagate_down) else [True] * nb
        self._nodes.append((node, key, weights, prop))

    # layer types whose outputs are always new tensors (never views of a bottom)
    _FRESH_OUTPUT = frozenset({"Convolution", "Deconvolution", "InnerProduct", "Pooling",
                               "Eltwise", "Concat", "LRN", "MVN", "Softmax", "BatchNorm"})

    def _find_exclusive_inplace(self):
        """Layers that may run in place without autograd: in place in Caffe, with a bottom
        that a fresh-output layer made and that nothing else holds (splits give each consumer
        its own blob, so a blob with one consumer is held only by the chain writing it)."""
        out, origin = set(), {}
        for node, key, _, _ in self._nodes:
            module = self.layers[key]
            for j, top in enumerate(node.tops):
                if not (j < len(node.bottoms) and node.bottoms[j] == top):
                    origin[top] = node.type
            if (module.forward_inplace is not None and len(node.bottoms) == 1
                    and node.tops == node.bottoms
                    and origin.get(node.bottoms[0]) in self._FRESH_OUTPUT):
                out.add(node.index)
        return out

    def _share_and_collect_params(self):
        """Caffe's AppendParam/ShareWeights: named ParamSpecs share one blob; lr/decay mults."""
        owners = {}
        explicit = {}      # id(entry) -> the mults its specs set explicitly (has_params_lr_...)
        self.learnable = []
        self._param_entries = {}
        for node, key, _, _ in self._nodes:
            module = self.layers[key]
            specs = node.param.param
            if len(specs) > len(module.blobs):
                raise NetError(f"layer '{node.name}': {len(specs)} param specs given but the "
                               f"layer has only {len(module.blobs)} parameter blob(s)")
            for i, p in enumerate(module.blobs):
                spec = specs[i] if i < len(specs) else caffe_pb2.ParamSpec()
                if spec.name and spec.name in owners:
                    owner = owners[spec.name]
                    if spec.share_mode == caffe_pb2.ParamSpec.PERMISSIVE:
                        ok = owner.param.numel() == p.numel()
                    else:
                        ok = tuple(owner.param.shape) == tuple(p.shape)
                    if not ok:
                        raise NetError(f"layer '{node.name}': shared parameter '{spec.name}' has "
                                       f"shape {tuple(p.shape)}, its owner layer "
                                       f"'{owner.layer}' has {tuple(owner.param.shape)}")
                    module.set_blob(i, owner.param)
                    for mult in ("lr_mult", "decay_mult"):
                        if not spec.HasField(mult):
                            continue
                        value = getattr(spec, mult)
                        if mult in explicit[id(owner)] and getattr(owner, mult) != value:
                            raise NetError(f"layer '{node.name}': shared parameter '{spec.name}' "
                                           f"(owner layer '{owner.layer}') has mismatched "
                                           f"{mult}: {value:g} here, {getattr(owner, mult):g} "
                                           "set before")
                        setattr(owner, mult, value)
                        explicit[id(owner)].add(mult)
                    self._param_entries[(node.name, i)] = owner
                    continue
                entry = ParamSpecEntry(p, node.name, i, spec.lr_mult, spec.decay_mult,
                                       spec.name or str(i))
                explicit[id(entry)] = {m for m in ("lr_mult", "decay_mult") if spec.HasField(m)}
                if spec.name:
                    owners[spec.name] = entry
                self.learnable.append(entry)
                self._param_entries[(node.name, i)] = entry
        for e in self.learnable:
            # Caffe: param_need_backward = lr_mult != 0 (a negative rate learns too), and
            # force_backward sets param_propagate_down for every parameter.
            e.param.requires_grad_(self.graph.force_backward or e.lr_mult != 0)

    # ------------------------------------------------------------------ pycaffe-like views
    @property
    def params(self):
        """OrderedDict layer name -> list of parameter blobs (layers with blobs only)."""
        out = collections.OrderedDict()
        for node, key, _, _ in self._nodes:
            blobs = self.layers[key].blobs
            if blobs:
                out[node.name] = blobs
        return out

    @property
    def layer_names(self):
        return [node.name for node, _, _, _ in self._nodes]

    def layer(self, name):
        """The module of layer ``name``."""
        try:
            return self.layers[self._layer_keys[name]]
        except KeyError:
            raise NetError(f"net '{self.name}' has no layer '{name}'") from None

    @property
    def inputs(self):
        """Names of the blobs fed from outside (tops of Input layers)."""
        return [t for node, key, _, _ in self._nodes if node.type == "Input" for t in node.tops]

    @property
    def outputs(self):
        return list(self.graph.outputs)

    def blob_shape(self, name):
        return self._blob_shapes[name]

    # ------------------------------------------------------------------ running
    def _as_input(self, name, value):
        ref = self._ref
        if isinstance(value, torch.Tensor):
            return value.to(device=ref.device, dtype=ref.dtype)
        return torch.as_tensor(np.asarray(value), dtype=ref.dtype, device=ref.device)

    def forward(self, blobs=None, keep_blobs=True, **inputs):
        """Run every layer; return the output blobs (name -> tensor), as pycaffe's forward.

        Keyword arguments feed the Input blobs (tensors or arrays, any batch size); ``blobs``
        names extra blobs to return beside the outputs. Data layers read their next batch.
        ``keep_blobs=False`` (inference only) returns the wanted blobs without keeping the
        others in ``self.blobs``: every intermediate is freed as soon as the pass moves on,
        so the next chunk or batch reuses memory that is still in cache.
        ``self.loss`` holds the total weighted loss afterwards. Without autograd (under
        ``torch.no_grad()``/``inference_mode()``) a large batch runs through a net of per-item
        layers in chunks of ``self.inference_chunk`` items: the same arithmetic per item, with
        intermediate blobs small enough to stay in cache.
        """
        unknown = set(inputs) - set(self.inputs)
        if unknown:
            raise NetError(f"net '{self.name}': {sorted(unknown)} are not input blobs "
                           f"(inputs: {self.inputs})")
        wanted = list(self.graph.outputs) + [b for b in (blobs or ())
                                             if b not in self.graph.outputs]
        for b in wanted:
            if b not in self.blobs:
                raise NetError(f"net '{self.name}' has no blob '{b}'")
        inputs = {k: self._as_input(k, v) for k, v in inputs.items()}
        chunk = self._chunk_size(inputs)
        if not keep_blobs and not torch.is_grad_enabled():
            batch = next(iter(inputs.values())).shape[0] if inputs else 0
            step = chunk or max(batch, 1)
            parts = collections.defaultdict(list)
            for i in range(0, max(batch, 1), step):
                values = self._run({k: v[i:i + step] for k, v in inputs.items()},
                                   keep=set(wanted))[0]
                for n in wanted:
                    parts[n].append(values[n])
                del values
            self.loss = None
            return collections.OrderedDict(
                (n, torch.cat(parts[n]) if len(parts[n]) > 1 else parts[n][0]) for n in wanted)
        if chunk:
            batch = next(iter(inputs.values())).shape[0]
            runs = [self._run({k: v[i:i + chunk] for k, v in inputs.items()})
                    for i in range(0, batch, chunk)]
            self.loss = None
            for name, blob in self.blobs.items():
                parts = [r[0].get(name) for r in runs]
                blob._set(None if parts[0] is None else parts, None, False)
            return collections.OrderedDict((n, self.blobs[n].data) for n in wanted)
        values, first, loss = self._run(inputs)
        self.loss = loss
        keep = self.keep_diffs and torch.is_grad_enabled()
        for name, blob in self.blobs.items():
            blob._set(values.get(name), first.get(name), keep)
        return collections.OrderedDict((n, values[n]) for n in wanted)

    def _chunk_size(self, inputs):
        """Items per chunk for a chunked inference forward, or None for one pass."""
        chunk = self.inference_chunk
        if not chunk or torch.is_grad_enabled() or not inputs or not self._per_item:
            return None
        sizes = {int(v.shape[0]) if v.dim() else -1 for v in inputs.values()}
        if len(sizes) != 1 or next(iter(sizes)) <= chunk:
            return None
        fed = set(inputs)
        for node, _, _, _ in self._nodes:
            if node.type == "Input":
                for top in node.tops:
                    if top not in fed and any(top in n.bottoms and n.type != "Silence"
                                              for n, _, _, _ in self._nodes):
                        return None
        return int(chunk)

    def _run(self, inputs, keep=None):
        """One pass over the layers: (values, first versions, total loss). With ``keep`` (a
        set of blob names), a blob is dropped once its last consumer has run, unless kept."""
        values, first = {}, {}
        last_use = self._last_use if keep is not None else {}
        loss = None
        force = self.graph.force_backward and torch.is_grad_enabled()
        inplace = not torch.is_grad_enabled()
        for node, key, weights, prop in self._nodes:
            module = self.layers[key]
            if node.type == "Input":
                tops = []
                for name in node.tops:
                    t = inputs.get(name)
                    if t is None:
                        t = torch.zeros(self._blob_shapes[name], dtype=self._ref.dtype,
                                        device=self._ref.device)
                    tops.append(t)
            else:
                bottoms = []
                for b, p in zip(node.bottoms, prop):
                    t = values[b]
                    bottoms.append(t if p else t.detach())
                if inplace and node.index in self._exclusive_inplace:
                    tops = module.forward_inplace(bottoms[0])
                else:
                    tops = module(*bottoms)
                if isinstance(tops, torch.Tensor):
                    tops = (tops,)
                for b in set(node.bottoms):
                    if last_use.get(b) == node.index and b not in keep:
                        values.pop(b, None)
                        first.pop(b, None)
                if module.is_data:
                    tops = tuple(t.to(device=self._ref.device, dtype=self._ref.dtype)
                                 for t in tops)
            for j, (name, t) in enumerate(zip(node.tops, tops)):
                in_place = j < len(node.bottoms) and node.bottoms[j] == name
                if not in_place:
                    if force and not node.bottoms and t.is_floating_point() and \
                            not t.requires_grad:
                        t = t.detach().requires_grad_(True)
                    first[name] = t
                values[name] = t
                w = weights[j]
                if w:
                    term = t.sum() * w if w != 1.0 else t.sum()
                    loss = term if loss is None else loss + term
        return values, first, loss

    def backward(self):
        """Back-propagate the last forward's total loss into every diff (pycaffe's backward)."""
        if self.loss is None or not self.loss.requires_grad:
            raise NetError(f"net '{self.name}': nothing to back-propagate (the last forward "
                           "produced no loss that depends on a parameter or a forced input)")
        self.loss.backward()

    # ------------------------------------------------------------------ weights I/O
    def copy_from(self, weights, strict=False):
        """Copy blobs by layer name from a caffemodel (Caffe's CopyTrainedLayersFrom).

        Layers of the file absent from the net are ignored and layers of the net absent from the
        file keep their values, as in Caffe; a blob count or shape mismatch is an error (and
        nothing is copied). With ``strict`` every missing, unexpected and mis-shaped blob is
        reported in one message.
        Returns ``(copied_layers, ignored_layers)``.
        """
        if isinstance(weights, caffe_pb2.NetParameter):
            src, where = weights, "<NetParameter>"
        else:
            where = os.fspath(weights)
            src = caffemodel_io.read_caffemodel(where)
        problems, copied, ignored, pending = [], [], [], []
        seen = set()
        for lp in src.layer:
            key = self._layer_keys.get(lp.name)
            if key is None:
                ignored.append(lp.name)
                if strict and len(lp.blobs):
                    problems.append(f"unexpected layer '{lp.name}' ({len(lp.blobs)} blob(s)) is "
                                    "not in the net")
                continue
            seen.add(lp.name)
            target = self.layers[key].blobs
            if len(lp.blobs) != len(target):
                problems.append(f"layer '{lp.name}': the file has {len(lp.blobs)} blob(s), the "
                                f"net expects {len(target)}")
                continue
            arrays = []
            for j, (bp, p) in enumerate(zip(lp.blobs, target)):
                arr = caffemodel_io.blob_to_array(bp, where=f"{where}: layer '{lp.name}' blob {j}")
                arr = _fit_shape(arr, bp, tuple(p.shape))
                if arr is None:
                    problems.append(f"layer '{lp.name}' blob {j}: shape mismatch, file has "
                                    f"{_proto_shape(bp)}, net expects {tuple(p.shape)}")
                arrays.append(arr)
            if any(a is None for a in arrays):
                continue
            pending.append((target, arrays))
            copied.append(lp.name)
        if strict:
            for node, key, _, _ in self._nodes:
                if self.layers[key].blobs and node.name not in seen:
                    problems.append(f"missing layer '{node.name}' "
                                    f"({len(self.layers[key].blobs)} blob(s)) is not in the file")
        if problems:
            raise WeightsError(f"{where}: cannot copy weights into net '{self.name}':\n  "
                               + "\n  ".join(problems))
        with torch.no_grad():   # only now: a refused file leaves the net unchanged
            for target, arrays in pending:
                for p, a in zip(target, arrays):
                    # ascontiguousarray makes 0-d blobs (shared PReLU slope) 1-d
                    p.copy_(torch.from_numpy(np.ascontiguousarray(a)).reshape(p.shape))
        return copied, ignored

    def caffe_state_dict(self):
        """Parameters keyed ``"<layer name>.<blob name>"`` (e.g. ``conv1.weight``), layer order."""
        out = collections.OrderedDict()
        for node, key, _, _ in self._nodes:
            module = self.layers[key]
            for blob_name in module._blob_order:
                out[f"{node.name}.{blob_name}"] = getattr(module, blob_name).detach()
        return out

    def load_caffe_state_dict(self, state_dict, strict=True):
        """Load parameters keyed as :meth:`caffe_state_dict` writes them; shapes must match.

        With ``strict`` every missing, unexpected and mis-shaped key is reported in one error.
        """
        own = self.caffe_state_dict()
        problems = []
        for k, v in state_dict.items():
            if k not in own:
                if strict:
                    problems.append(f"unexpected key '{k}'")
            elif tuple(v.shape) != tuple(own[k].shape):
                problems.append(f"'{k}': shape {tuple(v.shape)}, the net expects "
                                f"{tuple(own[k].shape)}")
        if strict:
            problems += [f"missing key '{k}'" for k in own if k not in state_dict]
        if problems:
            raise WeightsError(f"cannot load state_dict into net '{self.name}':\n  "
                               + "\n  ".join(problems))
        with torch.no_grad():
            for k, v in state_dict.items():
                if k in own:
                    own[k].copy_(torch.as_tensor(v))

    def to_proto(self, with_blobs=True):
        """The net as Caffe's Net::ToProto writes it (layers with their blobs, splits included)."""
        out = caffe_pb2.NetParameter()
        out.name = self.name
        for node, key, _, _ in self._nodes:
            lp = out.layer.add()
            lp.CopyFrom(node.param)
            del lp.blobs[:]
            self.layers[key].export_param(lp)
            if with_blobs:
                for p in self.layers[key].blobs:
                    lp.blobs.add().CopyFrom(caffemodel_io.array_to_blob(
                        p.detach().cpu().numpy(), double=p.dtype == torch.float64))
        return out

    def inference_proto(self):
        """The net definition for inference engines (e.g. OpenCV's Caffe importer): this phase's
        layers without loss, Accuracy and Silence layers, without auto-inserted splits, and with
        Input tops that nothing consumes any more removed."""
        drop_types = {"Silence", "Accuracy"}
        out = caffe_pb2.NetParameter()
        out.CopyFrom(self.graph.filtered)
        del out.layer[:]
        out.ClearField("state")
        kept = []
        for lp, (node, key, _, _) in zip(self.graph.filtered.layer, self._split_free_nodes()):
            if lp.type in drop_types or self.layers[key].is_loss:
                continue
            kept.append(lp)
        used = {b for lp in kept for b in lp.bottom}
        for lp in kept:
            new = out.layer.add()
            new.CopyFrom(lp)
            del new.include[:]
            del new.exclude[:]
            if lp.type == "Input":
                shapes = list(lp.input_param.shape)
                if len(shapes) == 1:
                    shapes = shapes * len(lp.top)
                del new.top[:]
                del new.input_param.shape[:]
                for top, shape in zip(lp.top, shapes):
                    if top in used:
                        new.top.append(top)
                        new.input_param.shape.add().CopyFrom(shape)
                if not len(new.top):
                    del out.layer[-1]
        return out

    def _split_free_nodes(self):
        return [n for n in self._nodes if n[0].type != "Split" or
                n[0].name in {lp.name for lp in self.graph.filtered.layer}]

    def save_prototxt(self, path, inference=True):
        """Write the matching net definition (atomic): :meth:`inference_proto` by default, or
        this phase's full filtered definition with ``inference=False``."""
        prototxt_io.write_prototxt(self.inference_proto() if inference else self.graph.filtered,
                                   path)

    def save(self, path):
        """Write a caffemodel (atomic) that Caffe, pycaffe and OpenCV read."""
        caffemodel_io.write_caffemodel(self.to_proto(with_blobs=True), path)

    def __repr__(self):
        return (f"Net({self.name!r}, phase={self.phase}, {len(self._nodes)} layers, "
                f"inputs={self.inputs}, outputs={self.outputs})")


def _proto_shape(bp):
    if bp.HasField("shape"):
        return tuple(bp.shape.dim)
    return (bp.num, bp.channels, bp.height, bp.width)


def _fit_shape(arr, bp, target):
    """``arr`` reshaped to ``target`` when Caffe's Blob::ShapeEquals accepts it, else None.

    Legacy blobs (num/channels/height/width) match a target of at most 4 axes aligned from the
    end, e.g. an InnerProduct weight (M, N) stored as 1 x 1 x M x N.
    """
    if tuple(arr.shape) == target:
        return arr
    legacy = not bp.HasField("shape") and any(
        bp.HasField(f) for f in ("num", "channels", "height", "width"))
    if legacy and len(target) <= 4:
        padded = (1,) * (4 - len(target)) + target
        if tuple(_proto_shape(bp)) == padded:
            return arr.reshape(target)
    return None
