"""Seeded random weights for the client programs' nets (``scripts/``), written as a .caffemodel
with protobuf alone (the same bytes under OpenCV 4, OpenCV 5 and any machine: the tests check
the sha256 recorded with the fixtures).

The blob shapes come from the prototxt (:func:`param_shapes`: channels carried from layer to
layer, as Caffe's ``LayerSetUp`` sizes them), so no net is built to write its weights.

Calibration (:func:`draw`), so that outputs are not degenerate: every Convolution,
Deconvolution and InnerProduct weight is drawn N(0, 2 / fan-in) (He et al. 2015), which keeps a
ReLU net's activations at the scale of its input; the first layer's gain divides by the input's
spread (``Program.input_gain``: pixel values minus a mean spread about 60, so 1/60) and the
output layers' gains put logits, heat maps and edge maps at about unit spread (measured on the
photograph, ``Program.gains``). Biases are N(0, 0.05); BatchNorm holds mean 0 +- 0.1,
variance in [0.5, 1.5] and factor 1; Scale multipliers lie in [0.5, 1.5]. A Deconvolution
with ``lr_mult: 0`` (HED's fixed upsampling) holds the bilinear kernel Caffe's ``bilinear``
filler writes, not random values.
"""
import hashlib

import numpy as np

from caffe_compat.io.caffemodel import array_to_blob, caffemodel_bytes
from caffe_compat.proto import caffe_pb2

WEIGHTED = {"Convolution", "Deconvolution", "InnerProduct"}


def parse(text):
    """The NetParameter of prototxt ``text`` (layers in file order; V1 files are not used)."""
    from google.protobuf import text_format
    return text_format.Parse(text, caffe_pb2.NetParameter())


def _input_channels(net):
    shapes = {}
    for i, name in enumerate(net.input):
        if net.input_shape:
            shapes[name] = list(net.input_shape[i].dim)
        else:
            shapes[name] = list(net.input_dim[4 * i:4 * i + 4])
    for layer in net.layer:
        if layer.type == "Input":
            for top, shape in zip(layer.top, layer.input_param.shape):
                shapes[top] = list(shape.dim)
    return {name: dims[1] for name, dims in shapes.items()}


def param_shapes(text, flat_inputs=None):
    """[(layer name, type, [blob shapes], frozen)] for every layer that holds blobs, in file
    order. ``flat_inputs`` gives an InnerProduct's input size (C x H x W of its bottom), which
    channels alone do not tell."""
    net = parse(text)
    channels = _input_channels(net)
    out = []
    for layer in net.layer:
        if layer.type == "Input":
            continue
        c = channels.get(layer.bottom[0]) if layer.bottom else None
        t = layer.type
        n = c
        shapes = []
        if t in ("Convolution", "Deconvolution"):
            cp = layer.convolution_param
            n = cp.num_output
            k = list(cp.kernel_size) or [cp.kernel_h, cp.kernel_w]
            kh, kw = (k[0], k[0]) if len(k) == 1 else k[:2]
            g = cp.group or 1
            shapes = [(n, c // g, kh, kw)] if t == "Convolution" else [(c, n // g, kh, kw)]
            if cp.bias_term:
                shapes.append((n,))
        elif t == "InnerProduct":
            ip = layer.inner_product_param
            n = ip.num_output
            shapes = [(n, (flat_inputs or {})[layer.name])]
            if ip.bias_term:
                shapes.append((n,))
        elif t == "BatchNorm":
            shapes = [(c,), (c,), (1,)]
        elif t == "Scale" and len(layer.bottom) == 1:
            shapes = [(c,)] + ([(c,)] if layer.scale_param.bias_term else [])
        elif t == "Concat":
            n = sum(channels[b] for b in layer.bottom)
        frozen = bool(layer.param) and all(p.lr_mult == 0 for p in layer.param)
        if shapes:
            out.append((layer.name, t, shapes, frozen))
        for top in layer.top:
            channels[top] = n
    return out


def bilinear(shape):
    """Caffe's ``bilinear`` filler: every (input, output) kernel the bilinear upsampling one."""
    k = shape[-1]
    f = np.ceil(k / 2.0)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    x = np.arange(k)
    w = 1 - np.abs(x / f - c)
    return np.broadcast_to(np.outer(w, w), shape).astype(np.float32)


def bilinear_diagonal(shape):
    """FCN's ``surgery.interp``: the bilinear kernel from channel i to channel i only."""
    kernel = bilinear(shape)[0, 0]
    out = np.zeros(shape, np.float32)
    for i in range(min(shape[0], shape[1])):
        out[i, i] = kernel
    return out


def draw(layers, seed, input_gain=1.0, gains=None, first=None):
    """A NetParameter holding seeded blobs for ``layers`` (from :func:`param_shapes`).
    ``first`` names the layer that reads the input (its weights get ``input_gain``)."""
    rng = np.random.default_rng(seed)
    gains = gains or {}
    net = caffe_pb2.NetParameter(name="seeded")
    for name, t, shapes, frozen in layers:
        lp = net.layer.add(name=name, type=t)
        gain = gains.get(name, 1.0) * (input_gain if name == first else 1.0)
        for i, shape in enumerate(shapes):
            if t == "BatchNorm":
                a = [rng.normal(0, 0.1, shape), rng.uniform(0.5, 1.5, shape), np.ones(shape)][i]
            elif t == "Scale":
                a = rng.uniform(0.5, 1.5, shape) if i == 0 else rng.normal(0, 0.1, shape)
            elif t == "Deconvolution" and frozen and i == 0:
                a = bilinear(shape)
            elif i == 1:
                a = rng.normal(0, 0.05, shape)
            else:
                fan_in = shape[0] * shape[2] * shape[3] if t == "Deconvolution" else \
                    int(np.prod(shape[1:]))
                a = rng.normal(0, gain * np.sqrt(2.0 / fan_in), shape)
            lp.blobs.add().CopyFrom(array_to_blob(np.asarray(a, np.float32)))
    return net


def write(path, text, seed, input_gain=1.0, gains=None, first=None, flat_inputs=None,
          override=None, bias_shift=None):
    """Write the seeded caffemodel for prototxt ``text`` to ``path``; returns its sha256.
    ``override`` maps a layer name to the exact arrays it holds instead; ``bias_shift`` maps
    a layer name to values added to its drawn bias."""
    net = draw(param_shapes(text, flat_inputs), seed, input_gain, gains, first)
    for layer in net.layer:
        if bias_shift and layer.name in bias_shift:
            from caffe_compat.io.caffemodel import blob_to_array
            bias = blob_to_array(layer.blobs[1]) + np.asarray(bias_shift[layer.name])
            layer.blobs[1].CopyFrom(array_to_blob(np.asarray(bias, np.float32)))
        if override and layer.name in override:
            del layer.blobs[:]
            for a in override[layer.name]:
                layer.blobs.add().CopyFrom(array_to_blob(np.asarray(a, np.float32)))
    data = caffemodel_bytes(net)
    with open(path, "wb") as fh:
        fh.write(data)
    return hashlib.sha256(data).hexdigest()
