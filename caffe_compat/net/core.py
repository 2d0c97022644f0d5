"""``Net``: a Caffe net definition (and optionally its weights) as one ``torch.nn.Module``.

It mirrors pycaffe's ``caffe.Net``: ``forward(**inputs)`` returns the output blobs,
``blobs[name].data`` / ``.diff`` hold every named blob after the last pass, and
``params[layer][i]`` are the parameter blobs in Caffe's order; the layer list, blob names,
splits, in-place reuse and loss weights are Caffe's (:mod:`caffe_compat.net.graph`). This
module holds the views and the passes; building is :mod:`caffe_compat.net.build`'s, weights
and exports :mod:`caffe_compat.net.weights`', blob views :mod:`caffe_compat.net.blob`'s."""
from __future__ import annotations

import collections
import os

import numpy as np
import torch
from torch import nn

from ..inference import fast_inference
from ..parallel import pass_choice, placement, threads
from .blob import Blob, ParamSpecEntry
from ..data import device_feed
from ..data.caffe_random import CaffeRandom, apply_torch_seed, thread_stream
from ..errors import NetError
from .graph import build_graph, phase_name
from ..io import prototxt as prototxt_io
from ..io.upgrade import upgrade_net
from ..kernels import blas_order, collector
from ..layers._neuron import BlobRead
from ..layers._prefetching import PrefetchingDataLayer
from . import reshape, write_count
from .engine_route import EngineRoute
from .build import NetBuildMixin
from .weights import NetWeightsMixin
from ..proto import caffe_pb2


def load_net_param(model):
    """A NetParameter (upgraded) from a path, a prototxt string or a NetParameter (a copy;
    the layer positions of a NetParameter read from text come along)."""
    if isinstance(model, caffe_pb2.NetParameter):
        return upgrade_net(model)
    if isinstance(model, (str, os.PathLike)) and (isinstance(model, os.PathLike)
                                                  or "\n" not in model and "{" not in model):
        return prototxt_io.read_net(os.fspath(model))
    return prototxt_io.parse_net(str(model), filename="<string>")


class Net(NetBuildMixin, NetWeightsMixin, nn.Module):
    """A Caffe net as a torch module.

    ``model``: prototxt path, prototxt text or NetParameter. ``weights``: caffemodel path(s)
    copied by layer name (Caffe's CopyTrainedLayersFrom). ``phase``: "train" or "test". ``level``
    and ``stages`` complete the NetState. ``seed`` seeds the fillers and, as
    Caffe::set_random_seed, the data layers' crops, mirrors and shuffles; without it the net draws
    from the thread's Caffe stream (``caffe_rng``, default
    caffe_compat.data.caffe_random.thread_stream(), which ``caffe.set_random_seed`` seeds and
    successive nets continue, as in Caffe). ``data_sources`` maps a data layer name (or the
    original ``source`` string) to a replacement source path. ``keep_diffs`` keeps every computed
    blob's diff after ``backward`` (without it ``blobs[name].diff`` of a computed blob raises).
    ``strict``: weights that do not match the net exactly are one
    :class:`~caffe_compat.errors.WeightsError` listing every problem; by default, as in Caffe,
    such layers are skipped (the net's keep their fillers) and a
    :class:`~caffe_compat.errors.WeightsMismatchWarning` names the net's layers left uncovered.
    ``engine``: None or "torch" (default) runs every forward here; "auto", "onnxruntime" or
    "openvino" lets outputs-only forwards (``keep_blobs=False`` without autograd, no extra
    ``blobs``) run on that engine (:mod:`caffe_compat.inference.engines`, checked against this
    forward first); every other forward, and Caffe's exact order, stays here.
    ``device_graphs``: on a CUDA device, outputs-only forwards replay a captured CUDA graph
    where input shapes repeat (:mod:`caffe_compat.inference.graph_replay`); False runs every
    forward of this net uncaptured."""

    device_graphs = True

    def __init__(self, model, weights=None, phase="test", *, level=None, stages=None,
                 dtype=torch.float32, seed=None, data_sources=None, keep_diffs=False,
                 engine=None, caffe_rng=None, strict=False):
        super().__init__()
        collector.freeze_if_loaded()      # torch's objects out of the collector's walks
        apply_torch_seed()                # caffe.set_random_seed's, made before torch loaded
        self.engine = engine
        self._engine_runners = {}
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
        # Caffe's random stream (after Caffe::set_random_seed(seed) when a seed is given): data
        # layers draw their seeds and the uniform fillers their values from it in layer order
        # (caffe_compat.data.caffe_random)
        if caffe_rng is None:
            caffe_rng = CaffeRandom(seed) if seed is not None else thread_stream()
        self.caffe_rng = caffe_rng
        taken = set()
        self._fill_seeded = seed is not None    # fillers draw the same values every run
        try:
            for node in self.graph.layers:
                self._build_layer(node, dtype, taken, generator)
        except BaseException:
            # the error's traceback may keep this net alive: not the databases already opened
            for module in self.layers.values():
                if isinstance(module, PrefetchingDataLayer):
                    module.close()
            raise
        self._share_and_collect_params()
        self.blobs = collections.OrderedDict(
            (n, Blob(n, self._blob_shapes[n])) for n in self.graph.blob_names)
        self._per_item = all(self.layers[key].item_wise for _, key, _, _ in self._nodes) \
            and not any(self.layers[key].is_data for _, key, _, _ in self._nodes)
        self._exclusive_inplace = self._find_exclusive_inplace()
        self._blob_readers = self._find_blob_readers()
        # blob -> index of the last node reading it
        self._last_use = {b: node.index for node, _, _, _ in self._nodes for b in node.bottoms}
        # items per chunk of a no-grad forward (see forward); 0 or None runs one pass. A multiple
        # of the InnerProduct row block (layers.inner_product.ROW_BLOCK) keeps one pass's bits
        self.inference_chunk = 8
        self.loss = None
        if weights:
            files = [weights] if isinstance(weights, (str, os.PathLike)) else list(weights)
            if len(files) == 1:
                self.copy_from(files[0], strict=strict)
            else:                   # layers none of the files covers: said once, after all
                cover = self.weights_coverage()
                for w in files:
                    self.copy_from(w, strict=strict, coverage=cover)
                cover.report(strict=strict)
        if engine not in (None, "torch"):   # one count of in-place writes for all the weights
            write_count.gather(self)

    # ------------------------------------------------------------------ pycaffe-like views
    @property
    def params(self):
        """OrderedDict layer name -> list of parameter blobs (layers with blobs only)."""
        return collections.OrderedDict((node.name, self.layers[key].blobs)
                                       for node, key, _, _ in self._nodes if self.layers[key].blobs)

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
        return list(self._walk()[1])

    def _walk(self):
        """``(steps, input names)``, decided once per net: per layer, what the forward walk
        of :meth:`_run` needs, so that a small net's pass does no per-layer Python work beyond
        calling its layers. A step: ``(index, kind, module, bottoms, all bottoms propagate,
        propagate flags, tops, tops written in place, loss weights)`` with ``kind`` "input",
        "data" or "layer"."""
        walk = self.__dict__.get("_walk_cache")
        if walk is None:
            steps, names = [], []
            for node, key, weights, prop in self._nodes:
                module = self.layers[key]
                kind = "input" if node.type == "Input" else "data" if module.is_data \
                    else "layer"
                if kind == "input":
                    names.extend(node.tops)
                prop = tuple(bool(p) for p in prop)
                in_place = tuple(j < len(node.bottoms) and node.bottoms[j] == name
                                 for j, name in enumerate(node.tops))
                steps.append((node.index, kind, module, tuple(node.bottoms), all(prop), prop,
                              tuple(node.tops), in_place, tuple(weights)))
            walk = self.__dict__["_walk_cache"] = (steps, tuple(names))
        return walk

    @property
    def outputs(self):
        return list(self.graph.outputs)

    def blob_shape(self, name):
        return self._blob_shapes[name]

    # ------------------------------------------------------------------ running
    def forward(self, blobs=None, keep_blobs=True, **inputs):
        """Run every layer; return the output blobs (name -> tensor), as pycaffe's forward.

        Keyword arguments feed the Input blobs (tensors or arrays, any batch size); ``blobs`` names
        extra blobs to return. Data layers read their next batch. ``keep_blobs=False`` (inference
        only) returns the wanted blobs without keeping the others in ``self.blobs`` (each
        intermediate freed as the pass moves on). ``self.loss`` holds the total weighted loss
        afterwards. Without autograd a large batch through a net of per-item layers runs in chunks
        of ``self.inference_chunk`` items (the same arithmetic per item). With ``engine`` set (the
        class doc), a forward with ``keep_blobs=False`` without autograd and no extra ``blobs`` runs
        on that engine."""
        if self.engine not in (None, "torch") and not keep_blobs and not blobs \
                and not torch.is_grad_enabled():
            out = self._engine_forward(inputs)
            if out is not None:
                return out
        try:
            return self._forward_layers(blobs, keep_blobs, **inputs)
        except Exception as e:          # a shape error gets its layer (net.reshape.explain)
            # the shapes the pass starts from: the fed inputs, else those the net was built with
            shapes = dict(self._blob_shapes)
            shapes.update({k: tuple(np.shape(v)) for k, v in inputs.items()})
            raise reshape.explain(e, self._nodes, self.layers, shapes, self.name)

    def _engine_forward(self, inputs):
        """The outputs from the engine runner (None where this forward must run here)."""
        # (no import here: a forward's Python time runs on caches its engine has just used)
        route = self.__dict__.get("_engine_route")
        if route is not None:                   # the last engine forward's way (engine_route)
            out = route.forward(self, inputs)
            if out is not None:
                return out
            self.__dict__["_engine_route"] = None
        ref = self._buffers["_ref"]             # (Module.__getattr__'s look-up, done directly)
        if blas_order.INFERENCE or ref.dtype != torch.float32 or ref.device.type != "cpu" or \
                set(inputs).difference(self._walk()[1]):
            return None
        outputs = tuple(self.graph.outputs)
        runner = self._engine_runners.get((self.engine, outputs))
        if runner is not None and write_count.count(runner.weights) != runner.version:
            runner = None           # weights changed in place since the export
        if runner is None:
            from ..inference.engines import EngineRunner
            runner = EngineRunner(self, outputs, self.engine)
            runner.weights = write_count.watched(self, self.caffe_state_dict().values())
            runner.version = write_count.count(runner.weights)
            self._engine_runners = {(self.engine, outputs): runner}
        self.loss = None
        feed = runner.feed(inputs)
        got = runner(feed)
        self.__dict__["_engine_route"] = EngineRoute(ref, self.engine, (self.engine, outputs),
                                                     runner, feed)
        return collections.OrderedDict(
            (n, v if isinstance(v, torch.Tensor) else torch.from_numpy(v))
            for n, v in zip(outputs, got))

    def _forward_layers(self, blobs=None, keep_blobs=True, **inputs):
        """:meth:`forward` on this net's own layers."""
        unknown = set(inputs).difference(self._walk()[1]) if inputs else ()
        if unknown:
            raise NetError(f"net '{self.name}': {sorted(unknown)} are not input blobs "
                           f"(inputs: {self.inputs})")
        wanted = list(self.graph.outputs) + [b for b in (blobs or ())
                                             if b not in self.graph.outputs]
        for b in wanted:
            if b not in self.blobs:
                raise NetError(f"net '{self.name}' has no blob '{b}'")
        ref = self._ref
        inputs = {k: v.to(device=ref.device, dtype=ref.dtype) if isinstance(v, torch.Tensor)
                  else torch.as_tensor(np.asarray(v), dtype=ref.dtype, device=ref.device)
                  for k, v in inputs.items()}
        chunk = self._chunk_size(inputs)
        if not keep_blobs and not torch.is_grad_enabled():
            batch = next(iter(inputs.values())).shape[0] if inputs and chunk else 1
            step = chunk or 1
            parts = collections.defaultdict(list)
            for i in range(0, max(batch, 1), step):
                # one pass: the inputs as fed (an input need not have the others' first
                # axis: a Bias or Scale operand of shape (C, H)); chunks: batch slices
                part = {k: v[i:i + step] for k, v in inputs.items()} if chunk else inputs
                values = self._run(part, keep=set(wanted))[0]
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
        want = threads.apply_for_net(self, inputs)  # the cores we can get, 1 for a small net
        if not torch.is_grad_enabled():
            niced = threads.niced_neighbours() if want > 1 else 0
            crowded = threads.crowded_count() if threads.held_cores() else 0
            if niced or crowded:        # others' work on our cores: the count measured
                return self._run_measured(inputs, keep, want, niced, crowded)
        if placement.workers_placed():
            placement.release_workers()     # no niced work now: the workers' CPUs back
        return self._run_pass(inputs, keep)

    def _run_measured(self, inputs, keep, want, niced, crowded):
        """:meth:`_run_pass` on the thread count :mod:`caffe_compat.parallel.pass_choice`
        picks for this net and input shape (``want``, fewer under niced work, or ``crowded``
        while other processes hold cores), timed for the next pick."""
        choice = pass_choice.choice_for(
            self, tuple((k, tuple(v.shape)) for k, v in inputs.items()))
        n = choice.count(want, niced, crowded)
        if n != want:
            threads.set_pass_threads(n)
        start = choice.clock()
        try:
            # under niced work, the pass's threads one per CPU (parallel.placement)
            with placement.spread(n if niced else 0):
                out = self._run_pass(inputs, keep)
        finally:
            if n != want:
                threads.set_pass_threads(want)
        choice.record(n, start, choice.clock())
        return out

    def _run_pass(self, inputs, keep=None):
        """:meth:`_run` on torch's thread count as set."""
        values, first = {}, {}
        last_use = self._last_use if keep is not None else {}
        plan = fast_inference.plan_for(self, self.blobs if keep is None else keep) \
            if fast_inference.applies(self) else None
        if plan is not None:
            run = plan.compiled(self, keep)
            if run is not None:         # the same layers, decided once (fast_run)
                return run(inputs)
        replace, skip = (plan.replace, plan.skip) if plan is not None else ({}, ())
        loss = None
        force = self.graph.force_backward and torch.is_grad_enabled()
        inplace = not torch.is_grad_enabled()
        ref, readers = self._ref, self._blob_readers
        for index, kind, module, node_bottoms, all_prop, prop, out_names, in_places, weights \
                in self._walk()[0]:
            if index in skip:               # folded into the convolution before it
                continue
            step_tops = out_names
            if kind == "input":
                tops = []
                for name in out_names:
                    t = inputs.get(name)
                    if t is None:
                        t = torch.zeros(self._blob_shapes[name], dtype=ref.dtype,
                                        device=ref.device)
                    tops.append(t)
            elif index in replace:
                fn, fused_bottoms, out_names = replace[index]
                tops = (fn(*(values[b] for b in fused_bottoms)),)
            else:
                if all_prop:
                    bottoms = [values[b] for b in node_bottoms]
                else:
                    bottoms = [values[b] if p else values[b].detach()
                               for b, p in zip(node_bottoms, prop)]
                if inplace and index in self._exclusive_inplace:
                    tops = module.forward_inplace(bottoms[0])
                elif not inplace and index in readers:
                    tops = BlobRead.apply(bottoms[0], module, values, out_names[0])
                else:
                    tops = module(*bottoms)
                if isinstance(tops, torch.Tensor):
                    tops = (tops,)
                if last_use:
                    for b in set(node_bottoms):
                        if last_use.get(b) == index and b not in keep:
                            values.pop(b, None)
                            first.pop(b, None)
                if kind == "data":
                    tops = tuple(t if t.dtype == ref.dtype and t.device == ref.device
                                 else t.to(device=ref.device, dtype=ref.dtype) for t in tops) \
                        if ref.is_cpu else device_feed.data_tops(module, tops, ref)
                elif not node_bottoms and not ref.is_cpu:
                    # a layer without bottoms (a Python data layer) hands over host tops
                    tops = device_feed.data_tops(module, tops, ref)
            for j, (name, t) in enumerate(zip(out_names, tops)):
                in_place = in_places[j] if out_names is step_tops else \
                    j < len(node_bottoms) and node_bottoms[j] == name
                if not in_place:
                    if force and not node_bottoms and t.is_floating_point() and \
                            not t.requires_grad:
                        t = t.detach().requires_grad_(True)
                    first[name] = t
                values[name] = t
                w = weights[j]
                if w:
                    term = t.sum() * w if w != 1.0 else t.sum()
                    loss = term if loss is None else loss + term
        return values, first, loss

    def set_input_arrays(self, data, labels):
        """pycaffe's ``set_input_arrays``: give arrays to the MemoryData layer that must be the
        net's first layer (see :mod:`caffe_compat.layers.memory_data`)."""
        first = self.layers[self._nodes[0][1]] if self._nodes else None
        if getattr(first, "type_name", None) != "MemoryData":
            raise NetError(f"net '{self.name}': set_input_arrays needs a MemoryData layer as the "
                           "first layer" + (f", the first is '{self._nodes[0][0].name}' (type "
                                            f"{self._nodes[0][0].type})" if self._nodes else ""))
        first.set_input_arrays(data, labels)

    def backward(self):
        """Back-propagate the last forward's total loss into every diff (pycaffe's backward)."""
        if self.loss is None or not self.loss.requires_grad:
            raise NetError(f"net '{self.name}': nothing to back-propagate (the last forward "
                           "produced no loss that depends on a parameter or a forced input)")
        try:
            self.loss.backward()
        except torch.OutOfMemoryError as e:   # the device's figures and a batch that fits
            self.raise_out_of_memory(e, "backward")

    def to(self, *args, **kwargs):
        """nn.Module's ``to``; a device out of memory while the weights and buffers move is
        :meth:`raise_out_of_memory`'s report."""
        try:
            return super().to(*args, **kwargs)
        except torch.OutOfMemoryError as e:
            self.raise_out_of_memory(e, "move to the device")

    def raise_out_of_memory(self, error, pass_name):
        """Raise :mod:`caffe_compat.net.device_memory`'s report of ``error`` (torch's
        OutOfMemoryError) in this net's ``pass_name``, from the shapes of its blobs now (a
        report already made, by the forward, is raised as it is)."""
        from .device_memory import DeviceMemoryError
        if isinstance(error, DeviceMemoryError):
            raise error
        shapes = {name: tuple(blob.shape) for name, blob in self.blobs.items()} \
            if self.blobs else dict(self._blob_shapes)
        with torch.enable_grad():               # a backward or an update keeps diffs
            report = reshape.out_of_memory(error, self._nodes, self.layers, shapes, pass_name,
                                           self.name)
        raise report from error

    def __repr__(self):
        return (f"Net({self.name!r}, phase={self.phase}, {len(self._nodes)} layers, "
                f"inputs={self.inputs}, outputs={self.outputs})")


__all__ = ["Net", "Blob", "ParamSpecEntry", "load_net_param"]
