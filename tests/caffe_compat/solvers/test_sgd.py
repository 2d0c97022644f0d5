"""SGD (Caffe's SGDSolver): the update rule and parity with Caffe's runs (cnnd_sgd_step and the
SGD variants of solvers/: L1, gradient clipping, iter_size 2)."""
import numpy as np
import pytest
import torch

from caffe_compat.solvers import SGDSolver
from tests.conftest import fixture_path
from .conftest import (LOSS_TOL, UPDATE_TOL, CaseRun, check_variant, random_grads, report,
                       run_updates, tiny_solver)


def caffe_sgd(w, grads, lrs, momentum, decay, decay_mults, lr_mults, l1=False):
    """Caffe's SGD in float64: history = local_rate * (g + decay) + momentum * history."""
    w = [x.astype(np.float64) for x in w]
    h = [np.zeros_like(x) for x in w]
    out = []
    for g, lr in zip(grads, lrs):
        for i in range(len(w)):
            reg = np.sign(w[i]) if l1 else w[i]
            d = g[i] + decay * decay_mults[i] * reg
            h[i] = lr * lr_mults[i] * d + momentum * h[i]
            w[i] = w[i] - h[i]
        out.append([x.copy() for x in w])
    return out


@pytest.mark.parametrize("l1", [False, True])
def test_update_rule_lr_before_momentum(l1):
    reg = 'regularization_type: "L1"' if l1 else ""
    s = tiny_solver(f'base_lr: 0.1 lr_policy: "step" stepsize: 2 gamma: 0.5 momentum: 0.9 '
                    f'weight_decay: 0.01 {reg}')
    assert isinstance(s, SGDSolver)
    w0 = [p.detach().numpy().copy() for p in s._params]
    grads = random_grads(5)
    ours = run_updates(s, grads)
    lrs = [0.1, 0.1, 0.05, 0.05, 0.025]
    ref = caffe_sgd(w0, grads, lrs, 0.9, 0.01, [1, 0], [1, 2], l1=l1)
    for a, b in zip(ours, ref):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=UPDATE_TOL, atol=1e-7)


def test_differs_from_torch_sgd_when_lr_changes():
    """torch.optim.SGD scales by lr after the momentum sum; Caffe before it. With a changing
    rate the two disagree, and we follow Caffe."""
    s = tiny_solver('base_lr: 0.1 lr_policy: "step" stepsize: 1 gamma: 0.5 momentum: 0.9')
    w0 = [p.detach().clone() for p in s._params]
    grads = random_grads(3, seed=3)
    ours = run_updates(s, grads)[-1]
    params = [torch.nn.Parameter(w.clone()) for w in w0]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    for k, g in enumerate(grads):
        for group in opt.param_groups:
            group["lr"] = 0.1 * 0.5 ** k
        for p, arr, mult in zip(params, g, (1, 2)):
            p.grad = torch.tensor(arr) * mult
        opt.step()
    assert max(np.abs(a - p.detach().numpy()).max() for a, p in zip(ours, params)) > 1e-3


def test_iter_size_normalizes_and_clip_scales():
    s = tiny_solver('base_lr: 0.1 lr_policy: "fixed" iter_size: 4 clip_gradients: 0.1')
    w0 = [p.detach().double().numpy().copy() for p in s._params]
    g = random_grads(1, seed=5)[0]
    after = run_updates(s, [g])[0]
    norm = np.sqrt(sum(float((x.astype(np.float64) ** 2).sum()) for x in g))
    scale = 0.1 / norm  # clipping uses the accumulated (not yet normalized) gradient
    for w, a, x, mult in zip(w0, after, g, (1, 2)):
        np.testing.assert_allclose(a, w - 0.1 * mult * x * scale / 4, rtol=UPDATE_TOL, atol=1e-7)
    assert any("Gradient clipping: scaling down gradients (L2 norm" in line
               for line in s.log.lines)


def test_lr_mult_zero_gets_no_gradient():
    s = tiny_solver('base_lr: 0.1 lr_policy: "fixed" momentum: 0.9 weight_decay: 0.1')
    s._lr_mults = [np.float32(0), np.float32(2)]
    w0 = s._params[0].detach().clone()
    run_updates(s, random_grads(2))
    assert torch.equal(s._params[0].detach(), w0)


def test_cnnd_sgd_step(train_case):
    """CNN+D (42x42, batch 16), SGD momentum 0.9, step policy, weight decay, test net."""
    run = train_case("cnnd_sgd_step")
    loss_err = run.loss_error()
    w10 = max(run.weight_errors(10, "snapshot_iter_10.caffemodel").values())
    w20 = max(run.weight_errors(20, "snapshot_iter_20.caffemodel").values())
    report("cnnd_sgd_step", loss=loss_err, w10=w10, w20=w20)
    assert loss_err <= LOSS_TOL
    # 1e-4 scaled error per blob: see WEIGHT_TOL in conftest (summation-order drift)
    assert w10 <= 1e-4 and w20 <= 1e-4


def test_cnnd_sgd_step_with_direct_backward(tmp_path, monkeypatch):
    """The same case with convolution gradients by torch's direct kernels instead of the DFT
    route (caffe_compat.kernels.dft_conv, taken by conv2 here): both stay within the tolerances."""
    from caffe_compat.kernels import dft_conv
    monkeypatch.setattr(dft_conv, "ENABLED", False)
    torch.manual_seed(0)
    run = CaseRun(fixture_path("caffe-reference", "train", "cnnd_sgd_step"), "solver.prototxt",
                  tmp_path, weights="init.caffemodel")
    loss_err = run.loss_error()
    w20 = max(run.weight_errors(20, "snapshot_iter_20.caffemodel").values())
    report("cnnd_sgd_step (direct backward)", loss=loss_err, w20=w20)
    assert loss_err <= LOSS_TOL and w20 <= 1e-4


@pytest.mark.parametrize("variant", ["sgd_l1", "sgd_clip", "sgd_itersize2"])
def test_sgd_variants(train_case, tmp_path, variant):
    check_variant(train_case, variant, tmp_path)


def test_clip_log_matches_caffe(train_case):
    run = train_case("solvers", "sgd_clip")
    norms = run.log_values("Gradient clipping", "(L2 norm ")
    scales = run.log_values("Gradient clipping", "scale factor ")
    # 6 printed digits of values that agree to ~1e-6: compare at 1e-5 relative
    np.testing.assert_allclose(norms, run.ref["clip_l2norm_log"], rtol=1e-5)
    np.testing.assert_allclose(scales, run.ref["clip_scale_log"], rtol=1e-5)


def test_itersize_loss_is_mean_of_passes(train_case):
    run = train_case("solvers", "sgd_itersize2")
    per = run.ref["loss_per_forward"]
    expected = ((np.float32(0) + per[:, 0]) + per[:, 1]) / np.float32(2)
    np.testing.assert_array_equal(expected, run.ref["loss"][:20])
    assert np.max(np.abs(run.losses[:20] - expected) / expected) <= LOSS_TOL
