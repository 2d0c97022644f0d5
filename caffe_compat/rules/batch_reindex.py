"""Caffe's BatchReindexLayer rules (batch_reindex_layer.cpp), read by every engine: ``top[i] =
bottom[0][bottom[1][i]]`` along the first axis; the index bottom has exactly one axis, the top
shape is ``(len(bottom[1]),) + bottom[0].shape[1:]``. No parameters."""
from __future__ import annotations

from .refusal import refuse


def batch_reindex_top_shape(layer, bottom_shapes, type_name=None):
    data, idx = (tuple(s) for s in bottom_shapes)
    if len(idx) != 1:
        refuse(layer, f"the index bottom must have exactly one axis, got shape {idx}", None,
               type_name)
    if len(data) < 1:
        refuse(layer, "the data bottom needs at least one axis", None, type_name)
    return (idx[0],) + data[1:]
