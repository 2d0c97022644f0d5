"""Net diagrams through Graphviz (pycaffe's ``caffe.draw`` and ``python/draw_net.py``).

The drawing rules are pycaffe's: one record node per layer (in-place layers green, others
coloured by type: convolutions red, pooling orange, inner products purple, the rest blue)
labelled with its name, type and (for convolution and pooling) kernel size, stride and pad;
one octagon node per blob; edges from bottoms to layers and from layers to tops, labelled
with ``num_output`` or the Data batch size. Legacy (V0/V1) nets are upgraded first.
Needs pydot and Graphviz's ``dot`` program (the ``pycaffe`` extra and the system package).
"""
from __future__ import annotations

import os
import shutil

from ..errors import CaffeCompatError
from ..io.atomic import write_bytes_atomic
from ..proto import caffe_pb2
from ..rules import convolution as conv_rule
from ..rules import inner_product as ip_rule
from ..rules import pooling as pool_rule

LAYER_STYLE_DEFAULT = {"shape": "record", "fillcolor": "#6495ED", "style": "filled"}
NEURON_LAYER_STYLE = {"shape": "record", "fillcolor": "#90EE90", "style": "filled"}
BLOB_STYLE = {"shape": "octagon", "fillcolor": "#E0E0E0", "style": "filled"}
_TYPE_COLORS = {"Convolution": "#FF5050", "Deconvolution": "#FF5050", "Pooling": "#FF9900",
                "InnerProduct": "#CC33FF"}
_LEARNING_TYPES = ("Convolution", "Deconvolution", "InnerProduct")


def _pydot():
    try:
        import pydot
    except ImportError as e:
        raise ImportError("drawing nets needs pydot (and Graphviz's dot program): install the "
                          "pycaffe extra, pip install 'robust-lq-emotion[pycaffe]', and "
                          "Graphviz (e.g. apt-get install graphviz)") from e
    return pydot


def get_pooling_types_dict():
    """{pooling method number: name} (0: MAX, 1: AVE, 2: STOCHASTIC)."""
    return {v.number: k for k, v in
            caffe_pb2.PoolingParameter.PoolMethod.DESCRIPTOR.values_by_name.items()}


def get_edge_label(layer):
    """The label of a layer's top edges: Data batch size, num_output, or empty."""
    if layer.type == "Data":
        return "Batch " + str(layer.data_param.batch_size)
    if layer.type in ("Convolution", "Deconvolution"):
        return str(conv_rule.label_fields(layer)[0])
    if layer.type == "InnerProduct":
        return str(ip_rule.label_fields(layer)[0])
    return '""'


def get_layer_lr_mult(layer):
    """(weight lr_mult, bias lr_mult) of a Convolution, Deconvolution or InnerProduct layer
    (1.0 where unset)."""
    if layer.type not in _LEARNING_TYPES:
        raise ValueError(f"{layer.type} layers do not have a learning rate multiplier")
    specs = list(layer.param)
    if len(specs) > 2:
        raise ValueError(f"layer '{layer.name}': cannot read the learning rate multipliers of "
                         f"{len(specs)} param specs")
    return tuple([s.lr_mult for s in specs] + [1.0] * (2 - len(specs)))


def get_layer_label(layer, rankdir, display_lrm=False):
    """The quoted node label: name, type, spatial parameters (and lr mults)."""
    sep = " " if rankdir in ("TB", "BT") else r"\n"
    parts = [layer.name]
    if layer.type == "Pooling":
        pool, kernel, stride, pad = pool_rule.label_fields(layer)
        parts.append(f"({layer.type} {get_pooling_types_dict()[pool]})")
    else:
        parts.append(f"({layer.type})")
    if layer.type in ("Convolution", "Deconvolution"):
        kernel, stride, pad = conv_rule.label_fields(layer)[1:]
    if layer.type in ("Convolution", "Deconvolution", "Pooling"):
        parts.append(sep.join([f"kernel size: {kernel:d}", f"stride: {stride:d}",
                               f"pad: {pad:d}"]))
    if display_lrm and layer.type in _LEARNING_TYPES:
        m0, m1 = get_layer_lr_mult(layer)
        if m0 or m1:
            parts.append(f"lr mult: {m0:.1f}, {m1:.1f}")
    return '"' + sep.join(parts) + '"'


def choose_color_by_layertype(layertype):
    return _TYPE_COLORS.get(layertype, "#6495ED")


def _included(layer, phase):
    if phase is None:
        return True
    if len(layer.include) and len(layer.exclude):
        raise ValueError(f"layer {layer.name} has both include and exclude specified.")
    included = not len(layer.include)
    for rule in layer.include:
        included = included or rule.phase == phase
    for rule in layer.exclude:
        included = included and rule.phase != phase
    return included


def _layers(net):
    if len(net.layers) and not len(net.layer):      # V1 (or V0) definition: upgrade a copy
        from ..io.upgrade import upgrade_net
        copy = caffe_pb2.NetParameter()
        copy.CopyFrom(net)
        net = upgrade_net(copy)
    return net.layer


def get_pydot_graph(caffe_net, rankdir, label_edges=True, phase=None, display_lrm=False):
    """The pydot graph of a NetParameter (``phase``: 0 TRAIN, 1 TEST, None every layer)."""
    pydot = _pydot()
    graph = pydot.Dot(caffe_net.name or "Net", graph_type="digraph", rankdir=rankdir)
    nodes, edges = {}, []
    for layer in _layers(caffe_net):
        if not _included(layer, phase):
            continue
        label = get_layer_label(layer, rankdir, display_lrm=display_lrm)
        name = f"{layer.name}_{layer.type}"
        if len(layer.bottom) == 1 and len(layer.top) == 1 and layer.bottom[0] == layer.top[0]:
            nodes[name] = pydot.Node(label, **NEURON_LAYER_STYLE)
        else:
            style = dict(LAYER_STYLE_DEFAULT, fillcolor=choose_color_by_layertype(layer.type))
            nodes[name] = pydot.Node(label, **style)
        for bottom in layer.bottom:
            nodes[bottom + "_blob"] = pydot.Node(bottom, **BLOB_STYLE)
            edges.append((bottom + "_blob", name, '""'))
        for top in layer.top:
            nodes[top + "_blob"] = pydot.Node(top)
            edges.append((name, top + "_blob", get_edge_label(layer) if label_edges else '""'))
    for node in nodes.values():
        graph.add_node(node)
    for src, dst, label in edges:
        graph.add_edge(pydot.Edge(nodes[src], nodes[dst], label=label))
    return graph


def draw_net(caffe_net, rankdir, ext="png", phase=None, display_lrm=False):
    """The drawing as bytes in format ``ext`` (png, svg, pdf, ...; ``raw``/``dot`` give the
    dot text without running Graphviz)."""
    graph = get_pydot_graph(caffe_net, rankdir, phase=phase, display_lrm=display_lrm)
    if ext in ("raw", "dot"):
        return graph.to_string().encode("utf-8")
    if shutil.which("dot") is None:
        raise CaffeCompatError("drawing needs Graphviz's 'dot' program on PATH (e.g. apt-get "
                               "install graphviz); use a '.raw' output to get the dot text "
                               "without it")
    return graph.create(format=ext)


def draw_net_to_file(caffe_net, filename, rankdir="LR", phase=None, display_lrm=False):
    """Draw to ``filename`` (atomic), in the format its extension names."""
    ext = os.fspath(filename).rsplit(".", 1)[-1]
    write_bytes_atomic(filename, draw_net(caffe_net, rankdir, ext, phase, display_lrm))
