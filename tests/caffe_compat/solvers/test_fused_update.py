"""The fused update (``torch._foreach_*`` over groups of parameters) against Caffe's per-blob
update loop: the same parameters, history and diffs, bit for bit, for every solver type."""
import numpy as np
import pytest
import torch

from caffe_compat import get_solver
from caffe_compat.io.prototxt import parse_solver
from caffe_compat.diagnostics.glog import SolverLog

# Three layers, five learnable blobs with lr_mult 1, 2, 0.5 and 0 and decay_mult 1, 0 and 2,
# so that the groups hold one or more blobs and a blob without gradient takes part.
NET = """
net_param {
  name: "fused"
  layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 4 dim: 6 } } }
  layer { name: "ip1" type: "InnerProduct" bottom: "x" top: "a"
          param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
          inner_product_param { num_output: 5 weight_filler { type: "gaussian" std: 0.5 }
                                bias_filler { type: "constant" value: 0.25 } } }
  layer { name: "ip2" type: "InnerProduct" bottom: "a" top: "b"
          param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 0.5 decay_mult: 2 }
          inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.5 }
                                bias_filler { type: "constant" value: -0.5 } } }
  layer { name: "ip3" type: "InnerProduct" bottom: "b" top: "c"
          param { lr_mult: 0 }
          inner_product_param { num_output: 2 bias_term: false
                                weight_filler { type: "gaussian" std: 0.5 } } }
}
random_seed: 3
solver_mode: CPU
"""

SOLVERS = {
    "SGD": 'momentum: 0.9',
    "Nesterov": 'momentum: 0.9',
    "AdaGrad": 'delta: 1e-6',
    "RMSProp": 'rms_decay: 0.95 delta: 1e-6',
    "AdaDelta": 'momentum: 0.95 delta: 1e-6',
    "Adam": 'momentum: 0.9 momentum2: 0.999 delta: 1e-8',
}
# extra fields: the rules around ComputeUpdateValue that the fused form also takes over
VARIANTS = {
    "plain": 'weight_decay: 0.01',
    "l1_iter_size_clip": 'weight_decay: 0.02 regularization_type: "L1" iter_size: 3 '
                         'clip_gradients: 0.5',
}


def _solver(kind, variant, fused, device="cpu"):
    text = (NET + f'type: "{kind}" base_lr: 0.05 lr_policy: "step" gamma: 0.5 stepsize: 3 '
            + SOLVERS[kind] + " " + VARIANTS[variant])
    s = get_solver(parse_solver(text, "<fused solver>"), log=SolverLog(keep=True),
                   device=device)
    s.fused_update = fused
    return s


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("kind", sorted(SOLVERS))
def test_fused_update_is_the_per_blob_update_bit_for_bit(kind, variant, device):
    fused = _solver(kind, variant, True, device)
    per_blob = _solver(kind, variant, False, device)
    data, decay_groups, lr_groups = fused.update_plan()
    assert len(decay_groups) == 2 and len(lr_groups) == 4
    rng = np.random.default_rng(11)
    for step in range(8):
        grads = [rng.normal(scale=0.3 + step, size=tuple(p.shape)).astype(np.float32)
                 for p in fused._params]
        for s in (fused, per_blob):
            for p, g, lr in zip(s._params, grads, s._lr_mults):
                # Caffe computes no diff at lr_mult 0
                p.grad = torch.tensor(g, device=p.device) if lr else None
            s.apply_update()
            s.iter += 1
        # tolerance 0: the same float32 operations on the same values, in the same order
        for a, b in zip(fused._params, per_blob._params):
            assert torch.equal(a.detach(), b.detach()), (kind, variant, step)
            assert torch.equal(a.grad, b.grad), (kind, variant, step)
        for a, b in zip(fused.history, per_blob.history):
            assert torch.equal(a, b), (kind, variant, step)


def test_groups_follow_changed_multipliers():
    s = _solver("SGD", "plain", True)
    _, decay_before, lr_before = s.update_plan()
    assert [idx for idx, _ in decay_before] == [[0, 2, 4], [3]]  # decay_mult 1 and 2
    assert lr_before == [[0, 2], [1], [3], [4]]                   # lr_mult 1, 2, 0.5, 0
    s._lr_mults = [np.float32(1)] * len(s._params)
    s._decay_mults = [np.float32(1)] * len(s._params)
    _, decay_after, lr_after = s.update_plan()
    everything = list(range(len(s._params)))
    assert [idx for idx, _ in decay_after] == [everything] and lr_after == [everything]


def test_plan_follows_parameters_given_new_storage():
    s = _solver("SGD", "plain", True)
    data_before = s.update_plan()[0]
    with torch.no_grad():
        for p in s._params:
            p.data = p.data.clone()          # as Module.to does when it moves a net
    data_after = s.update_plan()[0]
    assert all(a.data_ptr() == p.data_ptr() for a, p in zip(data_after, s._params))
    assert all(a.data_ptr() != b.data_ptr() for a, b in zip(data_after, data_before))
