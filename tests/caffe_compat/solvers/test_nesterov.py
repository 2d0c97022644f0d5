"""Nesterov (Caffe's NesterovSolver): update rule and parity with solvers/update_rules."""
import numpy as np

from caffe_compat.solvers import NesterovSolver
from .conftest import UPDATE_TOL, check_variant, random_grads, run_updates, tiny_solver


def caffe_nesterov(w, grads, lr, momentum, lr_mults):
    w = [x.astype(np.float64) for x in w]
    h = [np.zeros_like(x) for x in w]
    out = []
    for g in grads:
        for i in range(len(w)):
            new = lr * lr_mults[i] * g[i] + momentum * h[i]
            w[i] = w[i] - ((1 + momentum) * new - momentum * h[i])
            h[i] = new
        out.append([x.copy() for x in w])
    return out


def test_update_rule():
    s = tiny_solver('type: "Nesterov" base_lr: 0.05 lr_policy: "fixed" momentum: 0.9')
    assert isinstance(s, NesterovSolver)
    w0 = [p.detach().numpy().copy() for p in s._params]
    grads = random_grads(5, seed=1)
    for a, b in zip(run_updates(s, grads), caffe_nesterov(w0, grads, 0.05, 0.9, [1, 2])):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=UPDATE_TOL, atol=1e-7)


def test_parity(train_case, tmp_path):
    check_variant(train_case, "nesterov", tmp_path)
