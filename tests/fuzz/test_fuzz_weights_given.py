"""Fuzz: whatever file is given as weights, on every loading path (pycaffe's ``caffe.Net``,
cv2.dnn's ``readNetFromCaffe`` after ``install()``, ``caffe_compat.Net``).

Each kind of file a user may pass by mistake (a binary or HDF5 caffemodel, which are read; a
binary or HDF5 solver state, an HDF5 data file, a prototxt, an empty file, random bytes, a
directory, a missing file) is read or refused with a ``WeightsError`` that names the file and
says what it is instead; then random and damaged HDF5 files (tests.fuzz.strategies.h5_files,
with Caffe's layouts among them) must end the same way.
"""
import os
import warnings

import h5py
import numpy as np
import pytest
from hypothesis import strategies as st

import caffe
from caffe_compat import Net, dnn
from caffe_compat.errors import WeightsError
from caffe_compat.solvers.weights import write_net_hdf5
from tests.fuzz import strategies as S
from tests.fuzz.harness import Campaign

DEPLOY = """name: "small"
input: "data"
input_shape { dim: 1 dim: 1 dim: 6 dim: 6 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 2 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "fc2" type: "InnerProduct" bottom: "conv1" top: "fc2"
        inner_product_param { num_output: 3 } }
"""


def _pycaffe(deploy, weights):
    return caffe.Net(deploy, caffe.TEST, weights=weights)


def _cv2_dnn(deploy, weights):
    import cv2
    return cv2.dnn.readNetFromCaffe(deploy, weights)


def _engine_net(deploy, weights):
    return Net(deploy, weights=weights)


PATHS = {"pycaffe": _pycaffe, "cv2.dnn": _cv2_dnn, "caffe_compat.Net": _engine_net}


@pytest.fixture
def installed():
    """cv2.dnn with caffe_compat's Caffe reader (``replace=True`` on OpenCV 4); restored."""
    dnn.install(replace=True)
    yield
    dnn.uninstall()


def _write_kinds(folder):
    """{kind: path} of every kind of file given as weights."""
    src = Net(DEPLOY, seed=1)
    paths = {k: os.path.join(folder, name) for k, name in [
        ("caffemodel", "w.caffemodel"), ("caffemodel.h5", "w.caffemodel.h5"),
        ("solverstate", "w.solverstate"), ("solverstate.h5", "w.solverstate.h5"),
        ("hdf5 data", "train.h5"), ("prototxt", "deploy.prototxt"), ("empty", "e.caffemodel"),
        ("random bytes", "r.caffemodel"), ("directory", "snapshots"),
        ("missing", "gone.caffemodel")]}
    src.save(paths["caffemodel"])
    write_net_hdf5(src, paths["caffemodel.h5"])
    from caffe_compat.io.solverstate import write_solverstate
    from caffe_compat.io.caffemodel import array_to_blob
    from caffe_compat.proto import caffe_pb2
    state = caffe_pb2.SolverState(iter=10, learned_net=paths["caffemodel"], current_step=0)
    state.history.add().CopyFrom(array_to_blob(np.zeros((2, 1, 3, 3), np.float32)))
    write_solverstate(state, paths["solverstate"])
    with h5py.File(paths["solverstate.h5"], "w") as f:   # Caffe's SnapshotSolverStateToHDF5
        f["iter"] = 10
        f["learned_net"] = paths["caffemodel.h5"]
        f["current_step"] = 0
        f.create_group("history").create_dataset("0", data=np.zeros((2, 1, 3, 3), np.float32))
    with h5py.File(paths["hdf5 data"], "w") as f:
        f["data"] = np.zeros((4, 1, 6, 6), np.float32)
        f["label"] = np.zeros((4, 3), np.float32)
    with open(paths["prototxt"], "w") as f:
        f.write(DEPLOY)
    open(paths["empty"], "wb").close()
    with open(paths["random bytes"], "wb") as f:
        f.write(np.random.default_rng(5).bytes(700))
    os.mkdir(paths["directory"])
    return paths


# what each refusal says the file is (any path), beside the file's name
SAYS = {
    "solverstate": r"a \.solverstate \(SolverState\), not a caffemodel: a solver state resumes "
                   r"training \(caffe-compat train --snapshot, solver\.restore\); as weights "
                   r"pass the \.caffemodel written beside it \('.*w\.caffemodel'\)",
    "solverstate.h5": r"an HDF5 solver state \(snapshot_format: HDF5\), not weights; pass it to "
                      r"resume training .* the \.caffemodel\.h5 written beside it "
                      r"\('.*w\.caffemodel\.h5'\)",
    "hdf5 data": r"an HDF5 data file with dataset\(s\) 'data' \(4, 1, 6, 6\), 'label' \(4, 3\) "
                 r"\(a training data source, .*\), not weights; pass a \.caffemodel or "
                 r"\.caffemodel\.h5",
    "prototxt": r"a text file \(a prototxt\?\), not a binary caffemodel; a net definition goes "
                r"first",
    "empty": r"empty file \(0 bytes\), not a caffemodel",
    "random bytes": r"not a valid binary caffemodel: ",
    "directory": r"is a directory, not a caffemodel file",
    "missing": r"no such caffemodel file",
}


@pytest.mark.parametrize("path_name", list(PATHS))
def test_every_kind_on_every_path(tmp_path, installed, path_name):
    paths = _write_kinds(str(tmp_path))
    deploy = paths["prototxt"]
    load = PATHS[path_name]
    src = Net(DEPLOY, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # the files fit: not a word
        warnings.filterwarnings("ignore", module="google")
        for kind in ("caffemodel", "caffemodel.h5"):
            if kind == "caffemodel.h5" and path_name == "cv2.dnn":
                continue                                  # below: OpenCV reads binary only
            net = load(deploy, paths[kind])
            if path_name == "cv2.dnn":
                got = net.getParam("conv1", 0)
            else:
                got = np.asarray(net.params["conv1"][0].data if path_name == "pycaffe" else
                                 net.params["conv1"][0].detach())
            assert np.array_equal(got, src.params["conv1"][0].detach().numpy()), kind
    refusals = dict(SAYS)
    if path_name == "cv2.dnn":
        refusals["caffemodel.h5"] = (r"an HDF5 caffemodel \(snapshot_format: HDF5\), not a "
                                     r"binary one; .*readNetFromCaffe take binary caffemodels "
                                     r"only: caffe_compat\.Net\(prototxt, weights=\.\.\.\) and "
                                     r"pycaffe's caffe\.Net read it")
    for kind, says in refusals.items():
        with pytest.raises(WeightsError) as info:
            load(deploy, paths[kind])
        text = str(info.value)
        assert text.startswith(f"{paths[kind]}: "), (kind, text)
        assert __import__("re").search(says, text), (kind, text)


def test_fuzz_hdf5_files_as_weights(tmp_path, installed):
    """Random and damaged HDF5 files, Caffe's caffemodel and solver state layouts among them,
    given as weights on every path: read, or a WeightsError naming the file."""
    folder = str(tmp_path)
    deploy = os.path.join(folder, "deploy.prototxt")
    with open(deploy, "w") as f:
        f.write(DEPLOY)
    path = os.path.join(folder, "w.caffemodel.h5")
    campaign = Campaign("weights", "weights: HDF5 files given on every loading path",
                        WeightsError, names=[path], share=0.1)
    layouts = st.sampled_from([("data", "label"), ("data/conv1/0", "data/conv1/1", "data/fc2/0"),
                               ("history/0", "learned_net", "iter")])
    cases = st.tuples(st.sampled_from(["random", "random", "caffemodel"]),
                      layouts.flatmap(lambda names: S.h5_files(names=names)),
                      st.sampled_from(sorted(PATHS)))
    src = Net(DEPLOY, seed=1)

    def body(case):
        made, (entries, damage), path_name = case
        if made == "caffemodel":               # Caffe's own layout, then maybe damaged
            write_net_hdf5(src, path)
        else:
            S.write_h5(path, entries)
        S.damage_file(path, damage)
        PATHS[path_name](deploy, path)
        return os.path.getsize(path) + S.h5_declared_bytes(path)

    campaign.run(cases, body)
