"""Dropout's TRAIN masks on the CPU are real Caffe 1.0's: caffe_rng_bernoulli on Caffe's stream,
drawn after the fillers and in layer order, forward after forward
(fixtures/dropout_masks/make_dropout_fixture.py ran the same seeded net under real pycaffe)."""
import os
import sys

import numpy as np

import caffe

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "dropout_masks")
sys.path.insert(0, HERE)
import make_dropout_fixture as fixture  # noqa: E402

REF = np.load(os.path.join(HERE, "dropout_masks.npz"))

# the InnerProduct's float32 sums of 35 products in another order than OpenBLAS's, then one or
# two float32 products by Dropout's scale: a few roundings of each top's largest value
TOL = 1e-6


def test_the_masks_are_caffes(tmp_path):
    path = tmp_path / "net.prototxt"
    path.write_text(fixture.NET)
    caffe.set_random_seed(fixture.SEED)
    net = caffe.Net(str(path), caffe.TRAIN)
    np.testing.assert_array_equal(net.params["ip"][0].data, REF["weights"])   # Caffe's xavier
    net.blobs["data"].data[...] = fixture.data()
    for k in range(fixture.FORWARDS):
        net.forward()
        for top in ("ip", "d2"):
            got, want = net.blobs[top].data, REF[f"{top}/{k}"]
            np.testing.assert_array_equal(got == 0, want == 0)               # the same masks
            assert np.abs(got - want).max() <= TOL * np.abs(want).max()
