"""The conformance grid's foldable chains: nets of a Convolution, InnerProduct or Deconvolution
followed by BatchNorm (global statistics), Scale, Bias and ReLU in the forms Caffe deploy files
write them (in place or not, with and without biases, a leaky ReLU), and chains whose blobs
another layer reads, which must not fold. Each case names the layers the inference plan
(caffe_compat.inference.fast_inference) takes into another and the BatchNorm scale factor
stored (Caffe's third blob: 0 means the statistics read as zero)."""
from __future__ import annotations

import numpy as np
import torch

HEAD = ('name: "chain"\nlayer { name: "in" type: "Input" top: "data" '
        'input_param { shape { %s } } }\n')
FILLERS = ('weight_filler { type: "uniform" min: -0.5 max: 0.5 } '
           'bias_filler { type: "uniform" min: -0.5 max: 0.5 }')


def head(*dims):
    return HEAD % " ".join(f"dim: {d}" for d in dims)


def conv(name, bottom, top, params="num_output: 4 kernel_size: 3 pad: 1",
         type_name="Convolution"):
    return (f'layer {{ name: "{name}" type: "{type_name}" bottom: "{bottom}" top: "{top}" '
            f'convolution_param {{ {params} {FILLERS} }} }}\n')


def ip(name, bottom, top, params="num_output: 5"):
    return (f'layer {{ name: "{name}" type: "InnerProduct" bottom: "{bottom}" top: "{top}" '
            f'inner_product_param {{ {params} {FILLERS} }} }}\n')


def bn(name, bottom, top, params="use_global_stats: true"):
    return (f'layer {{ name: "{name}" type: "BatchNorm" bottom: "{bottom}" top: "{top}" '
            f'batch_norm_param {{ {params} }} }}\n')


def scale(name, bottom, top, params="bias_term: true"):
    return (f'layer {{ name: "{name}" type: "Scale" bottom: "{bottom}" top: "{top}" '
            f'scale_param {{ {params} }} }}\n')


def bias(name, bottom, top):
    return f'layer {{ name: "{name}" type: "Bias" bottom: "{bottom}" top: "{top}" }}\n'


def relu(name, bottom, top, slope=0.0):
    extra = f" relu_param {{ negative_slope: {slope} }}" if slope else ""
    return f'layer {{ name: "{name}" type: "ReLU" bottom: "{bottom}" top: "{top}"{extra} }}\n'


def layer(name, type_name, bottoms, top, params=""):
    b = " ".join(f'bottom: "{x}"' for x in bottoms)
    return f'layer {{ name: "{name}" type: "{type_name}" {b} top: "{top}" {params} }}\n'


DEPLOY = bn("bn", "c", "c") + scale("sc", "c", "c") + relu("relu", "c", "c")

# case -> (net text, names of the layers folded into another, BatchNorm scale factor)
CHAINS = {
    "conv bn scale relu in place": (
        head(2, 3, 7, 6) + conv("conv", "data", "c") + DEPLOY, {"bn", "sc", "relu"}, 2.5),
    "conv bn scale relu, scale factor 0": (
        head(2, 3, 7, 6) + conv("conv", "data", "c") + DEPLOY, {"bn", "sc", "relu"}, 0.0),
    "conv bn scale relu, moving_average_fraction 0": (
        head(2, 3, 7, 6) + conv("conv", "data", "c")
        + bn("bn", "c", "c", "use_global_stats: true moving_average_fraction: 0")
        + scale("sc", "c", "c") + relu("relu", "c", "c"), {"bn", "sc", "relu"}, 1.0),
    "conv bn (TEST phase default) scale without bias, leaky relu": (
        head(2, 3, 7, 6) + conv("conv", "data", "c") + bn("bn", "c", "c", "")
        + scale("sc", "c", "c", "bias_term: false") + relu("relu", "c", "c", 0.1),
        {"bn", "sc", "relu"}, 0.999),
    "conv without bias, chain not in place": (
        head(2, 3, 7, 6) + conv("conv", "data", "c", "num_output: 4 kernel_size: 3 "
                                "bias_term: false stride: 2")
        + bn("bn", "c", "b") + scale("sc", "b", "s") + relu("relu", "s", "r"),
        {"bn", "sc", "relu"}, 1.0),
    "conv scale axis -3, bias layer, relu": (
        head(2, 3, 7, 6) + conv("conv", "data", "c") + scale("sc", "c", "c", "axis: -3")
        + bias("bias", "c", "c") + relu("relu", "c", "c"), {"sc", "bias", "relu"}, 1.0),
    "depthwise conv bn scale relu": (
        head(1, 4, 8, 8) + conv("conv", "data", "c", "num_output: 4 kernel_size: 3 "
                                "group: 4 pad: 1") + DEPLOY, {"bn", "sc", "relu"}, 1.0),
    "one input channel conv bn scale relu": (
        head(2, 1, 9, 8) + conv("conv", "data", "c", "num_output: 3 kernel_size: 3")
        + DEPLOY, {"bn", "sc", "relu"}, 1.0),
    "residual: conv bn scale + eltwise sum + relu": (
        head(1, 3, 8, 8) + conv("branch1", "data", "a")
        + conv("branch2a", "data", "b") + bn("bn2a", "b", "b") + scale("sc2a", "b", "b")
        + relu("relu2a", "b", "b") + conv("branch2b", "b", "c") + bn("bn2b", "c", "c")
        + scale("sc2b", "c", "c") + layer("sum", "Eltwise", ("a", "c"), "s")
        + relu("relu", "s", "s"),
        {"bn2a", "sc2a", "relu2a", "branch2b", "bn2b", "sc2b", "relu"}, 1.0),
    # chains another layer reads: folding stops at the blob it reads
    "conv read by another layer: bn scale as one affine": (
        head(2, 3, 7, 6) + conv("conv", "data", "c") + bn("bn", "c", "b")
        + scale("sc", "b", "s") + layer("sum", "Eltwise", ("c", "s"), "y"), {"sc"}, 1.0),
    "scale top read twice: the relu stays": (
        head(2, 3, 7, 6) + conv("conv", "data", "c") + bn("bn", "c", "c")
        + scale("sc", "c", "s") + relu("relu", "s", "r")
        + layer("sum", "Eltwise", ("s", "r"), "y"), {"bn", "sc"}, 1.0),
    "scale over two axes: not per channel, not folded": (
        head(2, 3, 7, 6) + conv("conv", "data", "c") + scale("sc", "c", "c", "num_axes: 2")
        + relu("relu", "c", "c"), set(), 1.0),
    # InnerProduct: (N, K) weights scaled per output
    "ip bn scale relu": (
        head(2, 3, 4, 5) + ip("fc", "data", "f") + DEPLOY.replace('"c"', '"f"'),
        {"bn", "sc", "relu"}, 1.5),
    "ip transposed without bias, bn, leaky relu not in place": (
        head(3, 12) + ip("fc", "data", "f", "num_output: 4 transpose: true bias_term: false")
        + bn("bn", "f", "b") + relu("relu", "b", "r", 0.2), {"bn", "relu"}, 1.0),
    # after layers that do not fold: BatchNorm / Scale / ReLU as one x * a + b
    "deconv bn scale relu": (
        head(1, 4, 5, 5) + conv("deconv", "data", "c", "num_output: 2 kernel_size: 4 "
                                "stride: 2 pad: 1", type_name="Deconvolution") + DEPLOY,
        {"sc", "relu"}, 1.0),
    "pooling bn scale relu": (
        head(2, 3, 7, 6) + layer("pool", "Pooling", ("data",), "p",
                                 "pooling_param { pool: MAX kernel_size: 2 stride: 2 }")
        + DEPLOY.replace('"c"', '"p"'), {"sc", "relu"}, 1.0),
}


def fill(net, factor, seed=3):
    """Every parameter drawn (BatchNorm: means, positive variances and the case's scale factor
    as Caffe stores them, the statistics times the factor)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, blobs in net.params.items():
            kind = net.layer(name).type_name
            for i, p in enumerate(blobs):
                shape = tuple(p.shape)
                if kind == "BatchNorm":
                    value = [rng.normal(0, 1, shape) * factor,
                             rng.uniform(0.5, 2.0, shape) * factor, np.full(shape, factor)][i]
                elif kind == "Scale" and i == 0:
                    value = rng.uniform(0.5, 1.5, shape)
                else:
                    value = rng.uniform(-0.5, 0.5, shape)
                p.copy_(torch.from_numpy(np.asarray(value, np.float64)))
