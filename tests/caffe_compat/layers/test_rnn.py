"""RNN against Caffe 1.0: a static input over 6 steps with restarts and the state carried into a
second forward; ``expose_hidden`` with a given h_0 (no gradient to it, none taken from h_T)."""
import numpy as np
import pytest
import torch

from caffe_compat import Net, NetError
from tests.caffe_compat.layers.new_layer_cases import CaseRun, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL

# A caffemodel stores float32 values exactly: a reload must give identical outputs.
EXACT = 0.0


@pytest.mark.parametrize("case", ["rnn_static", "rnn_exposed"])
def test_rnn_matches_caffe(case):
    fwd, bwd = report(f"RNN ({case})", CaseRun(case).compare())
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def test_blob_layout_and_caffemodel_round_trip(tmp_path):
    run = CaseRun("rnn_static")
    # W_xh (H x I), b_h, W_xh_static (H x S), W_hh, W_ho, b_o with H = 5, I = 3, S = 2 * 2
    assert [tuple(p.shape) for p in run.net.params["rec"]] == \
        [(5, 3), (5,), (5, 4), (5, 5), (5, 5), (5,)]
    assert list(run.net.caffe_state_dict()) == [f"rec.{n}" for n in (
        "W_xh", "b_h", "W_xh_static", "W_hh", "W_ho", "b_o")]
    run.net.save(tmp_path / "rnn.caffemodel")
    again = Net(str(run.ref["net"]), str(tmp_path / "rnn.caffemodel"), phase="train")
    for a, b in zip(again.params["rec"], run.net.params["rec"]):
        assert torch.equal(a, b)
    feed = {k.split("/", 2)[2]: v for k, v in run.ref.items() if k.startswith("s0/in/")}
    with torch.no_grad():
        out = again.forward(**feed)["o"]
    assert np.abs(out.numpy() - run.ref["s0/blob/o"]).max() <= FORWARD_TOL


def test_state_restart_and_reset():
    net = Net('''name: "r"
layer { name: "in" type: "Input" top: "x" top: "cont" input_param {
  shape { dim: 3 dim: 2 dim: 1 } shape { dim: 3 dim: 2 } } }
layer { name: "rnn" type: "RNN" bottom: "x" bottom: "cont" top: "o" recurrent_param {
  num_output: 2 weight_filler { type: "uniform" min: -1 max: 1 }
  bias_filler { type: "uniform" min: -1 max: 1 } } }''', seed=2)
    x = np.random.default_rng(1).normal(size=(3, 2, 1)).astype(np.float32)
    with torch.no_grad():
        first = net.forward(x=x, cont=np.zeros((3, 2), np.float32))["o"].clone()
        # cont = 0 at every step: each step starts from zero, so nothing is carried
        again = net.forward(x=x, cont=np.zeros((3, 2), np.float32))["o"]
        assert torch.equal(first, again)
        carried = net.forward(x=x, cont=np.ones((3, 2), np.float32))["o"].clone()
        net.layer("rnn").reset()
        fresh = net.forward(x=x, cont=np.ones((3, 2), np.float32))["o"]
    assert not torch.equal(carried, fresh)    # the first forward started from the last state
    assert torch.equal(fresh[0], first[0])    # after reset: from zero, as the very first one


def test_bad_static_input_names_the_layer():
    text = '''name: "r"
layer { name: "in" type: "Input" top: "x" top: "cont" top: "s" input_param {
  shape { dim: 3 dim: 2 dim: 1 } shape { dim: 3 dim: 2 } shape { dim: 3 dim: 4 } } }
layer { name: "rnn" type: "RNN" bottom: "x" bottom: "cont" bottom: "s" top: "o"
  recurrent_param { num_output: 2 } }'''
    with pytest.raises(NetError, match=r"layer 'rnn'.*x_static\) must have N = 2 rows"):
        Net(text)
