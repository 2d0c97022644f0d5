"""The explicit training pass (caffe_compat.net.train_plan, and pycaffe's layer-by-layer passes
through the layers' explicit calls) against autograd's: the same bits.

Tolerance 0 throughout: both run the same float32 kernels on the same tensors in the same
order (the explicit calls share the autograd Functions' forward and backward code), so every
loss, diff and trained weight must be equal bit for bit.
"""
import h5py
import numpy as np
import pytest
import torch

import caffe
from caffe_compat import Net, get_solver
from caffe_compat.net import train_plan
from caffe_compat.errors import NetError

LOGREG = """name: "LogisticRegressionNet"
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
  hdf5_data_param { source: "%(list)s" batch_size: 10 } }
layer { name: "fc1" type: "InnerProduct" bottom: "data" top: "fc1"
  param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
  inner_product_param { num_output: %(classes)d weight_filler { type: "gaussian" std: 0.5 }
    bias_filler { type: "gaussian" std: 0.1 } } }
%(middle)s
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "%(last)s" bottom: "label" top: "loss"
  %(loss)s }
"""
TWO_IP = """layer { name: "fc2" type: "InnerProduct" bottom: "fc1" top: "fc2"
  param { lr_mult: 1 } param { lr_mult: 0 }
  inner_product_param { num_output: 3 transpose: true weight_filler { type: "xavier" }
    bias_filler { type: "constant" value: 0.2 } } }"""
RELU = """layer { name: "relu" type: "ReLU" bottom: "fc1" top: "fc1" %s }
layer { name: "fc2" type: "InnerProduct" bottom: "fc1" top: "fc2"
  inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }"""
TANH = """layer { name: "tanh" type: "TanH" bottom: "fc1" top: "fc1" }
layer { name: "fc2" type: "InnerProduct" bottom: "fc1" top: "fc2"
  inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }"""
CONV = """layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 3 kernel_size: 2 weight_filler { type: "xavier" } } }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
  pooling_param { pool: AVE kernel_size: 2 } }
layer { name: "fc1" type: "InnerProduct" bottom: "pool" top: "fc1"
  inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }"""
ACCURACY = """layer { name: "accuracy" type: "Accuracy" bottom: "fc1" bottom: "label"
  top: "accuracy" }"""
SOLVER = """train_net: "%(net)s"
base_lr: 0.05 lr_policy: "step" gamma: 0.5 stepsize: 4 display: 0 max_iter: 1000
momentum: 0.9 weight_decay: 0.0005 snapshot: 0 snapshot_after_train: false iter_size: %(iters)d
snapshot_prefix: "%(folder)s/snap" solver_mode: CPU random_seed: 3
"""

CASES = {
    # Caffe's brewing-logreg example
    "logreg": dict(classes=2, middle="", last="fc1", loss="", iters=1),
    # two gradients accumulated per update, a loss weight that is not 1, ignored labels
    "itersize_weighted_ignore": dict(classes=3, middle="", last="fc1",
                                     loss="loss_weight: 0.5 loss_param { ignore_label: 1 }",
                                     iters=2),
    # a chain: the bottom diff of the second InnerProduct (transposed, fixed bias) flows on
    "two_inner_products": dict(classes=4, middle=TWO_IP, last="fc2", loss="", iters=1),
    # an in-place ReLU between two InnerProducts, and a leaky one
    "relu_in_place": dict(classes=4, middle=RELU % "", last="fc2", loss="", iters=1),
    "leaky_relu": dict(classes=3, middle=RELU % "relu_param { negative_slope: 0.1 }",
                       last="fc2", loss="", iters=1),
    # the notebook's net: an Accuracy beside the loss, so Caffe splits the scores (a Split
    # with two tops: its explicit backward) and the labels
    "split_accuracy": dict(classes=2, middle=ACCURACY, last="fc1", loss="", iters=1),
    # images (N, 1, 2, 2) flattened by the InnerProduct
    "image_input": dict(classes=2, middle="", last="fc1", loss="", iters=1, image=(1, 2, 2)),
}


def _files(folder, case):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((200,) + case.get("image", (4,))).astype(np.float32)
    y = rng.integers(0, min(case["classes"], 3), 200).astype(np.float32)
    with h5py.File(folder / "train.h5", "w") as f:
        f["data"], f["label"] = x, y
    (folder / "train.txt").write_text(str(folder / "train.h5") + "\n")
    (folder / "net.prototxt").write_text(LOGREG % dict(case, list=folder / "train.txt"))
    (folder / "solver.prototxt").write_text(SOLVER % dict(case, net=folder / "net.prototxt",
                                                          folder=folder))
    return str(folder / "solver.prototxt")


@pytest.fixture
def autograd_only():
    """Runs the block with the explicit passes off (restored afterwards)."""
    saved = train_plan.ENABLED

    def switch(enabled):
        train_plan.ENABLED = enabled
    yield switch
    train_plan.ENABLED = saved


def _run_caffe_compat(solver_file, iterations):
    solver = get_solver(solver_file)
    losses, diffs = [], []
    for _ in range(iterations):
        solver.step(1)
        losses.append(solver.last_loss)
        diffs.append([p.grad.clone() for p in solver._params])
    return solver, losses, diffs, [p.detach().clone() for p in solver._params]


@pytest.mark.parametrize("name", sorted(CASES))
def test_caffe_compat_solver_explicit_pass_is_autograd_bit_for_bit(tmp_path, name,
                                                                   autograd_only):
    solver_file = _files(tmp_path, CASES[name])
    autograd_only(True)
    explicit = _run_caffe_compat(solver_file, 12)
    assert train_plan.plan_for(explicit[0].net) is not None
    autograd_only(False)
    reference = _run_caffe_compat(solver_file, 12)
    assert train_plan.plan_for(reference[0].net) is None
    # tolerance 0: the same float32 operations in the same order (module doc)
    assert [float(v) for v in explicit[1]] == [float(v) for v in reference[1]]
    for got, want in zip(explicit[2], reference[2]):
        for a, b in zip(got, want):
            assert torch.equal(a, b)
    for a, b in zip(explicit[3], reference[3]):
        assert torch.equal(a, b)
    # the blobs after the last pass: the same data; the computed blobs' diffs are not kept,
    # as after autograd's pass
    for blob_name in ("fc1", "loss"):
        assert torch.equal(explicit[0].net.blobs[blob_name].data,
                           reference[0].net.blobs[blob_name].data)
        with pytest.raises(NetError, match="keep_diffs"):
            explicit[0].net.blobs[blob_name].diff


def _run_pycaffe(solver_file, iterations):
    solver = caffe.get_solver(solver_file)
    losses = []
    for _ in range(iterations):
        solver.step(1)
        losses.append(solver.net.blobs["loss"].data.copy())
    net = solver.net
    net.forward()
    net.backward()
    return (losses,
            {k: [b.data.copy() for b in v] for k, v in net.params.items()},
            {k: [b.diff.copy() for b in v] for k, v in net.params.items()},
            {k: b.diff.copy() for k, b in net.blobs.items()})


@pytest.mark.parametrize("name", sorted(CASES))
def test_pycaffe_solver_explicit_pass_is_autograd_bit_for_bit(tmp_path, name, autograd_only):
    solver_file = _files(tmp_path, CASES[name])
    autograd_only(True)
    explicit = _run_pycaffe(solver_file, 12)
    autograd_only(False)
    reference = _run_pycaffe(solver_file, 12)
    # tolerance 0: the same float32 operations in the same order (module doc)
    assert all(np.array_equal(a, b) for a, b in zip(explicit[0], reference[0]))
    for got, want in zip(explicit[1:3], reference[1:3]):
        assert got.keys() == want.keys()
        for layer in got:
            for a, b in zip(got[layer], want[layer]):
                assert np.array_equal(a, b)
    assert explicit[3].keys() == reference[3].keys()
    for blob_name in explicit[3]:
        assert np.array_equal(explicit[3][blob_name], reference[3][blob_name]), blob_name
    assert np.abs(explicit[3]["fc1"]).sum() > 0      # a diff that was computed


def test_pycaffe_mixes_explicit_and_autograd_layers_bit_for_bit(tmp_path, autograd_only):
    # a Pooling (autograd) between a Convolution and an InnerProduct and the loss
    # (explicit): pycaffe's layer-by-layer pass chooses per layer; the bottom diff reaching
    # the convolution and its parameters' diffs are autograd's bit for bit
    solver_file = _files(tmp_path, dict(classes=3, middle=CONV, last="fc1", loss="", iters=1,
                                        image=(1, 3, 3)))
    text = (tmp_path / "net.prototxt").read_text()
    start = text.index('layer { name: "fc1"')
    end = text.index('layer {', start + 1)
    (tmp_path / "net.prototxt").write_text(text[:start] + text[end:])   # fc1 from CONV only
    autograd_only(True)
    explicit = _run_pycaffe(solver_file, 8)
    autograd_only(False)
    reference = _run_pycaffe(solver_file, 8)
    # tolerance 0: the same float32 operations in the same order (module doc)
    assert all(np.array_equal(a, b) for a, b in zip(explicit[0], reference[0]))
    for got, want in zip(explicit[1:3], reference[1:3]):
        for layer in got:
            for a, b in zip(got[layer], want[layer]):
                assert np.array_equal(a, b)
    for blob_name in explicit[3]:
        assert np.array_equal(explicit[3][blob_name], reference[3][blob_name]), blob_name
    assert np.abs(explicit[3]["conv"]).sum() > 0


def test_net_with_a_layer_without_explicit_backward_trains_through_autograd(tmp_path,
                                                                           autograd_only):
    case = dict(classes=2, middle=TANH, last="fc2", loss="", iters=1)
    solver_file = _files(tmp_path, case)
    autograd_only(True)
    solver = get_solver(solver_file)
    assert train_plan.plan_for(solver.net) is None       # TanH: decided at set-up
    solver.step(2)
    assert all(p.grad is not None for p in solver._params)
    assert np.isfinite(solver.last_loss)


def test_plan_is_decided_again_when_the_settings_change(tmp_path, autograd_only):
    _files(tmp_path, CASES["logreg"])              # the net file and its data
    autograd_only(True)
    net = Net(str(tmp_path / "net.prototxt"), phase="train", seed=1)
    plan = train_plan.plan_for(net)
    assert plan is not None and train_plan.plan_for(net) is plan     # decided once
    for p in net.parameters():
        p.requires_grad_(False)
    assert train_plan.plan_for(net) is None          # nothing learns: no backward at all
    for p in net.parameters():
        p.requires_grad_(True)
    assert train_plan.plan_for(net) is not None
    assert plan.ready()
    with torch.no_grad():
        assert not plan.ready()                      # autograd's pass would compute no diff
    kept = Net(str(tmp_path / "net.prototxt"), phase="train", seed=1, keep_diffs=True)
    assert train_plan.plan_for(kept) is None         # kept diffs: autograd's graph


def test_parameters_given_new_storage_between_steps(tmp_path, autograd_only):
    """The explicit pass keeps each layer's detached parameters per shape; parameters given
    new storage between two steps (``param.data = ...``, as a program loading weights does)
    are read anew: the same bits as autograd's pass on the same replacement."""
    solver_file = _files(tmp_path, CASES["two_inner_products"])

    def run(enabled):
        autograd_only(enabled)
        solver = get_solver(solver_file)
        solver.step(2)
        for i, p in enumerate(solver._params):
            p.data = torch.full_like(p, 0.01 * (i + 1)) + p.detach() * 0.5
        solver.step(3)
        return solver.last_loss, [p.detach().clone() for p in solver._params]
    loss_explicit, params_explicit = run(True)
    loss_autograd, params_autograd = run(False)
    assert loss_explicit == loss_autograd
    for a, b in zip(params_explicit, params_autograd):
        assert torch.equal(a, b)
