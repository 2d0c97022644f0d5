"""The one-call C SGD update (caffe_compat/kernels/_sgd_update.c) against torch's calls, which
the solver's fused form makes, bit for bit; which solvers use it; a bad buffer changes nothing."""
import numpy as np
import pytest
import torch

from caffe_compat import get_solver
from caffe_compat.io.prototxt import parse_solver
from caffe_compat.kernels import sgd_update
from caffe_compat.diagnostics.glog import SolverLog

needs_kernel = pytest.mark.skipif(not sgd_update.available(),
                                  reason="the C update does not match torch's calls here")


def _blobs(sizes, seed):
    rng = np.random.default_rng(seed)
    # data, diff and history of one magnitude: a fused and an unfused a + s * b round apart
    # for many values, so a wrong form cannot pass
    return [[rng.standard_normal(n).astype(np.float32) for _ in range(3)] for n in sizes]


def test_the_extension_is_built_and_matches_torch_here():
    # x86-64 with or without FMA, the build CI makes: one of the two forms is torch's
    assert sgd_update._sgd_update is not None
    assert sgd_update.mode() in (True, False)
    assert sgd_update._sgd_update.vector_kernel() in ("avx2-fma", "scalar-fmaf")


@needs_kernel
@pytest.mark.parametrize("sizes", [(1,), (7, 8, 9), (16, 17, 31, 33), (4099, 65536, 70003)])
def test_update_is_torchs_calls_bit_for_bit(sizes):
    blobs = _blobs(sizes, len(sizes))
    decays = [float(np.float32(d)) for d in (0.0, 5e-4, 0.3, 0.0)][:len(sizes)] + \
        [0.0] * max(0, len(sizes) - 4)
    rates = [float(np.float32(r)) for r in np.linspace(0.01, 1.3, len(sizes))]
    momentum = float(np.float32(0.9))
    ref = [[torch.from_numpy(a.copy()) for a in blob] for blob in blobs]
    with torch.no_grad():
        sgd_update._torch_reference([b[0] for b in ref], [b[1] for b in ref],
                                    [b[2] for b in ref], decays, rates, momentum)
    got = [[torch.from_numpy(a.copy()) for a in blob] for blob in blobs]
    tensors = tuple(t for blob in got for t in blob)
    before = [t._version for t in tensors]
    sgd_update.update([b[0].numpy() for b in got], [b[1].numpy() for b in got],
                      [b[2].numpy() for b in got], decays, rates, momentum, tensors)
    # tolerance 0: the same float32 operations per value, in the same order
    for blob_got, blob_ref in zip(got, ref):
        for g, r in zip(blob_got, blob_ref):
            assert torch.equal(g, r)
    # the version counters move on as torch's in-place calls move them
    assert [t._version for t in tensors] == [v + 1 for v in before]


@needs_kernel
def test_the_other_form_differs_on_these_values():
    # the check that picks the form can tell them apart
    blobs = _blobs((1000,), 5)
    out = []
    for fused in (True, False):
        arrays = [a.copy() for a in blobs[0]]
        sgd_update._sgd_update.sgd_update([arrays[0]], [arrays[1]], [arrays[2]], [0.25], [0.7],
                                          0.9, fused)
        out.append(arrays[0])
    assert not np.array_equal(out[0], out[1])


@needs_kernel
def test_a_bad_buffer_changes_no_blob():
    blobs = _blobs((10, 12), 2)
    arrays = [[a.copy() for a in blob] for blob in blobs]
    strided = np.zeros(24, np.float32)[::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        sgd_update._sgd_update.sgd_update([arrays[0][0], arrays[1][0]],
                                          [arrays[0][1], strided], [arrays[0][2], arrays[1][2]],
                                          [0.0, 0.0], [0.1, 0.1], 0.9, True)
    with pytest.raises(TypeError, match=r"diffs\[1\] is not a float32"):
        sgd_update._sgd_update.sgd_update([arrays[0][0], arrays[1][0]],
                                          [arrays[0][1], arrays[1][1].astype(np.float64)],
                                          [arrays[0][2], arrays[1][2]], [0.0, 0.0], [0.1, 0.1],
                                          0.9, True)
    with pytest.raises(ValueError, match="sizes differ"):
        sgd_update._sgd_update.sgd_update([arrays[0][0]], [arrays[1][1]], [arrays[0][2]],
                                          [0.0], [0.1], 0.9, True)
    for got, blob in zip(arrays, blobs):
        for g, a in zip(got, blob):
            assert np.array_equal(g, a)


NET = """
net_param {
  name: "two"
  layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 4 dim: 6 } } }
  layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y"
          param { lr_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
          inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.5 } } }
}
random_seed: 3
solver_mode: CPU
base_lr: 0.1 lr_policy: "fixed" momentum: 0.9 weight_decay: 0.01
"""


def _solver(extra):
    return get_solver(parse_solver(NET + extra, "<sgd kernel>"), log=SolverLog(keep=True))


@needs_kernel
@pytest.mark.parametrize("extra, uses", [('type: "SGD"', True),
                                         ('type: "SGD" regularization_type: "L1"', False),
                                         ('type: "Nesterov"', False),
                                         ('type: "Adam" momentum2: 0.999', False)])
def test_which_solvers_use_it(extra, uses):
    s = _solver(extra)
    s.update_plan()
    assert (s._kernel_arrays is not None) == uses


@needs_kernel
def test_solver_update_with_and_without_the_kernel():
    runs = []
    for kernel in (True, False):
        s = _solver('type: "SGD"')
        for step in range(4):
            rng = np.random.default_rng(step)
            for p in s._params:
                p.grad = torch.tensor(rng.normal(size=tuple(p.shape)).astype(np.float32))
            if not kernel:
                s._kernel_update = lambda diffs, rate: False
            s.apply_update()
            s.iter += 1
        runs.append([p.detach().clone() for p in s._params] + [h.clone() for h in s.history])
    # tolerance 0: see test_update_is_torchs_calls_bit_for_bit
    assert all(torch.equal(a, b) for a, b in zip(*runs))


@needs_kernel
def test_a_strided_diff_falls_back_to_torchs_calls():
    s = _solver('type: "SGD"')
    w = s._params[0]
    before = w.detach().clone()
    g = torch.ones(w.shape[1], w.shape[0]).t()          # not C-contiguous
    w.grad = g
    s._params[1].grad = torch.ones_like(s._params[1])
    assert not s._kernel_update(s._diffs(), 0.1)
    s.apply_update()                                   # through torch's calls
    assert not torch.equal(w.detach(), before)
