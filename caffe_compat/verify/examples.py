"""Generated nets for ``caffe-compat verify``: one small net per example of a layer type.

``EXAMPLES`` maps a Caffe layer type to examples (bottom shapes and kinds, the layer's own
fields); a registered type without an entry gets ``GENERIC`` (one float bottom 2x3x4x5, no
fields), so a new layer module is covered as soon as it registers. ``case_net`` makes a net
both engines run: differentiable bottoms come from Parameter layers holding the input values
(their gradients are those Parameters'; no ``force_backward``, which Caffe would also force
into index and label bottoms), other bottoms (labels, indices, shapes) from an Input layer;
the layer under test is ``layer``, its tops ``t0, t1, ...``; unless it is a loss, every top
feeds an EuclideanLoss head against a random target, which drives one backward pass.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .data_examples import data_examples


@dataclass(frozen=True)
class Bottom:
    shape: tuple
    kind: str = "float"      # float | positive | unit | prob | label | index | binary
    high: int = 0            # label / index: values in [0, high)
    grad: bool = True        # differentiable: fed by a Parameter layer
    # the kinds drawn uniformly: (low, high)
    _UNIFORM = {"float": (-1, 1), "positive": (0.2, 2.0), "unit": (0.02, 0.98)}

    def values(self, rng):
        s = self.shape
        if self.kind in self._UNIFORM:
            return rng.uniform(*self._UNIFORM[self.kind], s)
        if self.kind == "prob":
            e = np.exp(rng.uniform(-2, 2, s))
            return e / e.sum(axis=1, keepdims=True)
        if self.kind == "binary":
            v = (rng.uniform(0, 1, s) > 0.5).astype(float)
            v.flat[0], v.flat[-1] = 0.0, 1.0        # both values present
            return v
        if self.kind == "label":
            return rng.randint(0, self.high, s)
        if self.kind == "index":          # with repeats, so gradients accumulate
            v = rng.randint(0, self.high, s)
            v.flat[:2] = v.flat[0]
            return v
        if self.kind == "cont":           # recurrent sequence continuation: 0 then 1s
            v = np.ones(s)
            v[0] = 0
            return v
        raise ValueError(f"unknown bottom kind {self.kind!r}")


def F(*shape):
    return Bottom(shape)


def Fx(*shape):                 # a float bottom that gets no gradient (shape reference, ...)
    return Bottom(shape, grad=False)


def P(*shape):
    return Bottom(shape, "positive")


def L(shape, high):
    return Bottom(tuple(shape), "label", high, grad=False)


@dataclass(frozen=True)
class Example:
    bottoms: tuple = ()
    fields: str = ""          # the layer's own prototxt fields
    tops: int = 1
    backward: bool = True     # Caffe implements this layer's backward pass
    loss: bool = False        # a loss layer (no EuclideanLoss heads)
    forwards: int = 1         # forward passes compared (data layers: wrap-around)
    files: object = None      # callable(folder, rng): files the layer reads
    top_names: tuple = ()     # names of the tops when they matter (HDF5Data: the datasets)
    phase: str = "TEST"       # the phase both engines build the net in
    seed: int = 1             # Caffe::set_random_seed before the net is built (data layers)
    head: str = "euclidean"   # loss heads: EuclideanLoss against a target, or "sumsq" (a
    #                           Reduction SUMSQ with loss_weight 1, for tops whose shape Caffe
    #                           only knows after the first forward: no target to match)

    def top_list(self):
        return list(self.top_names) or [f"t{k}" for k in range(self.tops)]


def _hdf5_files(folder, rng):
    import h5py
    with h5py.File(folder / "data.h5", "w") as f:
        f.create_dataset("data", data=rng.uniform(0, 1, (5, 2, 3, 4)).astype(np.float32))
        f.create_dataset("label", data=rng.uniform(-1, 1, (5, 1)).astype(np.float32))
    (folder / "list.txt").write_text("data.h5\n")


IMG = (2, 3, 6, 7)
EXAMPLES = {
    "AbsVal": [Example((F(*IMG),))],
    "Accuracy": [Example((Fx(4, 5), L((4,), 5)), "accuracy_param { top_k: 2 }", backward=False)],
    "ArgMax": [Example((Fx(*IMG),), "argmax_param { top_k: 3 out_max_val: true }",
                       backward=False),
               Example((Fx(*IMG),), "argmax_param { axis: 1 top_k: 2 }", backward=False)],
    "BNLL": [Example((F(*IMG),))],
    "BatchNorm": [Example((F(*IMG),), "batch_norm_param { use_global_stats: true eps: 0.001 }")],
    "BatchReindex": [Example((F(5, 3), Bottom((6,), "index", 5, grad=False)))],
    "Bias": [Example((F(*IMG),), "bias_param { axis: 1 num_axes: 1 }"),
             Example((F(*IMG), F(3, 6)), "bias_param { axis: 1 }")],
    "Clip": [Example((F(*IMG),), "clip_param { min: -0.5 max: 0.6 }")],
    "Concat": [Example((F(*IMG), F(2, 2, 6, 7)), "concat_param { axis: 1 }"),
               Example((F(*IMG), F(2, 3, 2, 7)), "concat_param { axis: 2 }")],
    "ContrastiveLoss": [Example((F(4, 3), F(4, 3), Bottom((4,), "binary", grad=False)),
                                "contrastive_loss_param { margin: 1.0 }", loss=True)],
    "Convolution": [
        Example((F(2, 3, 7, 8),), "convolution_param { num_output: 4 kernel_size: 3 pad: 1 "
                "stride: 2 }"),
        Example((F(2, 6, 9, 9),), "convolution_param { num_output: 6 kernel_size: 3 group: 3 "
                "dilation: 2 }"),
        Example((F(2, 3, 6, 9),), "convolution_param { num_output: 2 kernel_h: 2 kernel_w: 4 "
                "pad_h: 1 pad_w: 0 stride_h: 1 stride_w: 2 bias_term: false }")],
    "Crop": [Example((F(2, 3, 6, 7), Fx(2, 3, 4, 5)), "crop_param { axis: 2 offset: 1 "
                     "offset: 2 }")],
    "Deconvolution": [Example((F(2, 3, 4, 5),), "convolution_param { num_output: 2 "
                              "kernel_size: 4 stride: 2 pad: 1 }")],
    "Dropout": [Example((F(*IMG),), "dropout_param { dropout_ratio: 0.3 }")],
    "DummyData": [Example((), "dummy_data_param { shape { dim: 2 dim: 3 } data_filler { "
                              'type: "constant" value: 0.5 } }', backward=False)],
    "ELU": [Example((F(*IMG),), "elu_param { alpha: 0.7 }")],
    "Eltwise": [Example((F(*IMG), F(*IMG)), "eltwise_param { operation: SUM coeff: 0.5 "
                        "coeff: -1.5 }"),
                Example((F(*IMG), F(*IMG), F(*IMG)), "eltwise_param { operation: PROD }"),
                Example((F(*IMG), F(*IMG)), "eltwise_param { operation: MAX }")],
    "Embed": [Example((L((2, 5), 10),), "embed_param { num_output: 3 input_dim: 10 "
                      "bias_term: true }")],
    "EuclideanLoss": [Example((F(4, 5), F(4, 5)), loss=True)],
    "Exp": [Example((F(*IMG),), "exp_param { scale: 0.5 shift: 0.1 }"),
            Example((F(*IMG),), "exp_param { base: 2 }")],
    # Caffe sizes Filter's top by the whole batch when the net is built, so an EuclideanLoss
    # against a target of the filtered size fails its shape check there: a SUMSQ head instead
    "Filter": [Example((F(4, 3), Bottom((4, 1), "binary", grad=False)), head="sumsq")],
    "Flatten": [Example((F(*IMG),)), Example((F(*IMG),), "flatten_param { axis: 2 }")],
    "HDF5Data": [Example((), "hdf5_data_param { source: \"list.txt\" batch_size: 2 }", tops=2,
                         backward=False, forwards=3, files=_hdf5_files,
                         top_names=("data", "label"))],
    "HingeLoss": [Example((F(4, 5), L((4,), 5)), loss=True),
                  Example((F(4, 5), L((4,), 5)), "hinge_loss_param { norm: L2 }", loss=True)],
    "Im2col": [Example((F(2, 3, 6, 7),), "convolution_param { kernel_size: 3 stride: 2 "
                       "pad: 1 }")],
    "InfogainLoss": [Example((Bottom((4, 5), "prob"), L((4,), 5), Bottom((5, 5), "unit",
                                                                      grad=False)), loss=True)],
    "InnerProduct": [Example((F(2, 3, 4, 5),), "inner_product_param { num_output: 6 }"),
                     Example((F(2, 3, 4, 5),), "inner_product_param { num_output: 3 axis: 2 }"),
                     Example((F(4, 7),), "inner_product_param { num_output: 5 transpose: true "
                             "bias_term: false }")],
    "LRN": [Example((F(2, 5, 4, 5),), "lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 }"),
            Example((F(2, 5, 4, 5),), "lrn_param { local_size: 3 alpha: 0.3 beta: 0.6 "
                    "norm_region: WITHIN_CHANNEL }")],
    "LSTM": [Example((F(3, 2, 4), Bottom((3, 2), "cont", grad=False)),
                     "recurrent_param { num_output: 5 }")],
    "LSTMUnit": [Example((F(1, 2, 3), F(1, 2, 12), Bottom((1, 2), "binary", grad=False)),
                         tops=2)],
    "Log": [Example((P(*IMG),), "log_param { scale: 0.5 shift: 0.1 }"),
            Example((P(*IMG),), "log_param { base: 10 }")],
    "MVN": [Example((F(*IMG),)),
            Example((F(*IMG),), "mvn_param { across_channels: true normalize_variance: false }")],
    "MultinomialLogisticLoss": [Example((Bottom((4, 5), "prob"), L((4,), 5)), loss=True)],
    "PReLU": [Example((F(*IMG),)), Example((F(*IMG),), "prelu_param { channel_shared: true }")],
    "Parameter": [Example((), "parameter_param { shape { dim: 2 dim: 3 } }")],
    "Pooling": [
        Example((F(2, 3, 7, 8),), "pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }"),
        Example((F(2, 3, 7, 8),), "pooling_param { pool: AVE kernel_size: 3 stride: 2 }"),
        Example((F(2, 3, 10, 13),), "pooling_param { pool: AVE kernel_size: 4 stride: 3 "
                "pad: 2 }"),
        Example((F(2, 3, 7, 8),), "pooling_param { pool: MAX global_pooling: true }")],
    "Power": [Example((F(*IMG),), "power_param { power: 2 scale: 0.5 shift: 0.1 }"),
              Example((P(*IMG),), "power_param { power: 0.5 scale: 1.5 shift: 0.2 }")],
    "RNN": [Example((F(3, 2, 4), Bottom((3, 2), "cont", grad=False)),
                    "recurrent_param { num_output: 5 }")],
    "ReLU": [Example((F(*IMG),)), Example((F(*IMG),), "relu_param { negative_slope: 0.1 }")],
    "Reduction": [Example((F(2, 3, 4),), "reduction_param { operation: SUM axis: 1 }"),
                  Example((F(2, 3, 4),), "reduction_param { operation: ASUM axis: 1 coeff: 2 }"),
                  Example((F(2, 3, 4),), "reduction_param { operation: SUMSQ axis: 1 }"),
                  Example((F(2, 3, 4),), "reduction_param { operation: MEAN axis: 2 "
                          "coeff: -0.5 }")],
    "Reshape": [Example((F(2, 3, 4, 5),), "reshape_param { shape { dim: 0 dim: -1 dim: 10 } }"),
                Example((F(2, 3, 4, 5),), "reshape_param { shape { dim: 2 dim: 10 } axis: 2 "
                        "num_axes: 2 }")],
    "SPP": [Example((F(2, 3, 8, 9),), "spp_param { pyramid_height: 2 pool: MAX }")],
    "Scale": [Example((F(*IMG),), "scale_param { axis: 1 num_axes: 1 bias_term: true }"),
              Example((F(*IMG), F(2, 3)), "scale_param { axis: 0 }")],
    "Sigmoid": [Example((F(*IMG),))],
    "SigmoidCrossEntropyLoss": [Example((F(4, 5), Bottom((4, 5), "unit", grad=False)),
                                        loss=True)],
    "Silence": [Example((Fx(*IMG),), tops=0, backward=False)],
    "Slice": [Example((F(2, 5, 4, 5),), "slice_param { axis: 1 slice_point: 1 slice_point: 3 }",
                      tops=3),
              Example((F(*IMG),), "slice_param { axis: 2 }", tops=2)],
    "Softmax": [Example((F(*IMG),)), Example((F(*IMG),), "softmax_param { axis: 2 }")],
    "SoftmaxWithLoss": [Example((F(4, 5), L((4,), 5)), "loss_param { ignore_label: 1 "
                                "normalization: VALID }", loss=True),
                        Example((F(2, 4, 3, 3), L((2, 1, 3, 3), 4)), loss=True)],
    "Split": [Example((F(*IMG),), tops=2)],
    "Swish": [Example((F(*IMG),), "swish_param { beta: 1.5 }")],
    "TanH": [Example((F(*IMG),))],
    "Threshold": [Example((Fx(*IMG),), "threshold_param { threshold: 0.1 }", backward=False)],
    "Tile": [Example((F(2, 3, 4),), "tile_param { axis: 1 tiles: 2 }")],
}
EXAMPLES.update(data_examples(Example))
GENERIC = Example((F(2, 3, 4, 5),))
# Types whose check needs more than generated arrays (databases, image files, a Python module,
# an output file, arrays set through pycaffe), with the reason; Input feeds every other check.
NOT_GENERATED = {
    "MemoryData": "takes arrays through pycaffe's set_input_arrays",
    "HDF5Output": "writes a file and has no tops",
    "Python": "runs a user's Python module",
    "Input": "feeds every other check",
}


# Parameter values by layer type: (rng, blob index, shape) -> array.
def _uniform(lo, hi):
    return lambda rng, i, shape: rng.uniform(lo, hi, shape)


def _batch_norm(rng, i, shape):
    factor = 2.5                    # Caffe divides the stored mean and variance by blob 2
    return (rng.uniform(-0.5, 0.5, shape) * factor, rng.uniform(0.5, 1.5, shape) * factor,
            np.full(shape, factor))[i]


PARAMS = {"BatchNorm": _batch_norm, "PReLU": _uniform(0.05, 0.5)}
DEFAULT_PARAMS = _uniform(-0.5, 0.5)


def examples_for(type_name):
    """The examples of ``type_name`` (GENERIC when it has none)."""
    return EXAMPLES.get(type_name, [GENERIC])


def seed_of(name):
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def _shape_text(shape):
    return "shape { " + " ".join(f"dim: {d}" for d in shape) + " }"


def case_net(type_name, example, top_shapes=None):
    """Prototxt text of the example's net; ``top_shapes`` (None: without loss heads) gives
    the shapes of the targets of the EuclideanLoss heads."""
    ex = example
    inputs, lines = [], []
    bottoms = []
    for k, b in enumerate(ex.bottoms):
        name = f"b{k}"
        bottoms.append(name)
        if b.grad:
            lines.append(f'layer {{ name: "p_{name}" type: "Parameter" top: "{name}" '
                         f"parameter_param {{ {_shape_text(b.shape)} }} }}")
        else:
            inputs.append((name, b.shape))
    tops = ex.top_list()
    heads = ex.backward and not ex.loss and top_shapes is not None
    targets = heads and ex.head == "euclidean"
    if targets:
        inputs += [(f"target_{t}", top_shapes[t]) for t in tops]
    body = "".join(f' bottom: "{b}"' for b in bottoms) + "".join(f' top: "{t}"' for t in tops)
    lines.append(f'layer {{ name: "layer" type: "{type_name}"{body} {ex.fields} }}')
    if targets:
        lines += [f'layer {{ name: "loss_{t}" type: "EuclideanLoss" bottom: "{t}" '
                  f'bottom: "target_{t}" top: "loss_{t}" }}' for t in tops]
    elif heads:
        lines += [f'layer {{ name: "loss_{t}" type: "Reduction" bottom: "{t}" top: "loss_{t}" '
                  f'loss_weight: 1 reduction_param {{ operation: SUMSQ }} }}' for t in tops]
    head = ""
    if inputs:
        head = ('layer { name: "inputs" type: "Input"' + "".join(f' top: "{n}"' for n, _ in inputs)
                + " input_param { " + " ".join(_shape_text(s) for _, s in inputs) + " } }\n")
    return f'name: "verify_{type_name}"\n' + head + "\n".join(lines) + "\n"


def case_inputs(example, rng, top_shapes=None):
    """{blob: array} of the Input blobs and {"p_bK/0": array} of the Parameter-fed bottoms."""
    inputs, params = {}, {}
    for k, b in enumerate(example.bottoms):
        v = np.asarray(b.values(rng), np.float32)
        if b.grad:
            params[f"p_b{k}/0"] = v
        else:
            inputs[f"b{k}"] = v
    for t, shape in (top_shapes or {}).items():
        if example.backward and not example.loss and example.head == "euclidean":
            inputs[f"target_{t}"] = rng.uniform(-1, 1, shape).astype(np.float32)
    return inputs, params
