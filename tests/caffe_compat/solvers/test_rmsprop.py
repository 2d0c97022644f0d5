"""RMSProp (Caffe's RMSPropSolver): update rule, checks, parity with solvers/update_rules."""
import numpy as np
import pytest

from caffe_compat.errors import SolverError
from caffe_compat.solvers import RMSPropSolver
from .conftest import UPDATE_TOL, check_variant, random_grads, run_updates, tiny_solver


def caffe_rmsprop(w, grads, lr, rms_decay, delta, lr_mults):
    w = [x.astype(np.float64) for x in w]
    h = [np.zeros_like(x) for x in w]
    out = []
    for g in grads:
        for i in range(len(w)):
            h[i] = (1 - rms_decay) * g[i] * g[i] + rms_decay * h[i]
            w[i] = w[i] - lr * lr_mults[i] * g[i] / (np.sqrt(h[i]) + delta)
        out.append([x.copy() for x in w])
    return out


def test_update_rule():
    s = tiny_solver('type: "RMSProp" base_lr: 0.01 lr_policy: "fixed" rms_decay: 0.95 '
                    'delta: 1e-6')
    assert isinstance(s, RMSPropSolver)
    w0 = [p.detach().numpy().copy() for p in s._params]
    grads = random_grads(5, seed=4)
    for a, b in zip(run_updates(s, grads), caffe_rmsprop(w0, grads, 0.01, 0.95, 1e-6, [1, 2])):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=UPDATE_TOL, atol=1e-7)


@pytest.mark.parametrize("fields,message", [
    ("momentum: 0.9", "momentum cannot be used with RMSProp"),
    ("rms_decay: 1.5", "rms_decay should lie between 0 and 1")])
def test_bad_settings(fields, message):
    with pytest.raises(SolverError, match=message):
        tiny_solver(f'type: "RMSProp" base_lr: 0.01 lr_policy: "fixed" {fields}')


def test_parity(train_case, tmp_path):
    check_variant(train_case, "rmsprop", tmp_path)
