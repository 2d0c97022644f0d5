"""AdaDelta (Caffe's AdaDeltaSolver): update rule, two history sets, parity with
solvers/update_rules."""
import numpy as np

from caffe_compat.solvers import AdaDeltaSolver
from .conftest import UPDATE_TOL, check_variant, random_grads, run_updates, tiny_solver


def caffe_adadelta(w, grads, lr, momentum, delta, lr_mults):
    w = [x.astype(np.float64) for x in w]
    h1 = [np.zeros_like(x) for x in w]
    h2 = [np.zeros_like(x) for x in w]
    out = []
    for g in grads:
        for i in range(len(w)):
            h1[i] = (1 - momentum) * g[i] ** 2 + momentum * h1[i]
            u = g[i] * np.sqrt((h2[i] + delta) / (h1[i] + delta))
            h2[i] = (1 - momentum) * u ** 2 + momentum * h2[i]
            w[i] = w[i] - lr * lr_mults[i] * u
        out.append([x.copy() for x in w])
    return out


def test_update_rule():
    s = tiny_solver('type: "AdaDelta" base_lr: 1.0 lr_policy: "fixed" momentum: 0.95 '
                    'delta: 1e-6')
    assert isinstance(s, AdaDeltaSolver)
    assert len(s.history) == 2 * len(s._params)
    w0 = [p.detach().numpy().copy() for p in s._params]
    grads = random_grads(5, seed=6)
    ref = caffe_adadelta(w0, grads, 1.0, 0.95, 1e-6, [1, 2])
    for a, b in zip(run_updates(s, grads), ref):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=UPDATE_TOL, atol=1e-7)


def test_parity(train_case, tmp_path):
    check_variant(train_case, "adadelta", tmp_path)
