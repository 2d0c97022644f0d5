"""Adam (Caffe's AdamSolver): update rule with Caffe's bias correction folded into the rate,
two history sets, parity with solvers/update_rules."""
import numpy as np

from caffe_compat.solvers import AdamSolver
from .conftest import UPDATE_TOL, check_variant, random_grads, run_updates, tiny_solver


def caffe_adam(w, grads, lr, b1, b2, eps, lr_mults):
    w = [x.astype(np.float64) for x in w]
    m = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    out = []
    for t, g in enumerate(grads, start=1):
        corr = np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for i in range(len(w)):
            m[i] = (1 - b1) * g[i] + b1 * m[i]
            v[i] = (1 - b2) * g[i] ** 2 + b2 * v[i]
            w[i] = w[i] - lr * lr_mults[i] * corr * m[i] / (np.sqrt(v[i]) + eps)
        out.append([x.copy() for x in w])
    return out


def test_update_rule():
    s = tiny_solver('type: "Adam" base_lr: 0.01 lr_policy: "fixed" momentum: 0.9 '
                    'momentum2: 0.999 delta: 1e-8')
    assert isinstance(s, AdamSolver)
    assert len(s.history) == 2 * len(s._params)
    w0 = [p.detach().numpy().copy() for p in s._params]
    grads = random_grads(5, seed=8)
    ref = caffe_adam(w0, grads, 0.01, 0.9, 0.999, 1e-8, [1, 2])
    for a, b in zip(run_updates(s, grads), ref):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=UPDATE_TOL, atol=1e-7)


def test_legacy_enum_gives_adam():
    s = tiny_solver('solver_type: ADAM base_lr: 0.01 lr_policy: "fixed" momentum: 0.9')
    assert isinstance(s, AdamSolver)


def test_parity(train_case, tmp_path):
    check_variant(train_case, "adam", tmp_path)
