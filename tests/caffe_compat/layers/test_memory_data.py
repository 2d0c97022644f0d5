"""MemoryData against Caffe 1.0 (pycaffe's set_input_arrays with 1-d labels, batches of 2 from 6
items wrapping around, a transform_param that Caffe does not apply to arrays) and pycaffe's
checks of the arrays."""
import numpy as np
import pytest

from caffe_compat import Net, NetError
from tests.caffe_compat.layers.new_layer_cases import CaseRun, report

# MemoryData hands out the given float32 values: bit-identical.
EXACT = 0.0
NET = '''name: "m"
layer { name: "mem" type: "MemoryData" top: "data" top: "label"
        memory_data_param { batch_size: 2 channels: 3 height: 1 width: 2 } }
'''


def test_memory_data_matches_caffe():
    with pytest.warns(UserWarning, match=r"'mem' \(MemoryData\) does not transform"):
        run = CaseRun("memory_data")
    fwd, _ = report("MemoryData", run.compare())
    assert fwd <= EXACT
    labels = [b["label"].reshape(-1).tolist() for b in run.blobs]
    assert labels == [[0, 10], [20, 30], [40, 50], [0, 10]]


def test_shapes_share_memory_and_reset():
    net = Net(NET)
    assert net.blob_shape("data") == (2, 3, 1, 2) and net.blob_shape("label") == (2,)
    data = np.arange(24, dtype=np.float32).reshape(4, 3, 1, 2)
    net.set_input_arrays(data, np.arange(4, dtype=np.float32).reshape(4, 1, 1, 1))
    out = net.forward()
    assert out["label"].shape == (2, 1, 1, 1)
    data[2:] = -1                              # Caffe reads the caller's memory, as here
    assert (net.forward()["data"].numpy() == -1).all()
    layer = net.layer("mem")
    layer.reset(np.ones(12, np.float32), np.zeros(2, np.float32), 2)
    assert (net.forward()["data"].numpy() == 1).all()


def test_pycaffe_checks_name_the_layer():
    net = Net(NET)
    with pytest.raises(NetError, match=r"layer 'mem'.*no data.*set_input_arrays"):
        net.forward()
    good = np.zeros((4, 3, 1, 2), np.float32)
    labels = np.zeros(4, np.float32)
    with pytest.raises(NetError, match=r"layer 'mem'.*data array must be float32"):
        net.set_input_arrays(good.astype(np.float64), labels)
    with pytest.raises(NetError, match=r"layer 'mem'.*data array must be C contiguous"):
        net.set_input_arrays(np.asfortranarray(good), labels)
    with pytest.raises(NetError, match=r"layer 'mem'.*data array has the wrong height"):
        net.set_input_arrays(np.zeros((4, 3, 2, 2), np.float32), labels)
    with pytest.raises(NetError, match=r"layer 'mem'.*data array must be 4-d"):
        net.set_input_arrays(np.zeros((4, 6), np.float32), labels)
    with pytest.raises(NetError, match=r"layer 'mem'.*same first dimension, got 4 and 6"):
        net.set_input_arrays(good, np.zeros(6, np.float32))
    with pytest.raises(NetError, match=r"layer 'mem'.*\(3\) must be a multiple of the batch"):
        net.set_input_arrays(np.zeros((3, 3, 1, 2), np.float32), np.zeros(3, np.float32))
    with pytest.raises(NetError, match=r"layer 'mem'.*batch_size, channels, height and width"):
        Net(NET.replace("height: 1", "height: 0"))
    other = Net('name: "x"\nlayer { name: "in" type: "Input" top: "x" input_param { shape { '
                'dim: 1 } } }')
    with pytest.raises(NetError, match=r"set_input_arrays needs a MemoryData layer as the first"):
        other.set_input_arrays(good, labels)
