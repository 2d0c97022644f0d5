"""Our own net and solver definitions in prototxt/ build the same nets as the original files.

"Same" is checked on what Caffe makes of a file, not on its text: for each phase the same layer
list (names, types, bottoms, tops), blob shapes, parameter shapes, lr/decay multipliers, layer
settings, identical filler draws for the same seed (so the filler definitions agree), and
bit-identical outputs for the same input and weights.
"""
import os

import h5py
import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.io.prototxt import read_solver
from caffe_compat.proto import caffe_pb2
from tests.conftest import REPO, public_input

OURS = REPO / "prototxt"

NETS = [  # ours, original, input size of the data files
    ("cnnd_train_val.prototxt", "experiments/network/model_1F_CNN+D.prototxt", (96, 96, None)),
    ("cnnd_joint_train_val.prototxt", "experiments/network/model_1F_CNN+D_vlqr.prototxt",
     (96, 96, None)),
    ("cnnd_nonjoint_train_val.prototxt",
     "experiments/network/model_1F_CNN+D_vlqr_non_joint.prototxt", (96, 96, None)),
    ("srfcn_train_val.prototxt", "pretrain/Pretrain_net.prototxt", (32, 32, 16)),
    ("cnnd_deploy.prototxt", "deploy/model_1F_CNN+D.prototxt", None),
    ("srfcn_deploy.prototxt", "deploy/SRCNN_net.prototxt", None),
]
SOLVERS = [
    ("cnnd_solver.prototxt", "experiments/solver/solver_1F_CNN+D.prototxt"),
    ("cnnd_joint_solver.prototxt", "experiments/solver/solver_1F_CNN+D_vlqr.prototxt"),
    ("cnnd_nonjoint_solver.prototxt", "experiments/solver/solver_1F_CNN+D_vlqr_non_joint.prototxt"),
    ("srfcn_solver.prototxt", "pretrain/Pretrain_solver.prototxt"),
]


def _h5_sources(tmp_path, size, net_file):
    """A tiny HDF5 file set standing in for every data source of ``net_file``."""
    h, w, label = size
    path = tmp_path / "d.h5"
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f["data"] = rng.random((8, 1, h, w), dtype=np.float32)
        f["label"] = (rng.random((8, 1, label, label), dtype=np.float32) if label
                      else rng.random((8, 1), dtype=np.float32))
    lst = tmp_path / "list.txt"
    lst.write_text(f"{path}\n")
    from caffe_compat.net.core import load_net_param
    sources = {lp.hdf5_data_param.source: str(lst)
               for lp in load_net_param(net_file).layer if lp.type == "HDF5Data"}
    return sources


def _describe(net):
    rows = []
    for node, key, weights, _ in net._nodes:
        m = net.layers[key]
        settings = {k: v for k, v in vars(m).items()
                    if not k.startswith("_") and k not in ("param", "training", "source")
                    and isinstance(v, (int, float, str, bool, tuple, list, type(None)))}
        if node.type == "HDF5Data":
            settings["batch_size"] = m.source.batch_size
        rows.append((node.name, node.type, tuple(node.bottoms), tuple(node.tops), tuple(weights),
                     tuple(tuple(p.shape) for p in m.blobs), repr(sorted(settings.items()))))
    specs = [(e.layer, e.index, e.lr_mult, e.decay_mult) for e in net.learnable]
    shapes = [(n, net.blob_shape(n)) for n in net.graph.blob_names]
    return rows, specs, shapes


def _without_label(path):
    """The original deploy net less its dummy 'label' input and the layers reading it (the
    TEST-only Silence, the TRAIN-only loss): our deploy nets take the face alone."""
    from caffe_compat.net.core import load_net_param
    param = load_net_param(str(path))
    first = param.layer[0]
    assert first.type == "Input" and list(first.top) == ["data", "label"]
    del first.top[1:]
    del first.input_param.shape[1:]
    keep = [lp for lp in param.layer if "label" not in lp.bottom]
    del param.layer[:]
    param.layer.extend(keep)
    return param


def test_deploy_nets_take_the_face_alone():
    """A deploy net takes what a user feeds it: one input, no Silence layer, no loss (what
    `export` lists as its inputs is ``Net.inputs``)."""
    for name in sorted(p.name for p in OURS.glob("*deploy*.prototxt")):
        for phase in ("train", "test"):
            net = Net(str(OURS / name), phase=phase, seed=1)
            types = {node.type for node, _, _, _ in net._nodes}
            assert "label" not in net.inputs and not {"Silence", "EuclideanLoss"} & types, \
                (name, phase, net.inputs, sorted(types))


@pytest.mark.parametrize("name,output", [("cnnd_deploy.prototxt", "fc5"),
                                         ("srfcn_deploy.prototxt", "conv4")])
def test_paper_deploy_nets_in_pycaffe_and_cv2_dnn(name, output):
    """pycaffe's ``net.forward(data=x)`` runs them (a net input left out is an error there),
    and cv2.dnn's first layer is the first convolution."""
    import caffe
    from caffe_compat import dnn
    net = caffe.Net(str(OURS / name), caffe.TEST)
    assert net.inputs == ["data"]
    x = np.zeros((1, 1, 96, 96), np.float32)
    assert list(net.forward(data=x)) == [output]
    assert dnn.readNetFromCaffe(str(OURS / name)).getLayerNames()[0] == "conv1"


@pytest.mark.parametrize("ours,original,size", NETS, ids=[n[0] for n in NETS])
@pytest.mark.parametrize("phase", ["train", "test"])
def test_net_definition_matches_original(ours, original, size, phase, tmp_path):
    orig = public_input("original", original)
    sources = _h5_sources(tmp_path, size, str(orig)) if size else {}
    sources.update(_h5_sources(tmp_path, size, str(OURS / ours)) if size else {})
    a = Net(str(OURS / ours), phase=phase, seed=7, data_sources=sources)
    b = Net(str(orig) if size else _without_label(orig), phase=phase, seed=7,
            data_sources=sources)
    assert _describe(a) == _describe(b)
    for (la, pa), (lb, pb) in zip(a.params.items(), b.params.items()):
        for x, y in zip(pa, pb):  # same filler definitions: identical draws for one seed
            assert torch.equal(x, y), f"{la}: initial values differ"
    if not size and phase == "test":  # deploy nets: identical outputs (no dropout) for one input
        x = torch.rand(a.blob_shape("data"), generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            oa, ob = a.forward(data=x), b.forward(data=x)
        assert list(oa) == list(ob)
        for k in oa:
            assert torch.equal(oa[k], ob[k])


def _solver_fields(path):
    s = read_solver(str(path))
    return {f.name: v for f, v in s.ListFields() if f.name not in ("net", "snapshot_prefix")}


@pytest.mark.parametrize("ours,original", SOLVERS, ids=[s[0] for s in SOLVERS])
def test_solver_definition_matches_original(ours, original):
    assert _solver_fields(OURS / ours) == _solver_fields(public_input("original", original))


def test_deploy_shapes_are_caffes():
    """Caffe's shapes of the deployed nets: CNN+D pool3 is 256x5x5 (fc4 sees 6400 inputs);
    the SR-FCN maps 96x96 to 80x80."""
    cnnd = Net(str(OURS / "cnnd_deploy.prototxt"))
    assert cnnd.blob_shape("pool3") == (1, 256, 5, 5)
    assert tuple(cnnd.params["fc4"][0].shape) == (300, 6400)
    sr = Net(str(OURS / "srfcn_deploy.prototxt"))
    assert sr.blob_shape("conv4") == (1, 1, 80, 80)
    assert os.path.basename(str(OURS)) == "prototxt"
