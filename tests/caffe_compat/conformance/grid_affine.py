"""The conformance grid's cases for PReLU, Slice, BatchNorm, Scale, Bias and Eltwise: one-layer
nets (two for the in-place and two-bottom forms) at the edges of Caffe's rules, in grid.py's
form (``CASES``: case -> (layer type, net text); ``REFUSED``: case -> net text), merged into
grid.py's (this module does not import it)."""
from __future__ import annotations

HEAD = 'name: "grid"\nlayer { name: "in" type: "Input" top: "data" input_param { shape { %s } } }\n'


def _shape(dims):
    return " ".join(f"dim: {d}" for d in dims)


UNIFORM = 'type: "uniform" min: -0.9 max: 0.9'


def layer(type_name, fields, shape, bottoms=("data",), tops=("y",), inputs=()):
    """A net of an Input of ``shape`` (and one Input per ``inputs`` shape, ``data0``, ...)
    and one layer of ``type_name``."""
    head = HEAD % _shape(shape)
    for i, extra in enumerate(inputs):
        head += (f'layer {{ name: "in{i}" type: "Input" top: "data{i}" '
                 f'input_param {{ shape {{ {_shape(extra)} }} }} }}\n')
    b = "".join(f'bottom: "{x}" ' for x in bottoms)
    t = "".join(f'top: "{x}" ' for x in tops)
    return head + f'layer {{ name: "y" type: "{type_name}" {b}{t}{fields} }}\n'


def in_place(type_name, fields, shape):
    """A Scale (uniform in [0.5, 1.5], x, then the layer in place on it: the bottom of an
    in-place layer is a computed blob, as in a deployed net."""
    return (HEAD % _shape(shape) + 'layer { name: "s" type: "Scale" bottom: "data" top: "x" '
            'scale_param { filler { type: "uniform" min: 0.5 max: 1.5 } } }\n'
            f'layer {{ name: "y" type: "{type_name}" bottom: "x" top: "x" {fields} }}\n')


CASES = {
    # PReLU: per channel and shared slopes, x == 0 on the slope branch, a 2-axis bottom
    "prelu per channel": ("PReLU", layer(
        "PReLU", f"prelu_param {{ filler {{ {UNIFORM} }} }}", (2, 3, 4, 5))),
    "prelu channel_shared": ("PReLU", layer(
        "PReLU", f"prelu_param {{ channel_shared: true filler {{ {UNIFORM} }} }}", (2, 3, 4))),
    "prelu 2-axis bottom default slope": ("PReLU", layer("PReLU", "", (4, 6))),
    "prelu in place": ("PReLU", in_place("PReLU", f"prelu_param {{ filler {{ {UNIFORM} }} }}",
                                         (2, 3, 3, 3))),
    # Slice: points, equal division, axis 1 and 2 and negative, the legacy slice_dim
    "slice points axis 1": ("Slice", layer(
        "Slice", "slice_param { slice_point: 1 slice_point: 4 }", (2, 6, 3, 2),
        tops=("y", "y1", "y2"))),
    "slice equal axis 2": ("Slice", layer("Slice", "slice_param { axis: 2 }", (2, 3, 6, 2),
                                          tops=("y", "y1", "y2"))),
    "slice negative axis": ("Slice", layer("Slice", "slice_param { axis: -1 slice_point: 3 }",
                                           (2, 3, 5), tops=("y", "y1"))),
    "slice legacy slice_dim": ("Slice", layer(
        "Slice", "slice_param { slice_dim: 2 slice_point: 2 }", (1, 2, 5, 3),
        tops=("y", "y1"))),
    "slice one top": ("Slice", layer("Slice", "", (2, 4, 3))),
    # BatchNorm: the statistics of the weights file (the reference's fill: zeros, a scale
    # factor of 0, which Caffe reads as 0); global statistics by phase and by field (a
    # non-zero factor: tests/caffe_compat/conformance/test_affine_stats.py)
    "batch_norm test phase": ("BatchNorm", layer("BatchNorm", "", (2, 3, 4, 5))),
    "batch_norm use_global_stats eps": ("BatchNorm", layer(
        "BatchNorm", "batch_norm_param { use_global_stats: true eps: 0.01 }", (2, 4, 3))),
    "batch_norm 2-axis bottom": ("BatchNorm", layer("BatchNorm", "", (5, 3))),
    "batch_norm in place": ("BatchNorm", in_place("BatchNorm", "", (2, 3, 3, 3))),
    # Scale: learned, axis / num_axes, a scalar, bias_term, two bottoms
    "scale learned bias_term": ("Scale", layer(
        "Scale", f"scale_param {{ bias_term: true filler {{ {UNIFORM} }} "
        f"bias_filler {{ {UNIFORM} }} }}", (2, 3, 4, 5))),
    "scale axis 2 num_axes 2": ("Scale", layer(
        "Scale", f"scale_param {{ axis: 2 num_axes: 2 filler {{ {UNIFORM} }} }}",
        (2, 3, 4, 5))),
    "scale num_axes -1": ("Scale", layer(
        "Scale", f"scale_param {{ num_axes: -1 filler {{ {UNIFORM} }} }}", (2, 3, 4))),
    "scale scalar num_axes 0": ("Scale", layer(
        "Scale", f"scale_param {{ axis: 2 num_axes: 0 filler {{ {UNIFORM} }} }}", (2, 3, 4))),
    "scale two bottoms": ("Scale", layer(
        "Scale", "", (2, 3, 4, 5), bottoms=("data", "data0"), inputs=((3, 4),))),
    "scale two bottoms axis 0 bias_term": ("Scale", layer(
        "Scale", f"scale_param {{ axis: 0 bias_term: true bias_filler {{ {UNIFORM} }} }}",
        (2, 3, 4), bottoms=("data", "data0"), inputs=((2, 3),))),
    "scale in place": ("Scale", in_place(
        "Scale", f"scale_param {{ bias_term: true filler {{ {UNIFORM} }} "
        f"bias_filler {{ {UNIFORM} }} }}", (2, 3, 3, 3))),
    # Bias: learned, axis / num_axes, two bottoms
    "bias learned": ("Bias", layer("Bias", f"bias_param {{ filler {{ {UNIFORM} }} }}",
                                   (2, 3, 4, 5))),
    "bias axis -2 num_axes 2": ("Bias", layer(
        "Bias", f"bias_param {{ axis: -2 num_axes: 2 filler {{ {UNIFORM} }} }}", (2, 3, 4))),
    "bias two bottoms": ("Bias", layer(
        "Bias", "", (2, 3, 4), bottoms=("data", "data0"), inputs=((3, 4),))),
    # Eltwise: SUM with coefficients, PROD, MAX (three bottoms: Caffe's tie order)
    "eltwise sum": ("Eltwise", layer("Eltwise", "", (2, 3, 4), bottoms=("data", "data0"),
                                     inputs=((2, 3, 4),))),
    "eltwise sum coeff": ("Eltwise", layer(
        "Eltwise", "eltwise_param { coeff: 0.5 coeff: -1.25 coeff: 3 }", (2, 3, 4),
        bottoms=("data", "data0", "data1"), inputs=((2, 3, 4), (2, 3, 4)))),
    "eltwise prod": ("Eltwise", layer(
        "Eltwise", "eltwise_param { operation: PROD }", (2, 3, 4),
        bottoms=("data", "data0", "data1"), inputs=((2, 3, 4), (2, 3, 4)))),
    "eltwise max": ("Eltwise", layer(
        "Eltwise", "eltwise_param { operation: MAX }", (2, 3, 4),
        bottoms=("data", "data0", "data1"), inputs=((2, 3, 4), (2, 3, 4)))),
    "eltwise max same bottom": ("Eltwise", layer(
        "Eltwise", "eltwise_param { operation: MAX }", (2, 5), bottoms=("data", "data"))),
}

REFUSED = {
    "prelu 1-axis bottom": layer("PReLU", "", (6,)),
    "slice points not increasing": layer(
        "Slice", "slice_param { slice_point: 3 slice_point: 2 }", (1, 6, 2),
        tops=("y", "y1", "y2")),
    "slice points count": layer("Slice", "slice_param { slice_point: 2 }", (1, 6, 2),
                                tops=("y", "y1", "y2")),
    "slice not dividing": layer("Slice", "", (1, 5, 2), tops=("y", "y1")),
    "slice axis and slice_dim": layer("Slice", "slice_param { axis: 1 slice_dim: 1 }",
                                      (1, 4, 2), tops=("y", "y1")),
    "slice axis out of range": layer("Slice", "slice_param { axis: 3 }", (1, 4, 2),
                                     tops=("y", "y1")),
    "batch_norm 1-axis bottom": layer("BatchNorm", "", (6,)),
    "batch_norm learned statistics": layer("BatchNorm", "param { lr_mult: 1 }", (2, 3, 4)),
    "scale past the bottom": layer("Scale", "scale_param { axis: 2 num_axes: 2 }", (2, 3, 4)),
    "scale num_axes below -1": layer("Scale", "scale_param { num_axes: -2 }", (2, 3, 4)),
    "scale second bottom mismatch": layer("Scale", "", (2, 3, 4), bottoms=("data", "data0"),
                                          inputs=((2, 4),)),
    "bias second bottom past the bottom": layer(
        "Bias", "bias_param { axis: 2 }", (2, 3, 4), bottoms=("data", "data0"),
        inputs=((4, 2),)),
    "eltwise coeff count": layer("Eltwise", "eltwise_param { coeff: 1 }", (2, 3),
                                 bottoms=("data", "data0"), inputs=((2, 3),)),
    "eltwise coeff with PROD": layer(
        "Eltwise", "eltwise_param { operation: PROD coeff: 1 coeff: 2 }", (2, 3),
        bottoms=("data", "data0"), inputs=((2, 3),)),
    "eltwise shapes differ": layer("Eltwise", "", (2, 3), bottoms=("data", "data0"),
                                   inputs=((3, 2),)),
}
