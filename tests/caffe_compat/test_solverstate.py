"""Binary solver states written by Caffe: contents, byte-exact re-encoding, bad files."""
import glob
import os

import numpy as np
import pytest

from caffe_compat.errors import WeightsError
from caffe_compat.io.caffemodel import layer_blobs, read_caffemodel
from caffe_compat.io.solverstate import (history_arrays, parse_solverstate, read_solverstate,
                                         solverstate_bytes, write_solverstate)
from caffe_compat.proto import caffe_pb2 as pb
from tests.conftest import fixture_path

# Solvers with one history blob per parameter; AdaDelta and Adam keep two.
PARAM_SHAPES = [(4, 1, 3, 3), (4,), (3, 144), (3,)]
VARIANTS = {"nesterov": 1, "adagrad": 1, "rmsprop": 1, "adadelta": 2, "adam": 2, "sgd_exp": 1,
            "sgd_inv": 1, "sgd_multistep": 1, "sgd_poly": 1, "sgd_sigmoid": 1, "sgd_l1": 1,
            "sgd_clip": 1, "sgd_itersize2": 1}


@pytest.mark.parametrize("variant,copies", sorted(VARIANTS.items()))
def test_snapshot_iter_10(variant, copies):
    path = fixture_path("caffe-reference", "train", "solvers", variant,
                       "snapshot_iter_10.solverstate")
    state = read_solverstate(path)
    assert state.iter == 10
    assert state.learned_net == f"{variant}/snapshot_iter_10.caffemodel"
    assert [tuple(h.shape.dim) for h in state.history] == PARAM_SHAPES * copies
    arrays = history_arrays(state, str(path))
    assert all(a.dtype == np.float32 for a in arrays)
    assert any(np.abs(a).max() > 0 for a in arrays)  # ten updates leave a history


def test_multistep_current_step():
    base = fixture_path("caffe-reference", "train", "solvers", "sgd_multistep")
    # Steps at 5, 12, 17: one passed by iteration 10, all three by 20.
    assert read_solverstate(base / "snapshot_iter_10.solverstate").current_step == 1
    assert read_solverstate(base / "snapshot_iter_20.solverstate").current_step == 3


def test_cnnd_state_matches_its_net():
    base = fixture_path("caffe-reference", "train", "cnnd_sgd_step")
    state = read_solverstate(base / "snapshot_iter_20.solverstate")
    assert (state.iter, state.current_step) == (20, 2)  # step policy, stepsize 7
    net = read_caffemodel(base / state.learned_net)
    shapes = [a.shape for _, _, arrays in layer_blobs(net) for a in arrays]
    assert [a.shape for a in history_arrays(state)] == shapes


def test_every_reference_state_reencodes_byte_identical(tmp_path):
    root = fixture_path("caffe-reference")
    paths = sorted(glob.glob(os.path.join(root, "**", "*.solverstate"), recursive=True))
    assert len(paths) >= 20
    for path in paths:
        data = open(path, "rb").read()
        state = parse_solverstate(data, path)
        assert solverstate_bytes(state) == data, path
    out = tmp_path / "copy.solverstate"
    write_solverstate(state, out)
    assert out.read_bytes() == data
    assert read_solverstate(out) == state
    assert [p.name for p in tmp_path.iterdir()] == ["copy.solverstate"]


def test_build_and_round_trip(tmp_path):
    state = pb.SolverState(iter=7, learned_net="x_iter_7.caffemodel", current_step=1)
    hist = state.history.add()
    hist.shape.dim.extend([2, 2])
    hist.data.extend([0.5, -1.0, 0.0, 2.0])
    write_solverstate(state, tmp_path / "s.solverstate")
    again = read_solverstate(tmp_path / "s.solverstate")
    assert again == state
    assert np.array_equal(history_arrays(again)[0], [[0.5, -1.0], [0.0, 2.0]])


def test_bad_files(tmp_path):
    good = fixture_path("caffe-reference", "train", "solvers", "adam",
                       "snapshot_iter_10.solverstate").read_bytes()
    with pytest.raises(WeightsError, match=r"none\.solverstate: no such solverstate file"):
        read_solverstate(tmp_path / "none.solverstate")
    (tmp_path / "empty.solverstate").write_bytes(b"")
    with pytest.raises(WeightsError, match="empty file"):
        read_solverstate(tmp_path / "empty.solverstate")
    (tmp_path / "cut.solverstate").write_bytes(good[:len(good) // 2])
    with pytest.raises(WeightsError, match=r"cut\.solverstate: not a valid binary solverstate: "
                                           r"history #\d+ .*truncated"):
        read_solverstate(tmp_path / "cut.solverstate")
    (tmp_path / "text.solverstate").write_text("iter: 10\nlearned_net: 'a'\n")
    with pytest.raises(WeightsError, match="a text file"):
        read_solverstate(tmp_path / "text.solverstate")
    with pytest.raises(WeightsError, match=r"a \.caffemodel \(NetParameter\), not a solverstate"):
        read_solverstate(fixture_path("caffe-reference", "train", "solvers", "adam",
                                     "snapshot_iter_10.caffemodel"))
    with pytest.raises(WeightsError, match="over the limit of 10 bytes"):
        read_solverstate(fixture_path("caffe-reference", "train", "solvers", "adam",
                                     "snapshot_iter_10.solverstate"), max_bytes=10)


def test_bad_history_blob_is_named():
    state = pb.SolverState(iter=1)
    blob = state.history.add(data=[1.0, 2.0])
    blob.shape.dim.append(3)
    with pytest.raises(WeightsError, match=r"^s\.solverstate: history blob 0: 2 data values"):
        history_arrays(state, "s.solverstate")
