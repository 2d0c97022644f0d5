"""LSTM against Caffe 1.0: T = 7 unrolled steps with ``cont`` restarts in the middle (stream 0
at t = 3, stream 2 at t = 5), the hidden state carried into a second forward, N changed
between forwards (3 -> 2 -> 3), a static input with ``expose_hidden``; caffemodels written by
Caffe load here and ours load back identically (Caffe reading ours is checked when the fixtures
are written: meta.json)."""
import numpy as np
import pytest
import torch

from caffe_compat import Net, NetError, WeightsError
from caffe_compat.io.caffemodel import read_caffemodel
from caffe_compat.layers import layer_class
from tests.caffe_compat.layers.new_layer_cases import FIXTURES, CaseRun, case_meta, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL, scaled_error

# A caffemodel stores float32 values exactly: a reload must give identical weights and outputs.
EXACT = 0.0


@pytest.mark.parametrize("case", ["lstm_t7", "lstm_static_exposed"])
def test_lstm_matches_caffe(case):
    fwd, bwd = report(f"LSTM ({case})", CaseRun(case).compare())
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def test_caffe_written_caffemodel_gives_caffes_outputs():
    run = CaseRun("lstm_t7", weights=str(FIXTURES / "lstm_t7.caffemodel"))
    rows = [(w, e) for w, e in run.compare() if " top " in f" {w}"]
    fwd, _ = report("LSTM from Caffe's caffemodel (4 forwards)", rows)
    assert fwd <= FORWARD_TOL


def test_our_caffemodel_has_caffes_layout_and_reloads_identically(tmp_path):
    run = CaseRun("lstm_t7", weights=str(FIXTURES / "lstm_t7.caffemodel"))
    path = tmp_path / "ours.caffemodel"
    run.net.save(path)
    ours, caffes = read_caffemodel(path), read_caffemodel(FIXTURES / "lstm_t7.caffemodel")
    mine = {l.name: l for l in ours.layer}
    for layer in caffes.layer:
        assert [tuple(b.shape.dim) for b in mine[layer.name].blobs] == \
            [tuple(b.shape.dim) for b in layer.blobs], layer.name
        for a, b in zip(mine[layer.name].blobs, layer.blobs):
            assert list(a.data) == list(b.data)
    # W_xc (4H x I), b_c (4H), W_hc (4H x H) with H = 4, I = 2 * 3
    assert [tuple(p.shape) for p in run.net.params["rec"]] == [(16, 6), (16,), (16, 4)]
    # the names `caffe-compat convert` gives the blobs of a caffemodel's LSTM layer
    assert layer_class("LSTM").names_of_blobs(3) == ["W_xc", "b_c", "W_hc"]
    assert layer_class("LSTM").names_of_blobs(4) == ["W_xc", "b_c", "W_xc_static", "W_hc"]
    again = Net(str(run.ref["net"]), str(path), phase="train")
    feed = {k.split("/", 2)[2]: v for k, v in run.ref.items() if k.startswith("s0/in/")}
    fresh = Net(str(run.ref["net"]), str(FIXTURES / "lstm_t7.caffemodel"), phase="train")
    with torch.no_grad():
        a, b = again.forward(**feed)["h"], fresh.forward(**feed)["h"]
    assert (a - b).abs().max().item() <= EXACT


def test_caffe_reads_our_caffemodel():
    # figure recorded by make_new_layers.py --ours: our saved LSTM caffemodel (our own filler
    # values) loaded by real Caffe, four forwards compared with ours (torch's summation order
    # at inference: FORWARD_TOL)
    _, meta = case_meta("lstm_t7")
    err = meta.get("caffe_reads_our_lstm_caffemodel_max_scaled_error")
    if err is None:
        pytest.skip("the fixtures were written without --ours")
    print(f"\nCaffe on our LSTM caffemodel: max scaled error {err:.3g}")
    assert err <= FORWARD_TOL


NET = '''name: "l" force_backward: true
layer { name: "in" type: "Input" top: "x" top: "cont" input_param {
  shape { dim: %d dim: 2 dim: 3 } shape { dim: %d dim: 2 } } }
layer { name: "lstm" type: "LSTM" bottom: "x" bottom: "cont" top: "h"
  recurrent_param { num_output: 4 weight_filler { type: "uniform" min: -0.5 max: 0.5 }
                    bias_filler { type: "uniform" min: -0.5 max: 0.5 } } }
'''


def test_matches_torch_lstm_with_caffes_gate_order():
    # an independent implementation: torch's LSTM orders the gates i, f, g, o; Caffe i, f, o, g
    net = Net(NET % (5, 5), phase="test", seed=4)
    x = np.random.default_rng(0).normal(size=(5, 2, 3)).astype(np.float32)
    cont = np.ones((5, 2), np.float32)
    cont[0] = 0
    with torch.no_grad():
        h = net.forward(x=x, cont=cont)["h"]
    w_xc, b_c, w_hc = net.params["lstm"]

    def order(w):
        i, f, o, g = w.chunk(4, 0)
        return torch.cat([i, f, g, o])

    ref = torch.nn.LSTM(3, 4)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(order(w_xc))
        ref.weight_hh_l0.copy_(order(w_hc))
        ref.bias_ih_l0.copy_(order(b_c))
        ref.bias_hh_l0.zero_()
        want, _ = ref(torch.from_numpy(x))
    # float32, two implementations with different rounding: FORWARD_TOL of the scale
    assert scaled_error(h.numpy(), want.numpy()) <= FORWARD_TOL


def test_bad_inputs_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'lstm'.*bottom 1 \(cont\) must have shape"):
        Net(NET.replace("shape { dim: %d dim: 2 } }", "shape { dim: %d dim: 3 } }") % (5, 5))
    net = Net(NET % (5, 5))
    with pytest.raises(NetError, match=r"layer 'lstm'.*number of time steps changed: 4"):
        net.forward(x=np.zeros((4, 2, 3), np.float32), cont=np.zeros((4, 2), np.float32))
    with pytest.raises(NetError, match=r"layer 'lstm'.*takes 2 or 3 bottoms"):
        Net(NET.replace('bottom: "cont"', "") % (5, 5))
    with pytest.raises(NetError, match=r"layer 'lstm'.*4 or 5 bottoms \(x, cont, optional "
                       r"x_static, h_0, c_0\), got 2"):
        Net(NET.replace("num_output: 4", "num_output: 4 expose_hidden: true") % (5, 5))
    with pytest.raises(NetError, match=r"layer 'lstm'.*num_output must be positive"):
        Net(NET.replace("num_output: 4", "") % (5, 5))


def test_caffemodel_of_another_layout_is_refused_with_the_blob_named():
    text = str(np.load(FIXTURES / "lstm_t7.npz")["net"])
    with pytest.raises(WeightsError, match=r"layer 'rec' blob 0: shape mismatch, file has "
                                           r"\(16, 6\), net expects \(20, 6\)"):
        Net(text.replace("num_output: 4", "num_output: 5"), str(FIXTURES / "lstm_t7.caffemodel"))
