"""Any Caffe net to ONNX (opset 17 by default, the batch axis free), written by the torch-free
path's converters (:mod:`caffe_compat.onnx_path.converters`) into a ``batch_free``
:class:`caffe_compat.onnx_path.graph.Graph`: :func:`build_onnx` keeps the layers our
:class:`~caffe_compat.Net` runs that the outputs need; a layer of constant bottoms only (priors)
is computed by our layer and stored as a constant. The graph is encoded by
:mod:`caffe_compat.onnx_path.onnx_wire`; ``onnx`` reads it back to check it and declare the
outputs' inferred shapes; inputs and outputs carry the Caffe blob names. :func:`export_onnx`
writes it atomically after ``onnx.checker``'s full check; :func:`compare_onnxruntime` runs it
in onnxruntime beside our forward.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import CaffeCompatError, NetError
from ..io.atomic import atomic_path
from ..onnx_path import graph as onnx_graph
from ..onnx_path import onnx_wire
from ..onnx_path.converters import Unsupported
from .registry import NOT_EXPORTED, batch_axes, converter_for

PRODUCER = "caffe_compat"
# the version of what build_onnx writes: raise it when a converter changes its nodes, so that
# exports cached by caffe_compat.inference.engines are written again
FORMAT_VERSION = 3


def import_onnx():
    """The ``onnx`` module, or a clear error naming the extra that installs it."""
    try:
        import onnx
    except ImportError:
        raise CaffeCompatError("ONNX export needs the 'onnx' package: pip install onnx (or "
                               "pip install 'robust-lq-emotion[export]')") from None
    return onnx


def _is_loss(net, node):
    return bool(getattr(net.layer(node.name), "is_loss", False))


def default_outputs(net):
    """The blobs an inference graph returns by default: the net's outputs (blobs nothing
    consumes) made by layers other than loss, Accuracy and input layers."""
    producers = {t: node for node in net.graph.layers for t in node.tops}
    out = []
    for b in net.outputs:
        node = producers.get(b)
        if node is None or node.type == "Input" or node.type in NOT_EXPORTED \
                or _is_loss(net, node):
            continue
        out.append(b)
    if not out:
        raise NetError(f"net '{net.name}' has no output blob to export (outputs: "
                       f"{net.outputs}); name the blobs to export")
    return out


def needed_layers(net, outputs):
    """(layers in run order, input blobs) that ``outputs`` depend on."""
    known = set(net.graph.blob_names)
    for b in outputs:
        if b not in known:
            raise NetError(f"net '{net.name}' has no blob '{b}' (blobs: "
                           f"{', '.join(net.graph.blob_names)})")
    needed, steps, inputs = set(outputs), [], []
    for node in reversed(net.graph.layers):
        if not needed.intersection(node.tops) or node.type in NOT_EXPORTED:
            continue
        if node.type == "Input":
            inputs.extend(t for t in node.tops if t in needed)
            continue
        if _is_loss(net, node):
            raise NetError(f"layer '{node.name}' (type {node.type}) is a loss layer; an "
                           "inference graph cannot include it (export the blobs before it)")
        if net.layer(node.name).is_data:
            raise NetError(f"layer '{node.name}' (type {node.type}) is a data layer (it reads "
                           "or makes its own batches); export a deploy net with Input blobs "
                           "(caffe-compat upgrade, or Net.save_prototxt, gives one)")
        needed.update(node.bottoms)
        steps.append(node)
    steps.reverse()
    order = {b: i for i, b in enumerate(net.inputs)}
    return steps, sorted(set(inputs), key=order.get)


def build_onnx(net, outputs=None, dynamic_batch=True, opset=17, metadata=None, batch=None):
    """The ONNX ``ModelProto`` of ``net`` (a test-phase :class:`~caffe_compat.Net`) computing
    ``outputs`` (blob names; default :func:`default_outputs`) from the Input blobs they need.
    The inputs' batch axis is declared free (``dynamic_batch``) or fixed to ``batch`` (default:
    the deploy file's). ``metadata``: ``{key: text}`` stored as the model's ``metadata_props``."""
    onnx = import_onnx()
    return onnx.load_model_from_string(b"".join(
        _model_pieces(onnx, net, outputs, dynamic_batch, opset, metadata, batch)))


def _model_pieces(onnx, net, outputs, dynamic_batch, opset, metadata, batch):
    """:func:`build_onnx`'s model as the wire writer's pieces (a file is written from them
    without encoding the weights again), its outputs typed by ONNX shape inference."""
    outputs = list(outputs) if outputs else default_outputs(net)
    steps, inputs = needed_layers(net, outputs)
    g = onnx_graph.Graph()
    g.batch_free, g.reserved = True, frozenset(net.graph.blob_names)
    values = {b: onnx_graph.Value(b, net.blob_shape(b)) for b in inputs}
    for node in steps:
        missing = [b for b in node.bottoms if b not in values]
        if missing:
            raise NetError(f"layer '{node.name}' (type {node.type}): bottom(s) {missing} are "
                           "not computed by the exported part of the net")
        tops = _layer_tops(g, node, net.layer(node.name), [values[b] for b in node.bottoms])
        if len(tops) != len(node.tops):
            raise NetError(f"layer '{node.name}' (type {node.type}): its converter gave "
                           f"{len(tops)} value(s) for {len(node.tops)} top(s)")
        values.update(zip(node.tops, tops))
    out_names = _output_names(g, values, outputs, inputs)
    axes = _input_batch_axes(net, steps, inputs)
    graph_inputs = []
    for b in inputs:
        shape = list(net.blob_shape(b))
        if shape:
            k = axes.get(b, 0)
            shape[k] = "batch" if dynamic_batch else int(batch or shape[k])
        graph_inputs.append((b, shape))
    read = {n for _, ins, _, _, _ in g.node_specs for n in ins}
    inits = [g.initializers[k] for k, spec in enumerate(g.initializer_specs) if spec[0] in read]

    def pieces(typed):
        return onnx_wire.model_pieces(
            net.name or "caffe_net", list(g.nodes), inits, graph_inputs, typed,
            producer=PRODUCER, opset=int(opset), ir_version=_ir_version(onnx, int(opset)),
            metadata=metadata)
    untyped = onnx.load_model_from_string(b"".join(pieces([(n, None) for n in out_names])))
    return pieces(_output_shapes(onnx, untyped, [(name, net.blob_shape(b))
                                                 for name, b in zip(out_names, outputs)]))


def _layer_tops(g, node, module, bottoms):
    """The Values of ``node``'s tops: by our own layer where every bottom is a constant, else
    by the type's converter."""
    if bottoms and all(b.const is not None for b in bottoms):
        with torch.no_grad():
            tops = module(*[torch.from_numpy(np.array(b.const)) for b in bottoms])
        tops = (tops,) if isinstance(tops, torch.Tensor) else tops
        return [g.constant(t.detach().cpu().numpy()) for t in tops]
    blobs = [np.asarray(b.detach().cpu().numpy(), np.float32) for b in module.blobs]
    try:
        return list(converter_for(node.type, node.name)(g, node.param, bottoms, blobs))
    except Unsupported as exc:
        raise NetError(f"layer '{node.name}' (type {node.type}): {exc}") from None


def _output_names(g, values, outputs, inputs):
    """Each requested output blob as a graph output of its Caffe name (an Identity of the value
    that holds it); where the blob is also an input (a layer computing in place on an input)
    the output is named ``<blob>_out_<n>``, ONNX's names being single assignments. Returns the
    names, in order."""
    names = []
    for b in outputs:
        name = b if b not in inputs else g.fresh(f"{b}_out")
        g.node("Identity", [g.name(values[b])], [name])
        names.append(name)
    return names


def _input_batch_axes(net, steps, inputs):
    """``{input blob: axis}`` for inputs whose items a consuming layer keeps off axis 0 (see
    :mod:`caffe_compat.export.registry`); the first consumer decides."""
    out, wanted = {}, set(inputs)
    for node in steps:
        for index, axis in batch_axes(node.type, net.layer(node.name)).items():
            b = node.bottoms[index] if index < len(node.bottoms) else None
            if b in wanted and b not in out:
                out[b] = axis
    return out


def _ir_version(onnx, opset):
    table = getattr(onnx.helper, "VERSION_TABLE", [])
    for row in table:               # (release, ir_version, opset, ...), oldest first
        if row[2] >= opset:
            return row[1]
    return onnx.IR_VERSION


def _output_shapes(onnx, model, outputs):
    """``[(output, shape)]``: each output's rank and the sizes ONNX shape inference finds in
    ``model`` (free ones named ``<blob>_dim<k>``); ``outputs``: ``[(name, shape in the built
    net)]``, that shape's rank used where inference finds none. Every output is float32, as a
    Caffe blob is."""
    try:
        inferred = onnx.shape_inference.infer_shapes(_skeleton(onnx, model))
        found = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    except Exception:  # noqa: BLE001 - shape inference is advisory here
        found = {}
    typed = []
    for b, shape in outputs:
        v = found.get(b)
        if v is not None and v.type.tensor_type.HasField("shape"):
            typed.append((b, [d.dim_value if d.HasField("dim_value") else
                              (d.dim_param or f"{b}_dim{k}")
                              for k, d in enumerate(v.type.tensor_type.shape.dim)]))
        else:
            typed.append((b, [f"{b}_dim{k}" for k in range(len(shape))]))
    return typed


def _skeleton(onnx, model):
    """``model`` without the data of its large initializers (declared as typed inputs): what
    shape inference needs, without copying the weights."""
    small, stubs = [], []
    for t in model.graph.initializer:
        if np.prod(t.dims, dtype=np.int64) <= 4096:
            small.append(t)
        else:
            stubs.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    graph = onnx.helper.make_graph(model.graph.node, model.graph.name,
                                   list(model.graph.input) + stubs, model.graph.output,
                                   initializer=small)
    out = onnx.helper.make_model(graph, opset_imports=model.opset_import)
    out.ir_version = model.ir_version
    return out


def export_onnx(net, path, outputs=None, dynamic_batch=True, opset=17, metadata=None,
                batch=None):
    """Write ``net`` as an ONNX file (atomically), checked by ``onnx.checker`` (full check).
    See :func:`build_onnx` for the arguments. Returns ``path``."""
    onnx = import_onnx()
    pieces = _model_pieces(onnx, net, outputs, dynamic_batch, opset, metadata, batch)
    with atomic_path(path, suffix=".onnx") as tmp:
        with open(tmp, "wb") as f:
            f.writelines(pieces)
        try:
            onnx.checker.check_model(tmp, full_check=True)
        except Exception as e:  # noqa: BLE001 - onnx raises ValidationError and others
            raise CaffeCompatError(f"{os.fspath(path)}: the exported ONNX model fails the "
                                   f"checker: {e}") from None
    return path


def random_inputs(net, names, batch=2, seed=0, axes=None):
    """Uniform [0, 1) float32 inputs of ``batch`` items for the input blobs ``names``, on the
    free axis ``axes[name]`` (default 0)."""
    rng = np.random.default_rng(seed)
    out = {}
    for b in names:
        shape = list(net.blob_shape(b))
        if shape:
            shape[(axes or {}).get(b, 0)] = batch
        out[b] = rng.random(tuple(shape), dtype=np.float32)
    return out


def compare_onnxruntime(net, path, inputs=None, batch=2, seed=0):
    """``{output: max |onnxruntime - ours| / max |ours|}`` for one run of the exported file on
    ``inputs`` (default: random uniform inputs of ``batch`` items), by the engines' trust check
    (:func:`caffe_compat.onnx_path.trust.output_error`: detection rows as sets); None
    when onnxruntime is not installed. The session is :mod:`caffe_compat.onnx_path.runtime`'s."""
    from ..onnx_path import runtime
    if not runtime.installed("onnxruntime"):
        return None
    with open(path, "rb") as f:
        run = runtime.session("onnxruntime", f.read(), None, None)
    sess = run.session
    names = [i.name for i in sess.get_inputs()]
    if inputs is None:
        axes = {i.name: list(i.shape).index("batch") for i in sess.get_inputs()
                if "batch" in list(i.shape)}
        inputs = random_inputs(net, names, batch, seed, axes)
    feed = {k: np.ascontiguousarray(inputs[k], np.float32) for k in names}
    outs = [o.name for o in sess.get_outputs()]
    theirs = run(feed)
    with torch.no_grad():
        ours = net.forward(blobs=outs, **feed)
    from ..onnx_path.trust import output_error, set_outputs
    sets = set_outputs(net, outs)
    return {o: output_error(t, ours[o].numpy(), o in sets) for o, t in zip(outs, theirs)}
