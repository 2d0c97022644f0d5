"""One module per Caffe layer type of the torch-free path, each registering a function that
writes the layer as ONNX nodes (or, for a layer with data-dependent results, a numpy step run
after the ONNX part; a type with both, DetectionOutput, runs its numpy step here and gives the
export its ONNX nodes). A type's module is imported the first time a net asks for it
(``_modules.MODULES`` names it, a table written from the registrations by :mod:`.index`); a
type without one sends the net to the torch path.

A converter is ``convert(g, lp, bottoms, blobs) -> [Value, ...]``: ``g`` the
:class:`~caffe_compat.onnx_path.graph.Graph` being written, ``lp`` the layer's LayerParameter,
``bottoms`` the :class:`~caffe_compat.onnx_path.graph.Value` of each bottom (name, shape, and the
array when it is a constant), ``blobs`` the layer's arrays from the caffemodel (None when the
file has none for it). It raises :class:`Unsupported` for anything it does not reproduce.
A converter whose layer keeps its items off axis 0 (Caffe's recurrent layers: the streams on
axis 1) has ``batch_axes(layer) -> {bottom index: axis}`` of the built layer, the axes an
export leaves free (:mod:`caffe_compat.export.registry`).
"""
from ._common import (Unsupported, converter, host_converter, kept_claim, lengths_free, load_all,
                      register, registered_types)

__all__ = ["Unsupported", "converter", "host_converter", "kept_claim", "lengths_free", "register",
           "registered_types"]
