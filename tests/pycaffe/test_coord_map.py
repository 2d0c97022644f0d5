"""caffe.coord_map: every behaviour of pycaffe's test_coord_map.py, and crops that the engine
builds to the reference top's size."""
import numpy as np
import pytest

import caffe
from caffe import layers as L
from caffe import params as P
from caffe.coord_map import coord_map_from_to, crop


def spec(ks=3, stride=1, pad=0, pool=2, dstride=2, dpad=0):
    """conv -> max pool -> deconvolution (kernel twice the stride), on 100 x 100 data."""
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[2, 1, 100, 100]))
    n.aux = L.Input(shape=dict(dim=[2, 1, 20, 20]))
    n.conv = L.Convolution(n.data, num_output=10, kernel_size=ks, stride=stride, pad=pad)
    n.pool = L.Pooling(n.conv, pool=P.Pooling.MAX, kernel_size=pool, stride=pool, pad=0)
    dks = [s * 2 for s in dstride] if isinstance(dstride, list) else dstride * 2
    n.deconv = L.Deconvolution(n.pool, num_output=10, kernel_size=dks, stride=dstride,
                               pad=dpad)
    return n


def test_conv_pool_deconv():
    n = spec()
    ax, a, b = coord_map_from_to(n.deconv, n.data)
    assert (ax, a, b) == (1, 1, 0)                     # 2x pool, 2x deconv: identity
    n = spec(pool=4, dstride=4)
    assert coord_map_from_to(n.deconv, n.data) == (1, 1, -1)


def test_pass_through_and_1x1():
    n = spec()
    expected = coord_map_from_to(n.deconv, n.data)
    n.relu = L.ReLU(n.deconv)
    n.conv1x1 = L.Convolution(n.relu, num_output=10, kernel_size=1, stride=1, pad=0)
    for top in (n.relu, n.conv1x1):
        assert coord_map_from_to(top, n.data) == expected


@pytest.mark.parametrize("pad", [0, 3, 10])
def test_padding(pad):
    base = spec()
    ax, a, b = coord_map_from_to(base.deconv, base.data)
    n = spec(pad=pad)
    assert coord_map_from_to(n.deconv, n.data)[1:] == (a, b - pad)
    n = spec(dpad=pad)
    assert coord_map_from_to(n.deconv, n.data)[1:] == (a, b + pad)
    n = spec(pad=pad, dpad=pad)
    assert coord_map_from_to(n.deconv, n.data)[1:] == (a, b)


def test_multi_bottom_multi_top():
    n = spec()
    n.conv_data, n.conv_aux = L.Convolution(n.data, n.aux, ntop=2, num_output=10,
                                            kernel_size=5, stride=2, pad=0)
    assert coord_map_from_to(n.conv_data, n.data) == coord_map_from_to(n.conv_aux, n.aux)


def test_rect_is_its_isotropic_parts():
    n3, n5 = spec(ks=3, stride=1, pad=0), spec(ks=5, stride=2, pad=10)
    n35 = spec(ks=[3, 5], stride=[1, 2], pad=[0, 10])
    ax3, a3, b3 = coord_map_from_to(n3.deconv, n3.data)
    ax5, a5, b5 = coord_map_from_to(n5.deconv, n5.data)
    ax35, a35, b35 = coord_map_from_to(n35.deconv, n35.data)
    assert ax3 == ax5 == ax35
    assert (a3, b3) == (a35[0], b35[0]) and (a5, b5) == (a35[1], b35[1])


def test_nd_conv():
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[2, 3, 100, 100, 100]))
    n.conv = L.Convolution(n.data, num_output=10, kernel_size=[3, 3, 3], stride=[1, 1, 1],
                           pad=[0, 1, 2])
    n.pool = L.Pooling(n.conv, pool=P.Pooling.MAX, kernel_size=2, stride=2, pad=0)
    n.deconv = L.Deconvolution(n.pool, num_output=10, kernel_size=4, stride=2, pad=0)
    ax, a, b = coord_map_from_to(n.deconv, n.data)
    assert ax == 1 and len(a) == len(b) and np.all(a == 1)
    assert b[0] - 1 == b[1] and b[1] - 1 == b[2]


@pytest.mark.parametrize("offset", [0, 4, 10])
def test_crop_of_crop(offset):
    n = spec()
    ax, a, b = coord_map_from_to(n.deconv, n.data)
    n.crop = L.Crop(n.deconv, n.data, axis=2, offset=offset)
    assert coord_map_from_to(n.crop, n.data) == (ax, a, b + offset)


def test_crop_helper_builds_a_net_of_the_reference_size(net_file):
    # as FCN writes it: Deconvolution takes convolution_param (it has no message of its own)
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[2, 1, 100, 100]))
    n.conv = L.Convolution(n.data, num_output=4, kernel_size=3, pad=5)
    n.pool = L.Pooling(n.conv, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    n.deconv = L.Deconvolution(n.pool, convolution_param=dict(num_output=4, kernel_size=4,
                                                              stride=2))
    n.crop = crop(n.deconv, n.data)
    lp = n.to_proto().layer[-1]
    assert lp.type == "Crop" and lp.crop_param.axis == 2 and list(lp.crop_param.offset) == [5]
    net = caffe.Net(net_file(str(n.to_proto())), caffe.TEST)
    assert net.blobs["crop"].shape[2:] == net.blobs["data"].shape[2:]


def test_catch_unconnected():
    n = spec()
    n.ip = L.InnerProduct(n.deconv, num_output=10)
    with pytest.raises(RuntimeError, match="connected"):
        coord_map_from_to(n.ip, n.data)


def test_catch_scale_mismatch():
    n = spec(pool=3, dstride=2)
    with pytest.raises(AssertionError, match="scale mismatch"):
        crop(n.deconv, n.data)


def test_catch_negative_crop():
    n = spec(dpad=10)
    with pytest.raises(AssertionError, match="negative offset"):
        crop(n.deconv, n.data)
