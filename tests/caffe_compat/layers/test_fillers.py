"""Fillers (caffe_compat.layers.fillers) against Caffe's definitions (include/caffe/filler.hpp).

The random streams are torch's, not Caffe's boost mt19937, so values are compared through their
statistics. Every statistical check allows K standard errors of the estimate: with K = 5 a
correct filler fails with probability < 1e-6 per check (and the seeded generator makes each run
deterministic), while a wrong scale (e.g. fan_out for fan_in, 1/n for 2/n) is off by tens of
standard errors for the sample sizes used here.
"""
import math

import numpy as np
import pytest
import torch

from caffe_compat.errors import NetError
from caffe_compat.layers.fillers import fill, filler_types
from caffe_compat.proto import caffe_pb2

K = 5.0
FP = caffe_pb2.FillerParameter
SHAPES = [(1000,), (300, 256), (64, 32, 5, 5), (64, 1, 5, 5), (16, 3, 7, 7), (20, 4, 3, 5, 5)]


def filler(type_, **kw):
    fp = FP(type=type_)
    for k, v in kw.items():
        setattr(fp, k, v)
    return fp


def sample(fp, shape, seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    t = torch.empty(shape)
    fill(t, fp, g)
    return t.double().numpy()


def caffe_fans(shape):
    """fan_in = count / shape[0]; fan_out = count / shape[1] (count for a 1-axis blob)."""
    count = math.prod(shape)
    return count // shape[0], (count // shape[1] if len(shape) > 1 else count)


def check_mean(x, mean, std):
    se = std / math.sqrt(x.size)
    assert abs(x.mean() - mean) <= K * se, (x.mean(), mean, se)


def check_std(x, std, excess_kurtosis=0.0):
    # standard error of the sample standard deviation: std * sqrt((kurtosis - 1) / (4 n))
    se = std * math.sqrt((2.0 + excess_kurtosis) / (4 * x.size))
    assert abs(x.std() - std) <= K * se, (x.std(), std, se)


def test_known_types():
    assert set(filler_types()) >= {"constant", "uniform", "gaussian", "positive_unitball",
                                   "xavier", "msra", "bilinear"}


@pytest.mark.parametrize("shape", SHAPES)
def test_constant(shape):
    assert np.all(sample(filler("constant", value=0.25), shape) == np.float32(0.25))


@pytest.mark.parametrize("shape", SHAPES)
def test_uniform(shape):
    x = sample(filler("uniform", min=-0.5, max=1.5), shape)
    assert x.min() >= -0.5 and x.max() <= 1.5
    std = 2.0 / math.sqrt(12)
    check_mean(x, 0.5, std)
    check_std(x, std, excess_kurtosis=-1.2)


@pytest.mark.parametrize("shape", SHAPES)
def test_gaussian(shape):
    x = sample(filler("gaussian", mean=0.3, std=0.02), shape)
    check_mean(x, 0.3, 0.02)
    check_std(x, 0.02)


@pytest.mark.parametrize("shape,sparse", [((300, 256), 15), ((64, 32, 5, 5), 4),
                                          ((1000,), 100)])
def test_sparse_gaussian(shape, sparse):
    """Each value kept with probability sparse / shape[0]; kept values are N(mean, std)."""
    x = sample(filler("gaussian", std=1.0, sparse=sparse), shape)
    p = sparse / shape[0]
    kept = (x != 0).mean()
    assert abs(kept - p) <= K * math.sqrt(p * (1 - p) / x.size)
    nz = x[x != 0]
    check_mean(nz, 0.0, 1.0)
    check_std(nz, 1.0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("norm", ["FAN_IN", "FAN_OUT", "AVERAGE"])
def test_xavier(shape, norm):
    fan_in, fan_out = caffe_fans(shape)
    n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "AVERAGE": (fan_in + fan_out) / 2}[norm]
    scale = np.float32(np.sqrt(np.float32(3) / np.float32(n)))
    x = sample(filler("xavier", variance_norm=FP.VarianceNorm.Value(norm)), shape)
    assert np.abs(x).max() <= scale  # U(-scale, scale), scale = sqrt(3 / n)
    check_mean(x, 0.0, scale / math.sqrt(3))
    check_std(x, scale / math.sqrt(3), excess_kurtosis=-1.2)


def test_xavier_default_is_fan_in():
    a = sample(filler("xavier"), (64, 32, 5, 5), seed=3)
    b = sample(filler("xavier", variance_norm=FP.FAN_IN), (64, 32, 5, 5), seed=3)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("norm", ["FAN_IN", "FAN_OUT", "AVERAGE"])
def test_msra(shape, norm):
    fan_in, fan_out = caffe_fans(shape)
    n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "AVERAGE": (fan_in + fan_out) / 2}[norm]
    std = math.sqrt(2.0 / n)
    x = sample(filler("msra", variance_norm=FP.VarianceNorm.Value(norm)), shape)
    check_mean(x, 0.0, std)
    check_std(x, std)


@pytest.mark.parametrize("shape", [(10, 100), (64, 3, 5, 5), (7,), (3, 1)])
def test_positive_unitball(shape):
    x = sample(filler("positive_unitball"), shape)
    assert x.min() >= 0 and x.max() <= 1
    rows = x.reshape(shape[0], -1).sum(axis=1)
    # float32 division of each value by its row sum: the sum of the quotients is 1 up to a
    # few ulps per term
    np.testing.assert_allclose(rows, 1.0, atol=1e-6 * x.reshape(shape[0], -1).shape[1] ** 0.5
                               + 1e-6)


def test_bilinear_known_values():
    # k = 4: f = 2, c = 0.75; k = 3: f = 2, c = 0.5 (Caffe's c = (k - 1) / (2 f))
    k4 = sample(filler("bilinear"), (2, 3, 4, 4))
    ax4 = np.array([0.25, 0.75, 0.75, 0.25])
    assert np.array_equal(k4, np.broadcast_to(np.outer(ax4, ax4), (2, 3, 4, 4)))
    k3 = sample(filler("bilinear"), (1, 1, 3, 3))
    ax3 = np.array([0.5, 1.0, 0.5])
    assert np.array_equal(k3[0, 0], np.outer(ax3, ax3))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 8, 16])
def test_bilinear_exact(k):
    """Bit-identical to Caffe's float32 loop: (1 - |x/f - c|) * (1 - |y/f - c|)."""
    f = math.ceil(k / 2.0)
    c = np.float32((k - 1) / (2.0 * f))
    ref = np.empty((2, 2, k, k), np.float32)
    for i in range(ref.size):
        x = np.float32(i % k)
        y = np.float32((i // k) % k)
        ref.flat[i] = (np.float32(1) - np.abs(x / np.float32(f) - c)) * \
            (np.float32(1) - np.abs(y / np.float32(f) - c))
    g = torch.Generator()
    t = torch.empty((2, 2, k, k))
    fill(t, filler("bilinear"), g)
    assert np.array_equal(t.numpy(), ref)


def test_seeded_generator_is_reproducible():
    a = sample(filler("gaussian", std=1.0), (100,), seed=5)
    b = sample(filler("gaussian", std=1.0), (100,), seed=5)
    c = sample(filler("gaussian", std=1.0), (100,), seed=6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("fp,shape,message", [
    (filler("nope"), (3,), "unknown filler type 'nope'"),
    (filler("xavier", sparse=3), (4, 4), "sparse is only supported by the gaussian"),
    (filler("gaussian", sparse=9), (4, 4), "exceeds the number of outputs"),
    (filler("bilinear"), (2, 2, 3, 4), "square kernels"),
    (filler("bilinear"), (2, 3, 3), "4-axis"),
    (filler("uniform", min=1, max=0), (3,), "max"),
])
def test_bad_fillers(fp, shape, message):
    with pytest.raises(NetError, match=message):
        fill(torch.empty(shape), fp, torch.Generator(), where="layer 'x'")
