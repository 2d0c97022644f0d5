"""SoftmaxWithLoss's backward reads the label blob as it is then, as Caffe's Backward_cpu does:
a program that sets the label between forward and backward (an FGSM attack's target, a
saliency map for another class) gets real Caffe's diffs, on either engine
(fixtures/label_after_forward, written by real pycaffe)."""
import pathlib

import numpy as np
import pytest

import caffe
from tests.pycaffe import label_nets as FIX

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "label_after_forward"
REF = np.load(FIXTURE / "label_after_forward.npz")

# float32 softmax and scale products in another order than Caffe's loops: ~1e-7 of the
# scale; a diff taken at the forward's label is off by 1 / normalizer at two entries
TOL = 1e-5


@pytest.mark.parametrize("array_net", ["1", "0"])
@pytest.mark.parametrize("name", sorted(FIX.NETS))
def test_backward_reads_the_label_set_after_the_forward(name, array_net, tmp_path,
                                                         monkeypatch):
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_NET", array_net)
    path = tmp_path / "net.prototxt"
    path.write_text(FIX.net_text(*FIX.NETS[name]))
    net = caffe.Net(str(path), caffe.TEST)
    net.blobs["x"].data[...] = REF[f"{name}/x"]
    net.blobs["label"].data[...] = REF[f"{name}/first"]
    assert abs(float(net.forward()["loss"]) - float(REF[f"{name}/loss"])) <= TOL
    net.blobs["label"].data[...] = REF[f"{name}/then"]
    got = net.backward(diffs=["x"])
    for key, value in (("dx", got["x"]), ("dscale", net.params["s"][0].diff)):
        want = REF[f"{name}/{key}"]
        assert np.abs(value - want).max() <= TOL * max(np.abs(want).max(), 1.0), key
