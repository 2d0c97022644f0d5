"""Helpers for the unit tests of single layers: build one layer from prototxt text, run it
forward and backward, and print a fixture check's figures."""
import numpy as np
import torch
from google.protobuf import text_format

from caffe_compat.layers import layer_class
from caffe_compat.proto import caffe_pb2


def make_layer(text, *bottom_shapes, phase="TEST"):
    """The layer described by ``text`` (LayerParameter prototxt) for these bottom shapes."""
    lp = text_format.Parse(text, caffe_pb2.LayerParameter())
    return layer_class(lp.type, lp.name)(lp, [tuple(s) for s in bottom_shapes], phase)


def tensor(values, grad=False):
    t = torch.as_tensor(np.asarray(values, dtype=np.float32))
    return t.requires_grad_(grad)


def forward_backward(layer, x, *others, dy=None):
    """(top, dx) for one differentiable bottom ``x``; ``dy`` defaults to ones."""
    x = tensor(x, grad=True)
    y = layer(x, *(tensor(o) for o in others))
    y.backward(torch.ones_like(y) if dy is None else tensor(dy))
    return y.detach().numpy(), x.grad.numpy()


def report(rows):
    """Print the (what, error) rows of check_layer_type; return the largest error."""
    for what, err in rows:
        print(f"  {what:45s} {err:.3g}")
    assert rows, "nothing was compared"
    return max(err for _, err in rows)
