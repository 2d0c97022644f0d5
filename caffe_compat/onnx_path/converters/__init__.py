"""One module per Caffe layer type (or family of types) of the torch-free path, each
registering for its types a function that writes the layer as ONNX nodes, or a numpy step run
after the ONNX part for data-dependent results (DetectionOutput has both: the step here, the
nodes for the export). A type's module is imported when a net first asks for it
(``_modules.MODULES``, written by :mod:`.index`); a type without one sends the net to the
torch path.

A converter is ``convert(g, lp, bottoms, blobs) -> [Value, ...]``: ``g`` the
:class:`~caffe_compat.onnx_path.graph.Graph` being written, ``lp`` the LayerParameter,
``bottoms`` the :class:`~caffe_compat.onnx_path.graph.Value` of each bottom (name, shape, the
array of a constant), ``blobs`` the caffemodel's arrays (or None); it raises
:class:`Unsupported` for what it does not reproduce. ``batch_axes(layer) -> {bottom index:
axis}``, where a layer keeps its items off axis 0 (recurrent streams on axis 1): the axes an
export leaves free (:mod:`caffe_compat.export.registry`).
"""
from ._common import (Unsupported, converter, host_converter, kept_claim, lengths_free, load_all,
                      register, registered_types)

__all__ = ["Unsupported", "converter", "host_converter", "kept_claim", "lengths_free", "register",
           "registered_types"]
