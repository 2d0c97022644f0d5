"""Small builders for the layer tests: one layer from its prototxt text, or a net around it."""
import numpy as np
import torch
from google.protobuf import text_format

from caffe_compat import Net
from caffe_compat.layers import layer_class
from caffe_compat.proto import caffe_pb2


def layer_param(text):
    """A LayerParameter from its text form (the inside of ``layer { ... }``)."""
    return text_format.Parse(text, caffe_pb2.LayerParameter())


def make_layer(text, *bottom_shapes, phase="TEST"):
    """The registered module for ``text`` set up for ``bottom_shapes`` (no fillers run)."""
    lp = layer_param(text)
    return layer_class(lp.type, lp.name)(lp, [tuple(s) for s in bottom_shapes], phase)


def layer_grads(text, x, blobs, grad):
    """Run ``x`` (array) through a fresh layer for ``text`` whose parameter blobs are set to
    ``blobs`` (arrays, Caffe's order) and back-propagate ``grad`` (tensor) from its top:
    ``[top, bottom gradient, *blob gradients]`` as tensors."""
    layer = make_layer(text, x.shape)
    for blob, value in zip(layer.blobs, blobs):
        blob.data.copy_(torch.from_numpy(value))
    xt = torch.from_numpy(x).requires_grad_()
    y = layer(xt)
    y.backward(grad)
    return [y.detach(), xt.grad] + [blob.grad for blob in layer.blobs]


def input_net(inputs, layers_text, phase="test", force_backward=True):
    """A net with one Input layer (``inputs``: blob name -> shape) followed by ``layers_text``."""
    tops = "".join(f'  top: "{name}"\n' for name in inputs)
    shapes = "".join("    shape { " + " ".join(f"dim: {d}" for d in s) + " }\n"
                     for s in inputs.values())
    text = (f"name: \"t\"\nforce_backward: {'true' if force_backward else 'false'}\n"
            f"layer {{\n  name: \"input\"\n  type: \"Input\"\n{tops}"
            f"  input_param {{\n{shapes}  }}\n}}\n{layers_text}")
    return Net(text, phase=phase, keep_diffs=True)


def leaf(array, dtype=torch.float64):
    """A tensor that collects a gradient (float64 for exact comparisons in unit tests)."""
    return torch.tensor(np.asarray(array), dtype=dtype, requires_grad=True)


def report(name, checked):
    """Print the figures of a fixture check (shown with ``pytest -s``)."""
    fwd = max([e for w, e in checked if ": top " in w], default=0.0)
    bwd = max([e for w, e in checked if ": top " not in w], default=0.0)
    print(f"\n{name}: {len(checked)} comparisons, max forward error {fwd:.3g}, "
          f"max backward error {bwd:.3g}")
    for what, err in checked:
        print(f"  {what}: {err:.3g}")
    return fwd, bwd


FLT_MAX = float(np.finfo(np.float32).max)


def caffe_pool_size(length, kernel, stride, pad, ceil=True):
    """Caffe's PoolingLayer output size, including the rule that drops a last window starting
    in the padding."""
    span = length + 2 * pad - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if pad and (out - 1) * stride >= length + pad:
        out -= 1
    return out


def caffe_pool_reference(x, kernel, stride, pad, method="MAX", ceil=True):
    """Caffe's CPU pooling loop, element by element, for a (N, C, H, W) array: returns the top
    and, for MAX, the mask (flat index h * W + w of the first maximum, -1 for an empty window)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    n, c, h, w = x.shape
    oh, ow = caffe_pool_size(h, kh, sh, ph, ceil), caffe_pool_size(w, kw, sw, pw, ceil)
    top = np.zeros((n, c, oh, ow))
    mask = np.full((n, c, oh, ow), -1.0)
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * sh - ph, j * sw - pw
            he, we = min(hs + kh, h + ph), min(ws + kw, w + pw)
            pool_size = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            for a in range(n):
                for b in range(c):
                    if method == "AVE":
                        top[a, b, i, j] = x[a, b, hs:he, ws:we].sum() / pool_size
                        continue
                    best, where = -FLT_MAX, -1
                    for y in range(hs, he):
                        for z in range(ws, we):
                            if x[a, b, y, z] > best:
                                best, where = x[a, b, y, z], y * w + z
                    top[a, b, i, j], mask[a, b, i, j] = best, where
    return top, mask
