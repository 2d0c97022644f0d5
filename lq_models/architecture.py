"""Which of the paper's architectures a caffemodel holds, read from its layer signature.

Two families exist in Cheng et al. 2017:

- **CNN+D** (the valence regressor): conv1-conv3 (5x5, 64/128/256 filters, valid), max pooling
  2x2/2, 2x2/2 and 4x4/4 after them, fc4 (300 outputs, ReLU, dropout) and fc5 (1 output). fc4's
  input size K = 256 * p * p depends on the face size through Caffe's pooling arithmetic
  (``out = ceil((in - k) / s) + 1``), so K tells which input sizes the weights fit: K = 6400
  (p = 5) for 93x93 to 108x108 faces, the paper's 96x96 among them.
- **SR-FCN** (the super-resolution net): conv1-conv3 as above (no pooling) and conv4 (1 filter,
  5x5): fully convolutional, any input of at least 17x17, output 16 pixels smaller.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from caffe_compat.proto import caffe_pb2
from caffe_compat.net.signature import input_shapes, layer_signature

__all__ = ["Architecture", "detect_architecture", "describe_architecture", "cnnd_pool3_size",
           "cnnd_input_range", "PAPER_INPUT"]

PAPER_INPUT = 96        # every CNN+D of the paper takes 96x96 faces (LR faces are brought back)
_CONV = (("conv1", 64, 1), ("conv2", 128, 64), ("conv3", 256, 128))
_FC4_OUT = 300


@dataclass(frozen=True)
class Architecture:
    """What a layer signature says: ``family`` ('cnnd' or 'srfcn'), a one-line ``description``,
    and for CNN+D the pool3 size ``pool3`` (p), the square input sizes that give it
    (``input_range``, inclusive) and the input shape declared in the file, if any."""
    family: str
    description: str
    pool3: int | None = None
    input_range: tuple | None = None
    declared_input: tuple | None = None

    def fits_input(self, height, width):
        """True if a ``height`` x ``width`` input gives the fc4 size of these weights."""
        if self.family != "cnnd":
            return height >= 17 and width >= 17
        return cnnd_pool3_size(height) == self.pool3 and cnnd_pool3_size(width) == self.pool3


def _pool(n, k, s):
    return math.ceil((n - k) / s) + 1


def cnnd_pool3_size(n):
    """pool3's side for an input side ``n`` (0 when some layer's output would be empty):
    three valid 5x5 convolutions, each followed by Caffe's ceil-mode max pooling 2/2, 2/2, 4/4."""
    size = int(n)
    for k in (2, 2, 4):
        size -= 4
        if size < 1:
            return 0
        size = _pool(size, k, k)
    return size


def cnnd_input_range(p):
    """(smallest, largest) square input side whose pool3 is ``p`` x ``p``, or None."""
    if p < 1:
        return None
    # pool3 grows by one every 16 input pixels; search a window around 16 p
    sides = [n for n in range(max(1, 16 * p - 32), 16 * p + 48) if cnnd_pool3_size(n) == p]
    return (sides[0], sides[-1]) if sides else None


def _shapes(sig):
    return {s.name: s for s in sig}


def _is_conv_trunk(layers):
    for name, out, inp in _CONV:
        s = layers.get(name)
        if s is None or s.type != "Convolution" or len(s.shapes) != 2:
            return False
        if s.shapes[0] != (out, inp, 5, 5) or s.shapes[1] not in ((out,), (1, 1, 1, out)):
            return False
    return True


def _squeeze(shape):
    shape = tuple(shape)
    while len(shape) > 2 and shape[0] == 1:
        shape = shape[1:]
    return shape


def _read_source(source):
    """(signature, declared 'data' input shape or None) of a path, NetParameter or Net."""
    from caffe_compat.io import caffemodel as caffemodel_io
    from caffe_compat.net.core import Net, load_net_param
    if not isinstance(source, (Net, caffe_pb2.NetParameter)):
        path = os.fspath(source)
        data = caffemodel_io.read_binary_file(path, what="caffemodel or prototxt")
        if caffemodel_io.looks_like_text(data):
            source = Net(load_net_param(path), phase="test")
        else:
            source = caffemodel_io.parse_caffemodel(data, source=path)
    if isinstance(source, Net):
        shape = source.blob_shape("data") if "data" in source.blobs else None
        return layer_signature(source), shape
    return layer_signature(source), input_shapes(source).get("data")


def detect_architecture(source):
    """An :class:`Architecture` for a caffemodel (path or NetParameter), a net prototxt or a
    built Net, or None when its layers are neither the paper's CNN+D nor its SR-FCN."""
    sig, data = _read_source(source)
    layers = _shapes(sig)
    if not _is_conv_trunk(layers):
        return None
    names = set(layers)
    conv4, fc4, fc5 = layers.get("conv4"), layers.get("fc4"), layers.get("fc5")
    if names == {"conv1", "conv2", "conv3", "conv4"}:
        if conv4.type == "Convolution" and len(conv4.shapes) == 2 and \
                conv4.shapes[0] == (1, 256, 5, 5):
            return Architecture("srfcn", "SR-FCN super-resolution net (conv 5x5: 64, 128, 256, "
                                "1; fully convolutional, output 16 pixels smaller than the "
                                "input)")
        return None
    if names != {"conv1", "conv2", "conv3", "fc4", "fc5"}:
        return None
    if fc4.type != "InnerProduct" or fc5.type != "InnerProduct" or len(fc4.shapes) != 2 or \
            len(fc5.shapes) != 2:
        return None
    w4, w5 = _squeeze(fc4.shapes[0]), _squeeze(fc5.shapes[0])
    if len(w4) != 2 or w4[0] != _FC4_OUT or w5 != (1, _FC4_OUT):
        return None
    k = w4[1]
    p = math.isqrt(k // 256)
    if k % 256 or p < 1 or p * p * 256 != k:
        return None
    declared = None
    if data is not None and len(data) == 4 and cnnd_pool3_size(data[2]) == p and \
            cnnd_pool3_size(data[3]) == p:
        declared = (int(data[2]), int(data[3]))
    rng = cnnd_input_range(p)
    base = f"fc4 K = {k} = 256x{p}x{p}"
    if declared is not None:
        text = f"CNN+D regressor, {declared[0]}x{declared[1]} input ({base})"
    elif rng[0] <= PAPER_INPUT <= rng[1]:
        text = (f"CNN+D regressor, {PAPER_INPUT}x{PAPER_INPUT} input ({base}; any square input "
                f"from {rng[0]} to {rng[1]} pixels fits)")
    else:
        text = (f"CNN+D regressor, {rng[0]}x{rng[0]} to {rng[1]}x{rng[1]} input ({base}; "
                f"not the paper's {PAPER_INPUT}x{PAPER_INPUT})")
    return Architecture("cnnd", text, pool3=p, input_range=rng, declared_input=declared)


def describe_architecture(net_param):
    """One line naming the architecture of a caffemodel's NetParameter (or path), or None.

    For ``caffe-compat inspect``: e.g. ``"CNN+D regressor, 96x96 input (fc4 K = 6400 =
    256x5x5; ...)"`` or ``"SR-FCN super-resolution net (...)"``.
    """
    arch = detect_architecture(net_param)
    return None if arch is None else arch.description
