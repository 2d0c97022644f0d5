"""DummyData against Caffe 1.0 (shape per top and the legacy num/channels/height/width, one
filler per top or one for all) and Caffe's refill rule: constant tops are filled once (a change
to them persists), the others at every forward."""
import numpy as np
import pytest
import torch

from caffe_compat import Net, NetError
from tests.caffe_compat.layers.new_layer_cases import CaseRun, report

# Constant fillers write the same float32 value: bit-identical.
EXACT = 0.0


def test_dummy_data_matches_caffe():
    run = CaseRun("dummy_data")
    fwd, _ = report("DummyData", run.compare())
    assert fwd <= EXACT
    # Caffe kept the doubled constant top in the second forward (not refilled), and so do we
    assert np.all(run.blobs[1]["k"] == 2.5)


def test_random_tops_are_refilled_with_the_filler_statistics():
    net = Net('name: "d"\nlayer { name: "d" type: "DummyData" top: "g" dummy_data_param { '
              'shape { dim: 200 dim: 50 } data_filler { type: "gaussian" mean: 1 std: 2 } } }')
    torch.manual_seed(0)
    first = net.forward()["g"].clone()
    second = net.forward()["g"]
    assert not torch.equal(first, second)
    # 10,000 draws: the sample mean and std lie within 0.1 of (1, 2) (5 and 7 standard errors; seeded)
    assert abs(second.mean().item() - 1) < 0.1 and abs(second.std().item() - 2) < 0.1


def test_bad_parameters_name_the_layer():
    base = ('name: "d"\nlayer { name: "dd" type: "DummyData" top: "a" top: "b" '
            'dummy_data_param { %s } }')
    with pytest.raises(NetError, match=r"layer 'dd'.*data fillers must be 0, 1 or.*\(2\); 3"):
        Net(base % ('shape { dim: 1 } data_filler {} data_filler {} data_filler {}'))
    with pytest.raises(NetError, match=r"layer 'dd'.*'shape' must be given once or once per"):
        Net(base % "")
    with pytest.raises(NetError, match=r"layer 'dd'.*either shape or the legacy"):
        Net(base % "shape { dim: 1 } num: 1 channels: 1 height: 1 width: 1")
    with pytest.raises(NetError, match=r"layer 'dd'.*'height' must be given once or once per"):
        Net(base % "num: 1 channels: 1 width: 1")
    with pytest.raises(NetError, match=r"layer 'dd'.*unknown filler type 'gauss'"):
        Net(base % 'shape { dim: 1 } data_filler { type: "gauss" }')
