"""pycaffe's solvers on the torch engine (CAFFE_COMPAT_ARRAY_SOLVER=0) on small HDF5 nets:
``step(n)`` in pieces leaves what one call leaves, and a solver with its nets and data files
goes with its last reference (the array engine's solver is tested in
tests/caffe_compat/array_solver)."""
import h5py
import numpy as np
import pytest

import caffe


@pytest.fixture(autouse=True)
def _torch_engine_solver(monkeypatch):
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_SOLVER", "0")


NET = """layer {{ name: "data" type: "HDF5Data" top: "data" top: "label"
  hdf5_data_param {{ source: "{source}" batch_size: 10 }} }}
layer {{ name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
  inner_product_param {{ num_output: 40 weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }}
layer {{ name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  inner_product_param {{ num_output: 3 weight_filler {{ type: "xavier" }}
    bias_filler {{ type: "constant" value: 0.1 }} }} }}
layer {{ name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy" }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }}
"""
SOLVER = """train_net: "{net}" test_net: "{test}" test_iter: 25 test_interval: 40
base_lr: 0.05 lr_policy: "step" gamma: 0.5 stepsize: 70 momentum: 0.9 weight_decay: 5e-4
display: 30 average_loss: 7 max_iter: 150 random_seed: 1701 snapshot_after_train: false
"""


def _write(tmp_path):
    rng = np.random.RandomState(0)
    for name, rows in (("train", 230), ("test", 120)):
        with h5py.File(tmp_path / f"{name}.h5", "w") as f:
            f["data"] = (rng.randn(rows, 4) * 2).astype(np.float32)
            f["label"] = rng.randint(0, 3, rows).astype(np.float32)
    # the training list names its file twice, as the brewing notebook's does: a file switch
    (tmp_path / "train.txt").write_text(f"{tmp_path / 'train.h5'}\n" * 2)
    (tmp_path / "test.txt").write_text(f"{tmp_path / 'test.h5'}\n")
    for name in ("train", "test"):
        (tmp_path / f"{name}.prototxt").write_text(NET.format(source=tmp_path / f"{name}.txt"))
    path = tmp_path / "solver.prototxt"
    path.write_text(SOLVER.format(net=tmp_path / "train.prototxt",
                                  test=tmp_path / "test.prototxt"))
    return str(path)


def _state(solver):
    out = {}
    for label, net in [("train", solver.net)] + [(f"test{i}", n)
                                                  for i, n in enumerate(solver.test_nets)]:
        for name, blob in net.blobs.items():
            out[f"{label}:data:{name}"] = blob.data.copy()
            out[f"{label}:diff:{name}"] = blob.diff.copy()
        for name, blobs in net.params.items():
            for i, b in enumerate(blobs):
                out[f"{label}:param:{name}:{i}"] = b.data.copy()
                out[f"{label}:pdiff:{name}:{i}"] = b.diff.copy()
    engine = solver._solver
    for i, h in enumerate(engine.history):
        out[f"history:{i}"] = h.numpy().copy()
    out["iter"] = np.asarray(solver.iter)
    out["current_step"] = np.asarray(engine.current_step)
    for i, scores in enumerate(engine.test_scores):
        out[f"scores:{i}"] = np.asarray([v for _, v in scores], np.float32)
    for label, net in [("train", engine.net)] + [(f"test{i}", n)
                                                  for i, n in enumerate(engine.test_nets)]:
        for name, layer in net.layers.items():
            src = getattr(layer, "source", None)
            if src is not None:
                out[f"cursor:{label}:{name}"] = np.asarray([src.current_file, src.current_row])
    return out


def _run(solver_file, action):
    caffe.set_mode_cpu()
    solver = caffe.get_solver(solver_file)
    action(solver)
    return _state(solver)


def test_step_in_pieces_and_in_one_call(tmp_path):
    """Every blob, parameter, diff, history blob, counter, test score and HDF5 cursor the same
    bits after step(1), step(13), ... as after one step(103) (the smoothed loss, which each
    step() starts again, left out)."""
    solver_file = _write(tmp_path)

    def pieces(s):
        for n in (1, 13, 2, 50, 37):
            s.step(n)

    a = _run(solver_file, pieces)
    b = _run(solver_file, lambda s: s.step(103))
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key


def test_solver_released_without_the_collector(tmp_path):
    """The solver, its nets and their data files go with the last reference, as in Caffe (no
    cycle for the collector)."""
    import gc
    import weakref
    solver = caffe.get_solver(_write(tmp_path))
    solver.step(60)                                  # training and a test pass
    engine = solver._solver
    refs = [weakref.ref(engine), weakref.ref(engine.net), weakref.ref(engine.test_nets[0])]
    del engine
    gc.disable()
    try:
        del solver
        assert all(r() is None for r in refs)
    finally:
        gc.enable()
