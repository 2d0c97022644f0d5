"""The layer types whose ONNX nodes the export takes from the torch-free path's converters
(:mod:`caffe_compat.lite.converters`): one converter per type serves both.

A converter of that set writes a layer's nodes from its LayerParameter, its bottoms (name and
shape, or a constant's array) and its caffemodel blobs, into a :class:`caffe_compat.lite.graph.
Graph`; :func:`from_shared` hands it the export's view of the layer (the built layer's blobs
in Caffe's order, as a caffemodel holds them) and copies what it wrote into the export's graph
under fresh names. The types listed in :data:`SHARED_TYPES` are those whose converter writes
no length of the batch axis, so that the exported graph keeps that axis free; the others keep
the export's own converter (``converters/``) until theirs does too.
"""
from __future__ import annotations

import numpy as np

from ...rules.fields import declare, declared
from ..fields import PRIOR_BOX_NO_EFFECT, fillers
from ..registry import register_converter

SHARED_TYPES = ("ReLU", "ReLU6", "PReLU", "Sigmoid", "TanH", "AbsVal", "ELU", "BNLL", "Exp",
                "Log", "Threshold", "Clip", "Softmax", "LRN", "Eltwise", "Concat",
                "Convolution", "Deconvolution", "BatchNorm", "Power", "InnerProduct",
                "Scale", "Bias", "Slice", "Permute", "Crop", "Tile", "ConvolutionDepthwise",
                "Swish", "Mish", "ArgMax", "Normalize", "NormalizeBBox", "Interp", "Axpy",
                "Parameter", "Pooling", "DetectionOutput", "Dropout", "Flatten", "MVN",
                "PriorBox", "PriorBoxClustered", "Reduction", "Reshape", "ShuffleChannel",
                "Split")
# fields some values of which the torch-free path refuses and the export takes (the converter
# takes them where its graph is ``batch_free``), with what the export does with the field (None:
# honoured, else why it has no effect): STOCHASTIC pooling (whose ratio of sums the runtime's
# order of addition moves by more than that path's bound where the sum nearly cancels), and
# the fields the layer does not read, which that path leaves to the torch path's warning (the
# export's net warned when it was built: DetectionOutput's nms_param.eta, PriorBox's img_size)
EXPORT_TAKES = {"Pooling": {"pool": None}, "DetectionOutput": {"nms_param": None},
                **dict.fromkeys(("PriorBox", "PriorBoxClustered"), PRIOR_BOX_NO_EFFECT)}


def from_shared(ctx):
    """The tops of ``ctx``'s layer written by its torch-free converter (module doc)."""
    return written(ctx, ctx.type, ctx.param)


def written(ctx, type_name, param):
    """The tops that the torch-free converter of ``type_name`` writes for a layer of
    LayerParameter ``param`` on ``ctx``'s bottoms and blobs."""
    from ...lite import graph as lite_graph
    from ...lite.converters import Unsupported, converter
    g = ctx.g
    lite = lite_graph.Graph()
    lite.batch_free = True
    bottoms = [lite_graph.Value(name, shape, const=g.constants.get(name))
               for name, shape in zip(ctx.bottoms, ctx.bottom_shapes)]
    blobs = [np.asarray(b.detach().cpu().numpy(), np.float32) for b in ctx.module.blobs]
    try:
        tops = converter(type_name)(lite, param, bottoms, blobs)
    except Unsupported as exc:
        ctx.fail(str(exc))
    renamed = {}
    for name, array, _ in lite.initializer_specs:
        renamed[name] = ctx.const(array, name)
    for op_type, inputs, outputs, _, attrs in lite.node_specs:
        outs = [g.fresh(f"{ctx.name}/{o}") for o in outputs]
        renamed.update(zip(outputs, outs))
        g.nodes.append(g.onnx.helper.make_node(
            op_type, [renamed.get(i, i) for i in inputs], outs,
            name=g.fresh(f"{ctx.name}/{op_type}#"), **attrs))
    return [ctx.const(v.const, "const") if v.name is None else renamed.get(v.name, v.name)
            for v in tops]


register_converter(*SHARED_TYPES)(from_shared)


def _declare_fields():
    """The export's use of each shared type's fields is its torch-free converter's, but for
    the fillers (the converter refuses a missing blob, and the export always passes the built
    net's blobs) and :data:`EXPORT_TAKES`."""
    from ...lite.converters import load_all
    load_all()
    table = declared()
    for type_name in SHARED_TYPES:
        lite = table.get(("lite", type_name))
        if lite is not None:
            given = {f: r for f, r in fillers(lite.message).items() if f in lite.refuses}
            taken = EXPORT_TAKES.get(type_name, {})
            given.update((f, r) for f, r in taken.items() if r is not None)
            declare("onnx", type_name, lite.message,
                    lite.honours | {f for f, r in taken.items() if r is None},
                    lite.refuses - set(given) - set(taken),
                    no_effect={**(lite.no_effect or {}), **given})


_declare_fields()
