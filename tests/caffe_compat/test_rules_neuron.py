"""The rules of the element-wise and shape layers (caffe_compat.rules: power, exp, log,
reshape, crop, permute, tile, reduction, mvn, shuffle_channel): Caffe's float constants,
shapes and refusals, read the same by every engine."""
import numpy as np
import pytest

from caffe_compat.errors import NetError
from caffe_compat.io.prototxt import parse_net
from caffe_compat.rules.crop import crop_rule
from caffe_compat.rules.exp import exp_rule
from caffe_compat.rules.log import log_rule
from caffe_compat.rules.permute import permute_rule
from caffe_compat.rules.power import power_rule
from caffe_compat.rules.reduction import reduction_rule
from caffe_compat.rules.reshape import reshape_rule
from caffe_compat.rules.tile import tile_rule


def _layer(type_name, params, bottoms=1):
    text = (f'layer {{ name: "l" type: "{type_name}" '
            + "".join(f'bottom: "b{i}" ' for i in range(bottoms)) + f'top: "t" {params} }}')
    return parse_net(text).layer[0]


def test_power_constant_and_diff_scale_in_float():
    rule = power_rule(_layer("Power", "power_param { power: 0.1 scale: 0.3 shift: 2 }"))
    assert rule.diff_scale == float(np.float32(0.1) * np.float32(0.3))
    assert rule.constant is None
    assert power_rule(_layer("Power", "power_param { power: 0 }")).constant == 1.0
    assert power_rule(_layer("Power", "power_param { power: 3 scale: 0 shift: 2 }")) \
        .constant == 8.0


def test_exp_and_log_constants_as_caffe_holds_them():
    rule = exp_rule(_layer("Exp", "exp_param { base: 2 scale: 3 shift: 0.5 }"))
    assert rule.inner == float(np.log(np.float32(2)) * np.float32(3))
    assert rule.outer == float(np.power(np.float32(2), np.float32(0.5)))
    assert exp_rule(_layer("Exp", "")).inner == 1.0
    rule = log_rule(_layer("Log", "log_param { base: 10 scale: 2 }"))
    lb = np.log(np.float32(10))
    assert rule.base_scale == float(np.float32(1) / lb)
    assert rule.backward_scale == float(np.float32(2) / lb)
    for bad in ("exp_param { base: 0 }", "exp_param { base: -3 }"):
        with pytest.raises(NetError, match="base"):
            exp_rule(_layer("Exp", bad))
    with pytest.raises(NetError, match="1 / log"):
        log_rule(_layer("Log", "log_param { base: 1 }"))


def test_reshape_copies_infers_and_refuses():
    rule = reshape_rule(_layer("Reshape", "reshape_param { shape { dim: 0 dim: -1 dim: 2 } }"))
    assert rule.top_shape((2, 3, 4)) == (2, 6, 2)
    rule = reshape_rule(_layer("Reshape", "reshape_param { shape { dim: 1 } axis: -1 "
                                          "num_axes: 0 }"))
    assert rule.top_shape((2, 3)) == (2, 3, 1)
    with pytest.raises(NetError, match="at most one -1"):
        reshape_rule(_layer("Reshape", "reshape_param { shape { dim: -1 dim: -1 } }"))
    with pytest.raises(NetError, match="in-place"):
        reshape_rule(parse_net('layer { name: "l" type: "Reshape" bottom: "t" top: "t" }')
                     .layer[0])


def test_crop_permute_tile_reduction():
    rule = crop_rule(_layer("Crop", "crop_param { axis: 1 offset: 1 offset: 2 offset: 0 }", 2),
                     [(2, 4, 7, 6), (2, 2, 4, 6)])
    assert rule.shape == (2, 2, 4, 6) and rule.starts == (0, 1, 2, 0)
    with pytest.raises(NetError, match="cannot crop axis 2"):
        crop_rule(_layer("Crop", "crop_param { offset: 3 }", 2), [(1, 1, 6, 6), (1, 1, 4, 4)])
    assert permute_rule(_layer("Permute", "permute_param { order: 2 }"), [(1, 2, 3)]).order \
        == (2, 0, 1)
    with pytest.raises(NetError, match="out of range"):
        permute_rule(_layer("Permute", "permute_param { order: 3 }"), [(1, 2, 3)])
    rule = tile_rule(_layer("Tile", "tile_param { axis: -1 tiles: 3 }"), [(2, 5)])
    assert rule.top_shape((2, 5)) == (2, 15)
    rule = reduction_rule(_layer("Reduction", "reduction_param { operation: MEAN axis: 1 "
                                              "coeff: 3 }"), [(2, 3, 7)])
    assert rule.top_shape((2, 3, 7)) == (2,)
    assert rule.scale((2, 3, 7)) == float(np.float32(3) / np.float32(21))
