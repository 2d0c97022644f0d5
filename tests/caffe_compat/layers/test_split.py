"""Split against Caffe 1.0 (layerzoo_a_struct: one explicit Split and the Split layers Caffe
inserts for blobs with several consumers): tops equal the bottom, the bottom's diff is the sum of
the tops' diffs."""
import numpy as np
import pytest

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import input_net, leaf, make_layer, report
from tests.caffe_compat.reference import (BACKWARD_TOL, FORWARD_TOL, check_layer_type,
                                          run_fixture)

# Copies and a sum of two small integers: exact.
EXACT = 0.0


def test_split_matches_caffe():
    fwd, bwd = report("Split", check_layer_type("layerzoo_a_struct", "Split"))
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def test_caffes_split_blob_names_are_reproduced():
    run = run_fixture("layerzoo_a_struct")
    names = [n for n in run.net.blobs if "_split_" in n]
    assert names == [n for n in run.ref_blobs if "_split_" in n]


def test_tops_copy_and_gradients_add():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    layer = make_layer('name: "s" type: "Split" bottom: "x" top: "a" top: "b" top: "c"', x.shape)
    t = leaf(x)
    tops = layer(t)
    assert len(tops) == 3 and all(np.abs(o.detach().numpy() - x).max() <= EXACT for o in tops)
    (2 * tops[0] + 3 * tops[2]).sum().backward()
    assert np.abs(t.grad.numpy() - 5.0).max() <= EXACT


def test_bad_parameters_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'sp' \(type Split\) takes exactly 1 bottom"):
        input_net({"x": (2, 3), "y": (2, 3)}, 'layer { name: "sp" type: "Split" bottom: "x" '
                  'bottom: "y" top: "a" }')
