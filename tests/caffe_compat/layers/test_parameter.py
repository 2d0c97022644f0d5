"""Parameter against Caffe 1.0 (layerzoo_a_misc: a (5, 3) blob feeding BatchReindex)."""
import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.errors import NetError
from tests.caffe_compat.layers.act_loss_helpers import make_layer, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, check_layer_type, run_fixture

# The top is the blob itself: exact.
EXACT = 0.0


def test_parameter_matches_caffe():
    assert report(check_layer_type("layerzoo_a_misc", "Parameter")) <= min(FORWARD_TOL,
                                                                          BACKWARD_TOL)
    run = run_fixture("layerzoo_a_misc")
    # the blob's gradient is the top's diff (Caffe shares data and diff)
    assert np.abs(run.param_diff("param", 0) - run.ref_diffs["param"]).max() <= BACKWARD_TOL


def test_top_is_blob_and_starts_at_zero():
    net = Net("""
    layer { name: "p" type: "Parameter" top: "w" parameter_param { shape { dim: 2 dim: 3 } } }
    """)
    out = net.forward()["w"]
    assert out.shape == (2, 3) and float(out.detach().abs().max()) <= EXACT   # no filler
    layer = net.layer("p")
    with torch.no_grad():
        layer.blob.fill_(2.0)
    y = layer()
    (y * 3).sum().backward()
    assert float((y.detach() - 2.0).abs().max()) <= EXACT
    assert float((layer.blob.grad - 3.0).abs().max()) <= EXACT


def test_missing_shape_names_layer():
    with pytest.raises(NetError, match="layer 'param_bad'.*shape"):
        make_layer('name: "param_bad" type: "Parameter"')
