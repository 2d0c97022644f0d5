"""Building a :class:`~caffe_compat.net.core.Net` layer by layer, as Caffe's Net::Init does.

For every layer of the graph (:mod:`caffe_compat.net.graph`): the registered class of its type
(``CheckBlobCounts`` on its bottoms and tops), its set-up with the bottom shapes, the fillers
of its parameter blobs, the shapes of its tops (refused beyond Caffe's ``INT_MAX`` elements per
blob) and its loss weights (``LossLayer`` adds ``loss_weight: 1`` to a one-top loss layer).
Then ``AppendParam`` / ``ShareWeights``: parameters named in a ParamSpec are shared by name
(``STRICT`` shapes or ``PERMISSIVE`` counts), with the ``lr_mult`` / ``decay_mult`` of the
specs that set them. Every error names the layer and, for a net read from text, its
``file:line:column`` (:mod:`caffe_compat.diagnostics.locations`)."""
from __future__ import annotations

import re

import numpy as np
from torch import nn

from ..layers import fillers
from ..diagnostics import locations
from .blob import ParamSpecEntry
from .reshape import layer_top_shapes
from ..errors import CaffeCompatError, NetError
from ..layers import base as _layer_base
from ..layers import layer_class
from ..proto import caffe_pb2

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


class NetBuildMixin:
    """Layer construction and parameter sharing of :class:`~caffe_compat.net.core.Net`."""

    def _build_layer(self, node, dtype, taken, generator):
        try:
            self._build_layer_unlocated(node, dtype, taken, generator)
        except CaffeCompatError as e:   # every error of a layer names its file:line
            locations.locate(e, node.source)
            raise

    def _build_layer_unlocated(self, node, dtype, taken, generator):
        lp = node.param
        cls = layer_class(lp.type, lp.name)
        if cls.is_loss and not node.tops:   # Caffe's AutoTopBlobs: an anonymous loss top
            node.tops.append("(automatic)")
        nb, nt = len(node.bottoms), len(node.tops)
        for what, n, exact, lo, hi in (("bottom", nb, cls.exact_bottoms, cls.min_bottoms,
                                        cls.max_bottoms),
                                       ("top", nt, cls.exact_tops, cls.min_tops, cls.max_tops)):
            for how, bound, bad in (("exactly", exact, exact is not None and n != exact),
                                    ("at least", lo, lo is not None and n < lo),
                                    ("at most", hi, hi is not None and n > hi)):
                if bad:
                    raise NetError(f"layer '{lp.name}' (type {lp.type}) takes {how} {bound} "
                                   f"{what} blob(s), got {n}")
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
            if getattr(e, "python_layer", None) is not None:
                raise           # a Python layer's own exception: pycaffe lets it through
            raise NetError(f"layer '{lp.name}' (type {lp.type}): cannot be set up for bottom "
                           f"shapes {bottom_shapes}: {e}") from e
        module.to(dtype)
        for p, fp in zip(module.blobs, module.filler_params()):
            if fp is not None:
                fillers.fill(p.data, fp, generator, where=f"layer '{lp.name}'",
                             caffe_rng=self.caffe_rng)
                if fp.type in fillers.RANDOM_FILLERS:
                    if getattr(self, "_fill_seeded", 0):
                        fillers.forget_drawn(p.data)    # the same values in every run
                    else:
                        fillers.remember_drawn(p.data)  # other values in the next run
        top_shapes = layer_top_shapes(node, module, bottom_shapes)   # the layer's Reshape
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

    def _find_blob_readers(self):
        """``{index: blob}`` of the layers run in place whose Caffe backward reads the blob's
        data (:attr:`Layer.in_place_backward`) as the forward left it, a later in-place layer's
        output where one follows (conv, then ReLU and Scale in place); not a ReLU whose signs
        stay (alone, or before Dropout): autograd's gradient is Caffe's there, with the
        explicit calls, which the others give up."""
        out, later = {}, {}         # blob -> the layers writing it in place after this one
        for node, key, _, _ in reversed(self._nodes):
            module = self.layers[key]
            if len(node.bottoms) == 1 and node.tops == node.bottoms:
                after = later.setdefault(node.tops[0], [])
                if module.in_place_backward is not None and not (
                        module.reads_signs and all(w.keeps_signs for w in after)):
                    out[node.index] = node.tops[0]
                    module.explicit_forward = None
                after.append(module)
        return out

    def _share_and_collect_params(self):
        """Caffe's AppendParam/ShareWeights: named ParamSpecs share one blob; lr/decay mults."""
        owners = {}
        explicit = {}      # id(entry) -> the mults its specs set explicitly (has_params_lr_...)
        self.learnable = []
        self._param_entries = {}
        for node, key, _, _ in self._nodes:
            try:
                self._collect_layer_params(node, key, owners, explicit)
            except CaffeCompatError as e:
                locations.locate(e, node.source, "param")
                raise
        for e in self.learnable:
            # Caffe: param_need_backward = lr_mult != 0 (a negative rate learns too), and
            # force_backward sets param_propagate_down for every parameter.
            e.param.requires_grad_(self.graph.force_backward or e.lr_mult != 0)

    def _collect_layer_params(self, node, key, owners, explicit):
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
            entry = ParamSpecEntry(p, node.name, i, spec.lr_mult, spec.decay_mult)
            explicit[id(entry)] = {m for m in ("lr_mult", "decay_mult") if spec.HasField(m)}
            if spec.name:
                owners[spec.name] = entry
            self.learnable.append(entry)
            self._param_entries[(node.name, i)] = entry
