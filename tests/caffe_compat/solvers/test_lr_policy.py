"""Learning-rate policies (Caffe's SGDSolver::GetLearningRate) and the solver registry."""
import math

import numpy as np
import pytest

from caffe_compat.errors import SolverError
from caffe_compat.io.prototxt import parse_solver
from caffe_compat.solvers import (LEGACY_SOLVER_TYPES, AdaDeltaSolver, SGDSolver, lr_policy,
                                  solver_class)
from .conftest import SOLVER_VARIANTS, check_variant, tiny_solver


def param(text):
    return parse_solver(text, "<test>")


def rates(text, iters, current_step=0):
    p = param(text)
    out = []
    for it in range(iters):
        r, current_step, _ = lr_policy.rate(p, it, current_step)
        out.append(float(r))
    return out, current_step


@pytest.mark.parametrize("variant", SOLVER_VARIANTS)
def test_printed_rates_match_caffe_log(train_case, variant):
    """Every "Iteration N, lr = X" line equals Caffe's, digit for digit (6 significant)."""
    run = train_case("solvers", variant)
    ours = [f"{v:.6g}" for v in run.log_values(", lr = ", "lr = ")]
    ref = [f"{v:.6g}" for v in run.ref["lr_log"]]
    assert ours == ref


@pytest.mark.parametrize("variant", ["sgd_exp", "sgd_inv", "sgd_multistep", "sgd_poly",
                                     "sgd_sigmoid"])
def test_policy_variants_parity(train_case, tmp_path, variant):
    """Losses, weights at 10 and 20, history, and Caffe's state continued (see conftest)."""
    check_variant(train_case, variant, tmp_path)


def test_step_rates_and_current_step(train_case):
    run = train_case("cnnd_sgd_step")
    assert [f"{v:.6g}" for v in run.log_values(", lr = ", "lr = ")] == \
        [f"{v:.6g}" for v in run.ref["lr_log"]]
    assert run.solver.current_step == 19 // 7  # set by the last GetLearningRate call


def test_formulas():
    base = 'base_lr: 0.5 '
    assert rates(base + 'lr_policy: "fixed"', 3)[0] == [0.5] * 3
    r, step = rates(base + 'lr_policy: "step" gamma: 0.1 stepsize: 2', 5)
    np.testing.assert_allclose(r, [0.5, 0.5, 0.05, 0.05, 0.005], rtol=1e-6)
    assert step == 2
    r, _ = rates(base + 'lr_policy: "exp" gamma: 0.9', 4)
    np.testing.assert_allclose(r, [0.5 * 0.9 ** i for i in range(4)], rtol=1e-6)
    r, _ = rates(base + 'lr_policy: "inv" gamma: 0.1 power: 0.75', 4)
    np.testing.assert_allclose(r, [0.5 * (1 + 0.1 * i) ** -0.75 for i in range(4)], rtol=1e-6)
    r, _ = rates(base + 'lr_policy: "sigmoid" gamma: 0.5 stepsize: 2', 5)
    np.testing.assert_allclose(r, [0.5 / (1 + math.exp(-0.5 * (i - 2))) for i in range(5)],
                               rtol=1e-6)
    assert r[2] == 0.25


def test_poly_uses_max_iter():
    r, _ = rates('base_lr: 0.5 lr_policy: "poly" power: 2 max_iter: 10', 10)
    np.testing.assert_allclose(r, [0.5 * (1 - i / 10) ** 2 for i in range(10)], rtol=1e-6)
    r2, _ = rates('base_lr: 0.5 lr_policy: "poly" power: 2 max_iter: 20', 10)
    assert r2[5] != r[5]


def test_multistep_advances_at_most_one_step_per_iteration():
    r, step = rates('base_lr: 1 lr_policy: "multistep" gamma: 0.5 stepvalue: 3 stepvalue: 3 '
                    'stepvalue: 4', 7)
    # two step values at iteration 3: Caffe takes the second one only at iteration 4, the
    # third one (4) at iteration 5
    assert r == [1, 1, 1, 0.5, 0.25, 0.125, 0.125]
    assert step == 3


def test_multistep_continues_from_restored_step():
    r, step = rates('base_lr: 1 lr_policy: "multistep" gamma: 0.5 stepvalue: 5', 3,
                    current_step=1)
    assert r == [0.5] * 3 and step == 1


def test_multistep_logs_status():
    s = tiny_solver('base_lr: 1 lr_policy: "multistep" gamma: 0.5 stepvalue: 0')
    s.get_learning_rate()
    assert any("MultiStep Status: Iteration 0, step = 1" in line for line in s.log.lines)


def test_lr_property_has_no_side_effect():
    s = tiny_solver('base_lr: 1 lr_policy: "multistep" gamma: 0.5 stepvalue: 0')
    assert s.lr == 0.5 and s.current_step == 0


@pytest.mark.parametrize("text,message", [
    ('base_lr: 1', "lr_policy is not set"),
    ('base_lr: 1 lr_policy: "plateau"', "unknown learning rate policy 'plateau'"),
    ('base_lr: 1 lr_policy: "step" gamma: 0.1', "needs stepsize > 0"),
    ('base_lr: 1 lr_policy: "sigmoid" gamma: -1 stepsize: 3', "needs gamma >= 0"),
    ('base_lr: 1 lr_policy: "exp" gamma: -0.5', "needs gamma >= 0"),
    ('base_lr: 1 lr_policy: "multistep" gamma: 0.5 stepvalue: 5 stepvalue: 2',
     "non-decreasing"),
])
def test_bad_policies(text, message):
    with pytest.raises(SolverError, match=message):
        lr_policy.check(param(text), "solver.prototxt")
    with pytest.raises(SolverError, match=message):
        tiny_solver(text)


def test_registry_and_legacy_enum():
    assert solver_class("SGD") is SGDSolver
    assert solver_class("AdaDelta") is AdaDeltaSolver
    assert solver_class("ADADELTA") is AdaDeltaSolver
    for value, name in LEGACY_SOLVER_TYPES.items():
        assert solver_class(value).type_name == name
    with pytest.raises(SolverError, match="unknown solver type 'Foo'"):
        solver_class("Foo")
    s = tiny_solver('solver_type: ADADELTA base_lr: 1 lr_policy: "fixed" momentum: 0.9')
    assert isinstance(s, AdaDeltaSolver)
