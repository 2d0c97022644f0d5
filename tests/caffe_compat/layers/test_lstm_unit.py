"""LSTMUnit against Caffe 1.0 (fixture ``lstm_unit``: cont values 1, 0, 0.5, 1 and 2, so that
Caffe's forget-gate backward, f (1 - f), departs from the true gradient) and its rules."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from tests.caffe_compat.layers.helpers_struct import make_layer
from tests.caffe_compat.layers.new_layer_cases import CaseRun, report
from tests.caffe_compat.reference import BACKWARD_TOL, FORWARD_TOL

UNIT = ('name: "unit" type: "LSTMUnit" bottom: "c_prev" bottom: "gates" bottom: "cont" '
        'top: "c" top: "h"')
# float64 arithmetic of the same formulas: only rounding differences remain.
F64_TOL = 1e-12


def test_lstm_unit_matches_caffe():
    fwd, bwd = report("LSTMUnit", CaseRun("lstm_unit").compare())
    assert fwd <= FORWARD_TOL and bwd <= BACKWARD_TOL


def run(c_prev, gates, cont):
    layer = make_layer(UNIT, c_prev.shape, gates.shape, cont.shape)
    c0 = torch.tensor(c_prev, requires_grad=True)
    x = torch.tensor(gates, requires_grad=True)
    cont_t = torch.tensor(cont, requires_grad=True)
    c, h = layer(c0, x, cont_t)
    return c0, x, cont_t, c, h


def reference(c_prev, gates, cont):
    """The unit's forward in plain torch (autograd: the true gradient)."""
    H = c_prev.shape[-1]
    i, f, o, g = (gates[..., k * H:(k + 1) * H] for k in range(4))
    c = cont.unsqueeze(-1) * torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return c, torch.sigmoid(o) * torch.tanh(c)


def test_binary_cont_backward_is_the_gradient_and_cont_gets_none():
    rng = np.random.default_rng(3)
    c_prev, gates = rng.normal(size=(1, 4, 2)), rng.normal(size=(1, 4, 8))
    cont = np.array([[1.0, 0.0, 1.0, 0.0]])
    c0, x, cont_t, c, h = run(c_prev, gates, cont)
    dc, dh = torch.tensor(rng.normal(size=(1, 4, 2))), torch.tensor(rng.normal(size=(1, 4, 2)))
    torch.autograd.backward([c, h], [dc, dh])
    r0, rx = torch.tensor(c_prev, requires_grad=True), torch.tensor(gates, requires_grad=True)
    rc, rh = reference(r0, rx, torch.tensor(cont))
    torch.autograd.backward([rc, rh], [dc, dh])
    assert (c - rc).abs().max() <= F64_TOL and (h - rh).abs().max() <= F64_TOL
    assert (c0.grad - r0.grad).abs().max() <= F64_TOL
    assert (x.grad - rx.grad).abs().max() <= F64_TOL
    assert cont_t.grad is None                       # Caffe never back-propagates to cont


def test_fractional_cont_uses_caffes_forget_gate_rule():
    # cont = 0.5: f = 0.5 sigmoid(f'); Caffe's df' = dc~ c_prev f (1 - f), not the derivative
    c_prev, gates = np.array([[[0.7]]]), np.array([[[0.1, 0.4, -0.3, 0.2]]])
    c0, x, _, c, h = run(c_prev, gates, np.array([[0.5]]))
    c.backward(torch.ones_like(c))
    f = 0.5 / (1 + np.exp(-0.4))
    assert abs(x.grad[0, 0, 1].item() - 0.7 * f * (1 - f)) <= F64_TOL
    true = 0.7 * 0.5 * (1 / (1 + np.exp(-0.4))) * (1 - 1 / (1 + np.exp(-0.4)))
    assert abs(true - 0.7 * f * (1 - f)) > 1e-3      # the two rules do differ here


def test_bad_shapes_name_the_layer():
    with pytest.raises(NetError, match=r"layer 'unit'.*4 \* 3 = 12"):
        make_layer(UNIT, (1, 2, 3), (1, 2, 11), (1, 2))
    with pytest.raises(NetError, match=r"layer 'unit'.*bottom 2 \(cont\) must have 2 axes"):
        make_layer(UNIT, (1, 2, 3), (1, 2, 12), (1, 2, 1))
    with pytest.raises(NetError, match=r"layer 'unit'.*one time step"):
        make_layer(UNIT, (2, 2, 3), (2, 2, 12), (2, 2))
    with pytest.raises(NetError, match=r"layer 'unit'.*3 streams, c_prev has 2"):
        make_layer(UNIT, (1, 2, 3), (1, 3, 12), (1, 3))
