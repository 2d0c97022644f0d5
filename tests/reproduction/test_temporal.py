"""Time: received frames and held predictions, windowed aggregation, LSTM training windows and
their HDF5 layout, chunked LSTM prediction, and the CNN-LSTM prototxt against real Caffe 1.0
(tests/fixtures/cnn_lstm, written by make_cnn_lstm.py with the Caffe oracle)."""
import importlib.util
import json

import h5py
import numpy as np
import pytest
import torch

from reproduction.errors import ReproductionError
from reproduction.temporal import (hold, lstm_net, lstm_predict, received, window_aggregate,
                                   windows, write_sequences)
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "cnn_lstm"
# Caffe's forward sums in its BLAS order, ours (inference) in torch's: float32 rounding of
# 1324-term sums through 30 LSTM steps; the acceptance bound of the CNN-LSTM's parity
CAFFE_TOL = 1e-5


def test_received_and_hold():
    assert received(7, 1).tolist() == list(range(7))
    assert received(7, 3).tolist() == [0, 3, 6]
    full = hold([10.0, 13.0, 16.0], [0, 3, 6], 8)
    assert full.tolist() == [10, 10, 10, 13, 13, 13, 16, 16]
    with pytest.raises(ReproductionError, match="divisor"):
        received(5, 0)
    with pytest.raises(ReproductionError, match="first at frame 0"):
        hold([1.0], [2], 4)


def test_window_aggregate():
    idx = np.arange(0, 10, 2)                     # frames 0 2 4 6 8
    pred = np.array([0.0, 1.0, 5.0, 3.0, 2.0])
    # window 5 frames: +-2 frames, i.e. the neighbouring received frames
    assert window_aggregate(pred, idx, 5, "mean").tolist() == [0.5, 2.0, 3.0, 10 / 3, 2.5]
    assert window_aggregate(pred, idx, 5, "median").tolist() == [0.5, 1.0, 3.0, 3.0, 2.5]
    assert window_aggregate(pred, idx, 1, "mean").tolist() == pred.tolist()
    with pytest.raises(ReproductionError, match="aggregation 'mode'"):
        window_aggregate(pred, idx, 5, "mode")


def test_windows_and_time_major_hdf5(tmp_path):
    feats = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    labels = np.arange(10, dtype=np.float32) / 10
    wins = windows(feats, labels, received(10, 2), T=3, stride=1)   # frames 0 2 4 6 8
    assert len(wins) == 3 and wins[1][1].tolist() == pytest.approx([0.2, 0.4, 0.6])
    short = windows(feats, labels, received(10, 6), T=3, stride=1)  # frames 0 6: padded
    assert len(short) == 1 and short[0][1].tolist() == pytest.approx([0.0, 0.6, 0.6])
    listing = write_sequences(wins + short, str(tmp_path / "s.h5"), streams=3, seed=0)
    assert open(listing).read().strip() == str(tmp_path / "s.h5")
    with h5py.File(tmp_path / "s.h5", "r") as h:
        feat, cont, label = h["feat"][()], h["cont"][()], h["label"][()]
    # 4 windows in blocks of 3 streams: 2 blocks (topped up) of T = 3 rows
    assert feat.shape == (6, 3, 3) and cont.shape == (6, 3) and label.shape == (6, 3, 1)
    assert (cont[[0, 3]] == 0).all() and (cont[[1, 2, 4, 5]] == 1).all()
    starts = {tuple(w[0][0]) for w in wins + short}
    for b in range(2):
        for s in range(3):
            assert tuple(feat[3 * b, s]) in starts
            # a window's label follows its frames (label = frame / 10 of the feature's row)
            assert label[3 * b:3 * b + 3, s, 0] == pytest.approx(feat[3 * b:3 * b + 3, s, 0]
                                                                / 30)


def _caffe_fixture():
    path = FIXTURE / "make_cnn_lstm.py"
    spec = importlib.util.spec_from_file_location("make_cnn_lstm", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, dict(np.load(FIXTURE / "cnn_lstm.npz")), json.loads(
        (FIXTURE / "cnn_lstm.json").read_text())


def test_cnn_lstm_prototxt_matches_real_caffe():
    mod, ref, meta = _caffe_fixture()
    ws = mod.weights()
    assert mod.digest(ws) == meta["weights_sha256"], "the fixture's weights are drawn otherwise"
    _, mine = mod.ours(ws, ref["feats"], ref["cont"])
    errors = {k: float(np.abs(mine[k] - ref[k]).max()) for k in ("lstm_0", "pred_0",
                                                                 "lstm_1", "pred_1")}
    print(f"\nCNN-LSTM (1024 units, T=30, N=2, two forwards) vs Caffe: {errors}")
    assert max(errors.values()) <= CAFFE_TOL


def test_chunked_prediction_carries_the_state(tmp_path):
    # one sequence of 10 steps run as chunks of T = 4 (hidden state carried, the last chunk
    # padded) equals the same net run over all 10 steps at once
    from caffe_compat import Net
    from caffe_compat.io.prototxt import read_net
    deploy = REPO / "prototxt" / "cnn_lstm_deploy.prototxt"
    param = read_net(str(deploy))
    for lp in param.layer:
        if lp.type == "LSTM":
            lp.recurrent_param.num_output = 8
    ref = Net(param, phase="test", seed=3)
    weights = str(tmp_path / "w.caffemodel")
    ref.save(weights)
    feats = np.random.default_rng(0).random((10, 300), dtype=np.float32)
    whole = lstm_predict(lstm_net(deploy, weights, 10, hidden=8), feats, 10)
    chunked = lstm_predict(lstm_net(deploy, weights, 4, hidden=8), feats, 4)
    # the same recurrence; only the input transform's matrix product sees 4 rows instead of
    # 10 (other BLAS blocking): float32 rounding of 300-term sums, ~1e-7 relative
    assert np.abs(whole - chunked).max() <= 1e-6
    # and run twice, the second run does not see the first one's state
    net = lstm_net(deploy, weights, 4, hidden=8)
    assert np.array_equal(lstm_predict(net, feats, 4), lstm_predict(net, feats, 4))
    with torch.no_grad():
        assert np.isfinite(whole).all()
