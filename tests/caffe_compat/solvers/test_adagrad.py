"""AdaGrad (Caffe's AdaGradSolver): update rule, momentum refused, parity with
solvers/update_rules."""
import numpy as np
import pytest

from caffe_compat.errors import SolverError
from caffe_compat.solvers import AdaGradSolver
from .conftest import UPDATE_TOL, check_variant, random_grads, run_updates, tiny_solver


def caffe_adagrad(w, grads, lr, delta, decay, decay_mults, lr_mults):
    w = [x.astype(np.float64) for x in w]
    h = [np.zeros_like(x) for x in w]
    out = []
    for g in grads:
        for i in range(len(w)):
            d = g[i] + decay * decay_mults[i] * w[i]
            h[i] = h[i] + d * d
            w[i] = w[i] - lr * lr_mults[i] * d / (np.sqrt(h[i]) + delta)
        out.append([x.copy() for x in w])
    return out


def test_update_rule():
    s = tiny_solver('type: "AdaGrad" base_lr: 0.05 lr_policy: "fixed" delta: 1e-6 '
                    'weight_decay: 0.01')
    assert isinstance(s, AdaGradSolver)
    w0 = [p.detach().numpy().copy() for p in s._params]
    grads = random_grads(5, seed=2)
    ref = caffe_adagrad(w0, grads, 0.05, 1e-6, 0.01, [1, 0], [1, 2])
    for a, b in zip(run_updates(s, grads), ref):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=UPDATE_TOL, atol=1e-7)


def test_momentum_refused():
    with pytest.raises(SolverError, match="momentum cannot be used with AdaGrad"):
        tiny_solver('type: "AdaGrad" base_lr: 0.05 lr_policy: "fixed" momentum: 0.9')


def test_parity(train_case, tmp_path):
    check_variant(train_case, "adagrad", tmp_path)
