"""The differential checks of ``caffe-compat verify``: each writes its inputs into a folder of
the work directory, the Caffe build runs the matching worker task (``_worker.py``) there, and
the results are compared with the tolerances of the project's parity tests (``*_TOL``).
"""
from __future__ import annotations

import contextlib
import os
import pathlib
from dataclasses import dataclass, field

import numpy as np
import torch

from .examples import (DEFAULT_PARAMS, PARAMS, case_inputs, case_net, examples_for, seed_of)

# Forward outputs: float32 sums in another order than Caffe's im2col + BLAS GEMM differ by
# ~1e-6 of the blob's scale; 1e-5 leaves a margin of ten (as tests/caffe_compat/reference.py).
FORWARD_TOL = 1e-5
# Gradients pass through more reductions: 1e-4 of the blob's scale.
BACKWARD_TOL = 1e-4
# Per-iteration losses and weights after training: the same drift over the updates, 1e-4
# relative / of each blob's scale (as tests/caffe_compat/solvers/conftest.py).
LOSS_TOL = 1e-4
WEIGHT_TOL = 1e-4


def scaled_error(ours, ref):
    """max |ours - ref| / max |ref| (absolute when ref is all zeros); inf on a shape or
    non-finite mismatch."""
    ours = np.asarray(ours, np.float64)
    ref = np.asarray(ref, np.float64)
    if ours.shape != ref.shape:
        return float("inf")
    if ref.size == 0:
        return 0.0
    finite = np.isfinite(ref)
    if not np.array_equal(finite, np.isfinite(ours)) or \
            not np.array_equal(ref[~finite], ours[~finite]):
        return float("inf")
    diff = np.abs(ours[finite] - ref[finite]).max(initial=0.0)
    scale = np.abs(ref[finite]).max(initial=0.0)
    return float(diff / scale) if scale > 0 else float(diff)


@contextlib.contextmanager
def working_dir(path):
    cwd = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(cwd)


@dataclass
class CaseResult:
    """One generated net of one layer type, compared."""
    type: str
    index: int
    forward: float = 0.0              # worst scaled error of the layer's tops
    backward: float | None = None     # worst of its bottoms' gradients and parameter gradients
    error: str | None = None          # a failure to build or run (ours or Caffe's)
    exact: tuple = (0, 0)             # (bit-identical, compared) Convolution/InnerProduct outputs
    roundtrip: dict = field(default_factory=dict)
    fields: str = ""                  # the layer's fields in this net (named in departures)


def _our_net(text, example):
    """Our net of the case (built in the case's folder, whose files its data layers read)."""
    from .. import Net
    return Net(text, phase=example.phase.lower(), seed=example.seed)


def _close(net):
    """Stop the prefetch threads and close the sources of the net's data layers."""
    for layer in getattr(net, "layers", {}).values():
        getattr(layer, "close", lambda: None)()


def _layer_params(net, type_name, rng):
    fill = PARAMS.get(type_name, DEFAULT_PARAMS)
    return {f"layer/{i}": np.asarray(fill(rng, i, tuple(p.shape)), np.float32)
            for i, p in enumerate(net.params.get("layer", ()))}


def _set_params(net, values):
    with torch.no_grad():
        for key, v in values.items():
            layer, i = key.rsplit("/", 1)
            p = net.params[layer][int(i)]
            p.copy_(torch.from_numpy(np.asarray(v, np.float32).reshape(tuple(p.shape))))


def prepare_layer_case(type_name, index, example, folder):
    """Write the case's net, inputs and parameters (and our caffemodel of it); returns the
    worker task, or a CaseResult when our own side already fails."""
    folder = pathlib.Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed_of(f"{type_name}/{index}"))
    try:
        # the whole case runs in its folder: data layers read relative paths, also from
        # their prefetch threads, until they are closed
        with working_dir(folder):
            if example.files:
                example.files(folder, rng)
            # the probe draws the same bottoms as the case (Filter's top shape depends on them)
            probe_rng = np.random.RandomState()
            probe_rng.set_state(rng.get_state())
            probe_inputs, probe_params = case_inputs(example, probe_rng)
            probe = _our_net(case_net(type_name, example), example)
            try:
                _set_params(probe, probe_params)
                probe.forward(**{k: v for k, v in probe_inputs.items() if k in probe.inputs})
                top_shapes = {t: tuple(probe.blobs[t].data.shape) for t in example.top_list()}
            finally:
                _close(probe)
            text = case_net(type_name, example, top_shapes)
            net = _our_net(text, example)
            _close(net)
            inputs, params = case_inputs(example, rng, top_shapes)
            params.update(_layer_params(net, type_name, rng))
            _set_params(net, params)
            (folder / "net.prototxt").write_text(text)
            np.savez(folder / "inputs.npz", **inputs)
            np.savez(folder / "params.npz", **params)
            net.save(folder / "ours.caffemodel")
    except Exception as e:      # our engine refuses the net: that is the finding
        return CaseResult(type_name, index, error=f"ours: {type(e).__name__}: {e}",
                          fields=example.fields)
    return {"id": f"{type_name}/{index}", "kind": "net", "dir": str(folder),
            "forwards": example.forwards, "backward": example.backward, "save": True,
            "load": "ours.caffemodel", "seed": example.seed, "phase": example.phase}


def _compare_gradients(net, diffs):
    """Worst scaled error of our gradients against Caffe's diffs."""
    grads = []
    for name, blobs in net.params.items():
        for i, p in enumerate(blobs):
            # a bottom's gradient: Caffe's diff of the bottom blob (not of the Parameter blob
            # behind it, which Flatten's backward does not write: it rebinds the bottom's diff
            # to its top's)
            key = name[2:] if name.startswith("p_b") else f"{name}/{i}"
            if key in diffs:
                g = np.zeros(tuple(p.shape), np.float32) if p.grad is None else p.grad.numpy()
                grads.append(scaled_error(g, diffs[key].reshape(g.shape)))
    return max(grads, default=0.0)


def _compare_caffemodels(text, folder, example, params, res):
    """Caffemodels both ways: Caffe read ours exactly, we read Caffe's exactly and write its
    bytes again."""
    from .. import Net
    from ..io.caffemodel import caffemodel_bytes
    loaded = dict(np.load(folder / "loaded.npz"))
    res.roundtrip["read by Caffe"] = all(
        np.array_equal(np.asarray(v).ravel(), params[k].ravel()) for k, v in loaded.items()
        if k in params)
    theirs = Net(text, "caffe.caffemodel", phase=example.phase.lower(), seed=example.seed)
    _close(theirs)
    held = dict(np.load(folder / "held.npz"))
    res.roundtrip["Caffe's read by us"] = all(
        np.array_equal(theirs.params[k.rsplit("/", 1)[0]][int(k.rsplit("/", 1)[1])]
                       .detach().numpy().ravel(), np.asarray(v).ravel())
        for k, v in held.items())
    res.roundtrip["Caffe's bytes re-saved"] = \
        caffemodel_bytes(theirs.to_proto()) == (folder / "caffe.caffemodel").read_bytes()


def compare_layer_case(type_name, index, example, folder, status):
    """Run our side of a prepared case and compare it with the worker's results."""
    res = CaseResult(type_name, index, fields=example.fields)
    if not status.get("ok"):
        res.error = "Caffe: " + status.get("error", "no result")
        return res
    folder = pathlib.Path(folder).resolve()
    text = (folder / "net.prototxt").read_text()
    with np.load(folder / "inputs.npz") as f:
        inputs = dict(f)
    with np.load(folder / "params.npz") as f:
        params = dict(f)
    caffe_blobs = dict(np.load(folder / "blobs.npz"))
    conv_like = type_name in ("Convolution", "InnerProduct")
    try:
        with working_dir(folder):
            net = _our_net(text, example)
            try:
                _set_params(net, params)
                errors, exact = [], [0, 0]
                for k in range(example.forwards):
                    net.forward(**{n: v for n, v in inputs.items() if n in net.inputs})
                    for t in example.top_list():
                        ours = net.blobs[t].data.detach().numpy()
                        ref = caffe_blobs[f"{k}:{t}"]
                        errors.append(scaled_error(ours, ref))
                        if conv_like and ours.shape == ref.shape:
                            exact[0] += int(np.count_nonzero(ours == ref))
                            exact[1] += ours.size
                res.forward = max(errors, default=0.0)
                res.exact = tuple(exact)
                if example.backward:
                    net.backward()
                    res.backward = _compare_gradients(net, dict(np.load(folder / "diffs.npz")))
            finally:
                _close(net)
            _compare_caffemodels(text, folder, example, params, res)
    except Exception as e:
        res.error = f"ours: {type(e).__name__}: {e}"
    return res


def layer_cases(types, workdir):
    """[(type, index, example, folder)] for every example of every type."""
    return [(t, i, ex, pathlib.Path(workdir) / "layers" / f"{t}_{i}")
            for t in types for i, ex in enumerate(examples_for(t))]


# ------------------------------------------------------------------------------ training
TRAIN_NET = """name: "verify_train"
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
        hdf5_data_param { source: "train_list.txt" batch_size: 4 } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
        convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "xavier" }
                            bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "pool" top: "ip"
        inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "label" top: "loss" }
"""
TRAIN_SOLVERS = {
    "sgd": 'type: "SGD"\nbase_lr: 0.05\nmomentum: 0.9\nweight_decay: 0.001\n'
           'lr_policy: "step"\ngamma: 0.5\nstepsize: 5\n',
    "adam": 'type: "Adam"\nbase_lr: 0.01\nmomentum: 0.9\nmomentum2: 0.999\ndelta: 1e-8\n'
            'weight_decay: 0.001\nlr_policy: "fixed"\n',
}
TRAIN_ITERS = 20


def prepare_training(name, folder):
    import h5py

    from .. import Net
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed_of("train"))
    x = rng.uniform(0, 1, (12, 1, 8, 8)).astype(np.float32)
    y = np.stack([x.mean((1, 2, 3)), x[:, :, :4].mean((1, 2, 3)), x.std((1, 2, 3))], 1)
    with h5py.File(folder / "train.h5", "w") as f:
        f.create_dataset("data", data=x)
        f.create_dataset("label", data=y.astype(np.float32))
    (folder / "train_list.txt").write_text("train.h5\n")
    (folder / "net.prototxt").write_text(TRAIN_NET)
    (folder / "solver.prototxt").write_text(
        f'net: "net.prototxt"\n{TRAIN_SOLVERS[name]}max_iter: {TRAIN_ITERS}\n'
        'display: 1\naverage_loss: 1\nsnapshot_prefix: "caffe"\nsolver_mode: CPU\n'
        'random_seed: 5\n')
    with working_dir(folder):
        Net("net.prototxt", phase="train", seed=5).save("init.caffemodel")
    return {"id": f"train/{name}", "kind": "train", "dir": str(folder),
            "weights": "init.caffemodel", "middle": TRAIN_ITERS // 2}


def compare_training(name, folder, status):
    """(max relative loss error, max weight error) of our run against Caffe's, or the error."""
    from .. import get_solver
    from ..diagnostics.glog import SolverLog
    if not status.get("ok"):
        return None, None, "Caffe: " + status.get("error", "no result")
    ref = dict(np.load(folder / "losses.npz"))
    theirs = [dict(np.load(folder / "middle.npz")), dict(np.load(folder / "final.npz"))]
    losses, ours = {}, []

    def params(solver):
        return {f"{n}/{i}": p.detach().numpy().copy() for n, bl in solver.net.params.items()
                for i, p in enumerate(bl)}

    class Recorder:
        def on_iteration_end(self, solver, loss):
            losses[solver.iter - 1] = float(loss)
            if solver.iter == TRAIN_ITERS // 2:
                ours.append(params(solver))
    try:
        with working_dir(folder):
            solver = get_solver("solver.prototxt", weights="init.caffemodel",
                                snapshot_prefix=str(folder / "ours"), log=SolverLog())
            solver.add_callback(Recorder())
            solver.solve()
            losses[solver.iter] = float(solver.final_loss)
        ours.append(params(solver))
        loss_err = max(abs(losses[int(i)] - float(v)) / abs(float(v))
                       for i, v in zip(ref["iter"], ref["loss"]))
        weight_err = max(scaled_error(mine[k].ravel(), v.ravel())
                         for mine, ref_params in zip(ours, theirs)
                         for k, v in ref_params.items())
    except Exception as e:
        return None, None, f"ours: {type(e).__name__}: {e}"
    return loss_err, weight_err, None
