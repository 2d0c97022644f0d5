"""caffe.net_spec: NetSpec programs write real pycaffe's bytes (fixtures/netspec, written by
fixtures/make_pycaffe_fixtures.py), and pycaffe's test_net_spec behaviours."""
import pathlib
import re

import numpy as np
import pytest

import caffe
from caffe import layers as L
from caffe import params as P

from . import netspec_programs

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "netspec"


@pytest.mark.parametrize("name", sorted(netspec_programs.PROGRAMS))
def test_program_writes_pycaffes_bytes(name):
    expected = (FIXTURES / f"{name}.prototxt").read_text()
    assert netspec_programs.PROGRAMS[name]() == expected


def _lenet(named, batch=50):
    # pycaffe's test LeNet, with Input data (the engine builds it) instead of DummyData
    data_args = dict(shape=[dict(dim=[batch, 1, 28, 28]), dict(dim=[batch, 1, 1, 1])], ntop=2)
    xavier = dict(type="xavier")
    n = caffe.NetSpec() if named else None

    def keep(name, top):            # named: the top becomes the NetSpec's attribute
        if n is not None:
            setattr(n, name, top)
        return top

    data, label = L.Input(**data_args)
    if n is not None:
        n.data, n.label = data, label
    top = data
    for k, width in enumerate((20, 50), start=1):
        top = keep(f"conv{k}", L.Convolution(top, kernel_size=5, num_output=width,
                                             weight_filler=xavier))
        top = keep(f"pool{k}", L.Pooling(top, kernel_size=2, stride=2, pool=P.Pooling.MAX))
    top = keep("ip1", L.InnerProduct(top, num_output=500, weight_filler=xavier))
    top = keep("relu1", L.ReLU(top, in_place=True))
    top = keep("ip2", L.InnerProduct(top, num_output=10, weight_filler=xavier))
    loss = keep("loss", L.SoftmaxWithLoss(top, label))
    return n.to_proto() if n is not None else loss.to_proto()


def _load(net_file, proto, phase=caffe.TEST):
    return caffe.Net(net_file(str(proto)), phase)


@pytest.mark.parametrize("named", [True, False])
def test_lenet(net_file, named):
    proto = _lenet(named)
    assert proto.layer[6].bottom == proto.layer[6].top          # the ReLU is in place
    net = _load(net_file, proto)
    assert len(net.layers) == 9
    if not named:
        assert [lp.name for lp in proto.layer][:3] == ["Input1", "Convolution1", "Pooling1"]


def test_zero_tops(net_file):
    n = caffe.NetSpec()
    n.data, n.data2 = L.Input(shape=dict(dim=3), ntop=2)
    n.silence_data = L.Silence(n.data, ntop=0)
    n.silence_data2 = L.Silence(n.data2, ntop=0)
    net = _load(net_file, n.to_proto())
    assert len(net.forward()) == 0


def test_zero_tops_with_dummy_data(net_file):
    n = caffe.NetSpec()
    n.data, n.data2 = L.DummyData(shape=dict(dim=3), ntop=2)
    n.silence_data = L.Silence(n.data, ntop=0)
    n.silence_data2 = L.Silence(n.data2, ntop=0)
    assert len(_load(net_file, n.to_proto()).forward()) == 0


def test_type_error():
    data = L.Input(ntop=2)                     # a tuple of two Tops
    expected = r"^Silence input 0 is not a Top \(type is <class 'tuple'>\)$"
    with pytest.raises(TypeError, match=expected):
        L.Silence(data, ntop=0)
    L.Silence(*data, ntop=0)


def test_parameter_routing():
    # type params go to <type>_param; *param keys and LayerParameter fields to the layer
    top = L.Convolution(L.Input(), num_output=3, kernel_size=[1, 2], loss_weight=0.5,
                        include=dict(phase=caffe.TRAIN), param=[dict(lr_mult=0)])
    lp = top.to_proto().layer[1]
    assert list(lp.convolution_param.kernel_size) == [1, 2]
    assert list(lp.loss_weight) == [0.5] and lp.include[0].phase == caffe.TRAIN
    assert lp.param[0].lr_mult == 0
    assert P.Pooling.AVE == caffe.proto.caffe_pb2.PoolingParameter.AVE
    with pytest.raises(AttributeError):
        L.ReLU(L.Input(), no_such_field=1).to_proto()


def test_netspec_item_access():
    n = caffe.NetSpec()
    n["data"] = L.Input(shape=dict(dim=[1, 2]))
    n.fc = L.InnerProduct(n["data"], num_output=2)
    assert n.fc is n["fc"]
    assert [lp.name for lp in n.to_proto().layer] == ["data", "fc"]
    with pytest.raises(AttributeError, match="no top 'nope'"):
        n.nope


def test_written_net_runs(net_file):
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[2, 3]))
    n.fc = L.InnerProduct(n.data, num_output=4, weight_filler=dict(type="constant", value=1))
    n.prob = L.Softmax(n.fc)
    net = _load(net_file, n.to_proto())
    out = net.forward(data=np.ones((2, 3), np.float32))
    np.testing.assert_allclose(out["prob"], 0.25, rtol=1e-6)
    assert re.search(r"num_output: 4", str(n.to_proto()))
