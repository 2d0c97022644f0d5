"""Caffe's EmbedLayer rules (embed_layer.cpp), read by every engine: ``embed_param``'s
``num_output`` N and ``input_dim`` K (both positive) and ``bias_term`` (default true). Blobs:
the weights ``(K, N)`` (the transpose of InnerProduct's layout), the bias ``(N,)``; top shape
``bottom.shape + (N,)``. Each bottom value is a row index, truncated toward zero."""
from __future__ import annotations

from .record import frozen
from .refusal import refuse

FIELDS = frozenset({"num_output", "input_dim", "bias_term"})
FILLERS = frozenset({"weight_filler", "bias_filler"})


@frozen
class EmbedRule:
    layer: object
    num_output: int
    input_dim: int
    bias_term: bool

    def blob_shapes(self):
        """The blobs' shapes, in Caffe's order."""
        return [(self.input_dim, self.num_output)] + [(self.num_output,)] * self.bias_term

    def fillers(self):
        """The FillerParameter of each blob, in Caffe's order."""
        ep = self.layer.embed_param
        return [ep.weight_filler, ep.bias_filler][:len(self.blob_shapes())]

    def top_shape(self, shape):
        return tuple(shape) + (self.num_output,)


def embed_rule(layer, bottom_shapes=None):
    ep = layer.embed_param
    for name in ("num_output", "input_dim"):
        if getattr(ep, name) <= 0:
            refuse(layer, f"embed_param.{name} must be positive, got {getattr(ep, name)}",
                   f"embed_param.{name}")
    return EmbedRule(layer, int(ep.num_output), int(ep.input_dim), bool(ep.bias_term))
