"""Any Caffe net to ONNX: one converter per layer type (``converters/``), opset 17 by default,
the batch axis free.

:func:`build_onnx` walks the layers our :class:`~caffe_compat.Net` runs (splits, in-place
chains and phase rules already resolved), keeps those the requested outputs depend on, and asks
each layer's converter (:mod:`caffe_compat.export.registry`) for its ONNX nodes. Parameters
become initializers; shape-only layers (PriorBox) become constants, since the export keeps the
deploy file's spatial geometry. The graph's inputs and outputs carry the Caffe blob names.
:func:`export_onnx` writes the model atomically after ``onnx.checker``'s full check;
:func:`compare_onnxruntime` runs it in onnxruntime beside our forward.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import CaffeCompatError, NetError
from ..io.atomic import atomic_path
from . import converters  # noqa: F401 - registers the converters
from .graph_builder import LayerContext, OnnxGraph, import_onnx
from .registry import batch_axes, converter_for

# layers that produce nothing an inference graph needs
_NOT_EXPORTED = frozenset({"Silence", "Accuracy"})
PRODUCER = "caffe_compat"
# the version of what build_onnx writes: raise it when a converter changes its nodes, so that
# exports cached by caffe_compat.inference.engines are written again
FORMAT_VERSION = 3


def _is_loss(net, node):
    return bool(getattr(net.layer(node.name), "is_loss", False))


def default_outputs(net):
    """The blobs an inference graph returns by default: the net's outputs (blobs nothing
    consumes) made by layers other than loss, Accuracy and input layers."""
    producers = {}
    for node in net.graph.layers:
        for t in node.tops:
            producers[t] = node
    out = []
    for b in net.outputs:
        node = producers.get(b)
        if node is None or node.type == "Input" or node.type in _NOT_EXPORTED \
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
        if not needed.intersection(node.tops) or node.type in _NOT_EXPORTED:
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
    outputs = list(outputs) if outputs else default_outputs(net)
    steps, inputs = needed_layers(net, outputs)
    g = OnnxGraph(opset)
    for b in list(inputs) + list(outputs):
        if b not in g._names:
            g.reserve(b)
    values = {b: b for b in inputs}
    for node in steps:
        module = net.layer(node.name)
        missing = [b for b in node.bottoms if b not in values]
        if missing:
            raise NetError(f"layer '{node.name}' (type {node.type}): bottom(s) {missing} are "
                           "not computed by the exported part of the net")
        folded = _fold(g, node, module, [values[b] for b in node.bottoms])
        if folded is not None:
            values.update(zip(node.tops, folded))
            continue
        ctx = LayerContext(g, node, module, [values[b] for b in node.bottoms],
                           [net.blob_shape(b) for b in node.bottoms],
                           [net.blob_shape(t) for t in node.tops])
        tops = converter_for(node.type, node.name)(ctx)
        if isinstance(tops, str):
            tops = [tops]
        if len(tops) != len(node.tops):
            raise NetError(f"layer '{node.name}' (type {node.type}): its converter gave "
                           f"{len(tops)} value(s) for {len(node.tops)} top(s)")
        for name, value in zip(node.tops, tops):
            values[name] = value
    _name_outputs(g, values, outputs, inputs)
    used = {i for n in g.nodes for i in n.input} | set(outputs)
    g.initializers = [t for t in g.initializers if t.name in used]
    graph_inputs = []
    axes = _input_batch_axes(net, steps, inputs)
    for b in inputs:
        shape = list(net.blob_shape(b))
        if shape:
            k = axes.get(b, 0)
            shape[k] = "batch" if dynamic_batch else int(batch or shape[k])
        dims = shape
        graph_inputs.append(onnx.helper.make_tensor_value_info(b, onnx.TensorProto.FLOAT, dims))
    graph = onnx.helper.make_graph(g.nodes, net.name or "caffe_net", graph_inputs,
                                   [onnx.helper.make_tensor_value_info(
                                       b, onnx.TensorProto.FLOAT, None) for b in outputs],
                                   initializer=g.initializers)
    model = onnx.helper.make_model(graph, producer_name=PRODUCER,
                                   opset_imports=[onnx.helper.make_opsetid("", g.opset)])
    # the IR version of the opset, not the newest the installed onnx writes, so that older
    # runtimes (onnxruntime, OpenCV) read the file
    model.ir_version = _ir_version(onnx, g.opset)
    _output_types(onnx, model, net, outputs)
    if metadata:
        onnx.helper.set_model_props(model, {str(k): str(v) for k, v in metadata.items()})
    return model


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


def _fold(g, node, module, bottoms):
    """Tops of a layer whose bottoms are all constants (priors and what is made of them),
    computed by our own layer and stored as constants; None otherwise."""
    if not bottoms or any(b not in g.constants for b in bottoms):
        return None
    with torch.no_grad():
        tops = module(*[torch.from_numpy(np.array(g.constants[b])) for b in bottoms])
    if isinstance(tops, torch.Tensor):
        tops = (tops,)
    return [g.const(t.detach().cpu().numpy(), f"{node.name}/{name}")
            for t, name in zip(tops, node.tops)]


def _ir_version(onnx, opset):
    table = getattr(onnx.helper, "VERSION_TABLE", [])
    for row in table:               # (release, ir_version, opset, ...), oldest first
        if row[2] >= opset:
            return row[1]
    return onnx.IR_VERSION


def _name_outputs(g, values, outputs, inputs):
    """Give every requested output blob its Caffe name: rename the value that holds it, or add
    an Identity when that value is a graph input, an initializer or another output."""
    produced = {o for n in g.nodes for o in n.output}
    claimed = set()
    for b in outputs:
        v = values[b]
        if v == b:
            claimed.add(v)
            continue
        if v in produced and v not in claimed and v not in inputs:
            for n in g.nodes:
                for field in (n.input, n.output):
                    for i, name in enumerate(field):
                        if name == v:
                            field[i] = b
            for other, val in values.items():
                if val == v:
                    values[other] = b
        else:
            g.nodes.append(g.onnx.helper.make_node("Identity", [v], [b],
                                                   name=g.fresh(f"{b}/Identity#")))
        claimed.add(b)


def _output_types(onnx, model, net, outputs):
    """Declare each output's rank and the sizes ONNX shape inference finds (free ones named)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(_skeleton(onnx, model))
        found = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    except Exception:  # noqa: BLE001 - shape inference is advisory here
        found = {}
    del model.graph.output[:]
    for b in outputs:
        v = found.get(b)
        if v is not None and v.type.tensor_type.HasField("shape"):
            out = model.graph.output.add()
            out.CopyFrom(v)
            for k, d in enumerate(out.type.tensor_type.shape.dim):
                if not d.HasField("dim_value") and not d.dim_param:
                    d.dim_param = f"{b}_dim{k}"
            continue
        shape = list(net.blob_shape(b))
        dims = [f"{b}_dim{k}" for k in range(len(shape))]
        model.graph.output.append(onnx.helper.make_tensor_value_info(
            b, onnx.TensorProto.FLOAT, dims))


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


def check_model(model, where):
    """``onnx.checker.check_model(full_check=True)``, its failure as a CaffeCompatError."""
    onnx = import_onnx()
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # noqa: BLE001 - onnx raises ValidationError and others
        raise CaffeCompatError(f"{where}: the exported ONNX model fails the checker: {e}") \
            from None


def export_onnx(net, path, outputs=None, dynamic_batch=True, opset=17, metadata=None,
                batch=None):
    """Write ``net`` as an ONNX file (atomically), checked by ``onnx.checker`` (full check).
    See :func:`build_onnx` for the arguments. Returns ``path``."""
    onnx = import_onnx()
    model = build_onnx(net, outputs, dynamic_batch, opset, metadata, batch)
    with atomic_path(path, suffix=".onnx") as tmp:
        onnx.save(model, tmp)
        check_model(tmp, os.fspath(path))
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
    (:func:`caffe_compat.inference.engines.trust.output_error`: detection rows as sets); None
    when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    options = ort.SessionOptions()
    options.log_severity_level = 3              # errors only
    sess = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    if inputs is None:
        axes = {i.name: list(i.shape).index("batch") for i in sess.get_inputs()
                if "batch" in list(i.shape)}
        inputs = random_inputs(net, names, batch, seed, axes)
    feed = {k: np.ascontiguousarray(inputs[k], np.float32) for k in names}
    outs = [o.name for o in sess.get_outputs()]
    theirs = sess.run(outs, feed)
    with torch.no_grad():
        ours = net.forward(blobs=outs, **feed)
    from ..inference.engines.trust import output_error, set_outputs
    sets = set_outputs(net, outs)
    return {o: output_error(t, ours[o].numpy(), o in sets) for o, t in zip(outs, theirs)}
