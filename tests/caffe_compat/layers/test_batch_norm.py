"""BatchNorm against Caffe 1.0 (layerzoo_a_struct: use_global_stats, eps 1e-3, scale factor
blob 2.5) and Caffe's rules: global statistics divided by blob 2 (0 gives 0), eps inside the
root, batch statistics with the moving-average update (unbiased m / (m - 1) only in the stored
variance), no parameter gradients and lr_mult 0 on the statistics."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import input_net, leaf, make_layer, report
from tests.caffe_compat.reference import (BACKWARD_TOL, FORWARD_TOL, check_layer_type,
                                          run_fixture)

# float64 unit checks: a mean, a variance and a square root away from the NumPy reference.
F64_TOL = 1e-12


def f32(v):
    """A prototxt float as the layer sees it (the proto fields are float32)."""
    return float(np.float32(v))


def test_batch_norm_matches_caffe():
    fwd, bwd = report("BatchNorm", check_layer_type("layerzoo_a_struct", "BatchNorm"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def test_statistics_unchanged_and_without_gradient_in_the_fixture():
    run = run_fixture("layerzoo_a_struct")
    for i, p in enumerate(run.net.params["bn"]):
        # use_global_stats: the blobs are read, never written, and never get a gradient.
        assert np.array_equal(p.detach().numpy(), run.ref_params[f"bn/{i}"])
        assert p.grad is None and not run.ref_diffs[f"bn/{i}"].any()


def bn_layer(spec, shape, phase, mean, var, factor):
    layer = make_layer(f'name: "bn" type: "BatchNorm" bottom: "x" top: "y" '
                       f'batch_norm_param {{ {spec} }}', shape, phase=phase).double()
    with torch.no_grad():
        layer.mean.copy_(torch.tensor(mean))
        layer.variance.copy_(torch.tensor(var))
        layer.scale_factor.fill_(factor)
    return layer


@pytest.mark.parametrize("factor", [2.5, 0.0])
def test_global_stats_divide_by_blob2_and_zero_factor_gives_zero(factor):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 4))
    mean, var = np.array([0.5, -1.0, 2.0]), np.array([4.0, 1.0, 0.25])
    layer = bn_layer("eps: 0.01", x.shape, "TEST", mean, var, factor)
    s = 0.0 if factor == 0 else 1.0 / factor
    want = (x - (mean * s)[:, None]) / np.sqrt(var * s + f32(0.01))[:, None]
    t = leaf(x)
    top = layer(t)
    assert np.abs(top.detach().numpy() - want).max() <= F64_TOL
    top.sum().backward()
    assert np.abs(t.grad.numpy() - 1 / np.sqrt(var * s + f32(0.01))[:, None]).max() <= F64_TOL
    assert all(p.grad is None for p in layer.blobs)


@pytest.mark.parametrize("phase, spec", [("TRAIN", ""), ("TEST", "use_global_stats: false")])
def test_batch_statistics_and_moving_average_update(phase, spec):
    rng = np.random.default_rng(5)
    mean0, var0 = np.array([0.3, -0.2]), np.array([1.5, 0.7])
    layer = bn_layer(f"{spec} moving_average_fraction: 0.9 eps: 0.001", (3, 2, 5), phase,
                     mean0, var0, 2.0)
    blob_mean, blob_var, blob_factor = mean0.copy(), var0.copy(), 2.0
    for step in range(2):
        x = rng.normal(size=(3, 2, 5)) * (step + 1)
        m = x.size // 2
        mu = x.mean(axis=(0, 2))
        var = ((x - mu[:, None]) ** 2).mean(axis=(0, 2))  # biased, used to normalise
        want = (x - mu[:, None]) / np.sqrt(var + f32(0.001))[:, None]
        top = layer(leaf(x))
        assert np.abs(top.detach().numpy() - want).max() <= F64_TOL
        maf = f32(0.9)
        blob_factor = maf * blob_factor + 1
        blob_mean = maf * blob_mean + mu
        blob_var = maf * blob_var + var * m / (m - 1)  # unbiased in the stored variance
        assert abs(layer.scale_factor.item() - blob_factor) <= F64_TOL
        assert np.abs(layer.mean.detach().numpy() - blob_mean).max() <= F64_TOL
        assert np.abs(layer.variance.detach().numpy() - blob_var).max() <= F64_TOL


def test_batch_statistics_gradient_is_caffes_formula():
    rng = np.random.default_rng(6)
    x, dy = rng.normal(size=(3, 2, 4)), rng.normal(size=(3, 2, 4))
    layer = bn_layer("use_global_stats: false eps: 0.1", x.shape, "TRAIN", [0, 0], [0, 0], 0)
    t = leaf(x)
    top = layer(t)
    top.backward(torch.from_numpy(dy))
    y = top.detach().numpy()
    axes = (0, 2)
    var = x.var(axis=axes)
    want = (dy - dy.mean(axis=axes, keepdims=True)
            - y * (dy * y).mean(axis=axes, keepdims=True)) / np.sqrt(var + f32(0.1))[:, None]
    assert np.abs(t.grad.numpy() - want).max() <= F64_TOL


def test_statistics_get_lr_mult_zero_in_a_net():
    net = input_net({"x": (2, 3, 4)}, 'layer { name: "bn" type: "BatchNorm" bottom: "x" '
                    'top: "y" }', phase="train")
    entries = [e for e in net.learnable if e.layer == "bn"]
    assert len(entries) == 3 and all(e.lr_mult == 0 for e in entries)
    assert [tuple(p.shape) for p in net.params["bn"]] == [(3,), (3,), (1,)]
    saved = [lp for lp in net.to_proto().layer if lp.name == "bn"][0]
    assert [spec.lr_mult for spec in saved.param] == [0, 0, 0]


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'bn'.*lr_mult must be 0"):
        make_layer('name: "bn" type: "BatchNorm" bottom: "x" top: "y" param { lr_mult: 1 }',
                   (2, 3, 4))
    with pytest.raises(NetError, match=r"layer 'bn'.*at least 2 axes"):
        make_layer('name: "bn" type: "BatchNorm" bottom: "x" top: "y"', (5,))


def test_scale_bias_matches_opencv():
    """NVIDIA Caffe's ``scale_bias``: blobs 3 and 4 scale and shift the normalized values, as
    OpenCV 4 reads them (committed fixture); float32 in another order: 1e-5 of the scale."""
    from tests.caffe_compat.opencv_fixtures import compare
    assert compare.extra_type_errors("BatchNorm scale_bias", ["bn"]) <= compare.DENSE_TOL
