"""Net definitions and seeded weights shared by the OpenCV 4 fixture script and the tests.

Every case is a prototxt written here (no public file is copied: the SSD face detector and
MobileNet-SSD are regenerated layer by layer with the structure and parameters of their public
deploy files), weights drawn from ``numpy.random.RandomState`` (whose streams numpy keeps
frozen), and inputs. ``make_fixtures.py`` runs OpenCV 4's ``readNetFromCaffe`` on the same text
and weights and stores OpenCV's outputs; the tests rebuild the same net and compare.
"""
import hashlib

import numpy as np
import torch

from caffe_compat import Net

# ------------------------------------------------------------------------------ text helpers


def layer(name, type_, bottoms, params="", tops=None):
    tops = tops or [name]
    return (f'layer {{ name: "{name}" type: "{type_}" '
            + "".join(f'bottom: "{b}" ' for b in bottoms)
            + "".join(f'top: "{t}" ' for t in tops) + params + " }\n")


def inputs_text(inputs):
    """Deprecated-style net inputs (``input:`` + ``input_shape``), as the public deploy files."""
    return "".join(f'input: "{n}"\ninput_shape {{ '
                   + " ".join(f"dim: {d}" for d in s) + " }\n" for n, s in inputs.items())


def conv(name, bottom, num, k, stride=1, pad=0, group=1, bias=True, dilation=1, type_=None):
    spec = f"num_output: {num} kernel_size: {k}"
    spec += f" stride: {stride}" if stride != 1 else ""
    spec += f" pad: {pad}" if pad else ""
    spec += f" group: {group}" if group != 1 else ""
    spec += f" dilation: {dilation}" if dilation != 1 else ""
    spec += "" if bias else " bias_term: false"
    return layer(name, type_ or "Convolution", [bottom], f"convolution_param {{ {spec} }}")


def relu(name, blob):
    return layer(name, "ReLU", [blob], tops=[blob])


def bn_scale(prefix, blob):
    return (layer(prefix + "_bn", "BatchNorm", [blob], tops=[blob])
            + layer(prefix + "_scale", "Scale", [blob], "scale_param { bias_term: true }",
                    tops=[blob]))


# ------------------------------------------------------------------------------ weights

def fill_weights(net, seed, gains=None, scales=None, variances=None):
    """Seeded weights for every parameter blob of ``net`` (layer order, blob order); returns
    the sha256 of their bytes. Convolution / InnerProduct: uniform with He's variance times
    ``gains[layer]``; biases small; BatchNorm: positive variances, factor 1; Scale: near 1;
    Normalize: ``scales[layer]`` range (default 0.5..2); BatchNorm variances in
    ``variances[layer]`` (default 0.5..1.5)."""
    rng = np.random.RandomState(seed)
    gains = gains or {}
    scales = scales or {}
    variances = variances or {}
    digest = hashlib.sha256()
    with torch.no_grad():
        for name, blobs in net.params.items():
            kind = net.layer(name).type_name
            values = []
            if kind == "BatchNorm":
                c = blobs[0].shape
                lo, hi = variances.get(name, (0.5, 1.5))
                values = [rng.uniform(-0.2, 0.2, c), rng.uniform(lo, hi, c), np.ones(1)]
                values += [rng.uniform(0.8, 1.2, b.shape) for b in blobs[3:]]
            elif kind == "Scale":
                values = [rng.uniform(0.8, 1.2, blobs[0].shape)]
                values += [rng.uniform(-0.1, 0.1, b.shape) for b in blobs[1:]]
            elif kind in ("Normalize", "NormalizeBBox"):
                lo, hi = scales.get(name, (0.5, 2.0))
                values = [rng.uniform(lo, hi, blobs[0].shape)]
            else:
                w = blobs[0]
                fan_in = int(np.prod(w.shape[1:])) if w.dim() > 1 else 1
                bound = np.sqrt(6.0 / max(fan_in, 1)) * gains.get(name, 1.0)
                values = [rng.uniform(-bound, bound, w.shape)]
                values += [rng.uniform(-0.1, 0.1, b.shape) for b in blobs[1:]]
            for blob, v in zip(blobs, values):
                arr = np.asarray(v, np.float32).reshape(tuple(blob.shape))
                blob.copy_(torch.from_numpy(arr))
                digest.update(arr.tobytes())
    return digest.hexdigest()


def build(case):
    """(net, weights sha256) for a case of CASES."""
    net = Net(case["text"], phase="test")
    return net, fill_weights(net, case.get("seed", 0), case.get("gains"), case.get("scales"),
                             case.get("variances"))


def random_inputs(shapes, seed, positive=()):
    rng = np.random.RandomState(seed)
    out = {}
    for name, shape in shapes.items():
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        out[name] = np.abs(x) + np.float32(0.05) if name in positive else x
    return out


def rois(rng, n, batch, width, height, extra=()):
    """ROIs ``[batch index, x1, y1, x2, y2]`` in image pixels, some partly outside."""
    x1 = rng.uniform(-0.1 * width, 0.8 * width, n)
    y1 = rng.uniform(-0.1 * height, 0.8 * height, n)
    x2 = x1 + rng.uniform(1, 0.6 * width, n)
    y2 = y1 + rng.uniform(1, 0.6 * height, n)
    idx = rng.randint(0, batch, n)
    out = np.stack([idx, x1, y1, x2, y2], 1).astype(np.float32)
    if len(extra):
        out = np.concatenate([out, np.asarray(extra, np.float32)])
    return out
