"""CCCLoss (ours, not a Caffe 1.0 type): ``1 - rho_c`` against an independent float64 NumPy
reference (AVEC's CCC), its written-out backward against float64 central finite differences,
its use in a net (loss_weight, force_backward into the label), a solver that learns with it,
and the errors."""
import numpy as np
import pytest
import torch

from caffe_compat import NetError
from caffe_compat.layers.ccc_loss import _CCCLoss
from tests.caffe_compat.layers.helpers_struct import input_net, leaf, make_layer

# float32 net, 12 values of order 1: float32 rounding of a few sums (2^-23 ~ 1.2e-7 relative)
F32_TOL = 1e-6
# central differences in float64 with h = 1e-6: truncation O(h^2) ~ 1e-12 times the third
# derivative, rounding ~ 1e-16 / 1e-6 = 1e-10: 1e-8 holds both with a wide margin
FD_TOL = 1e-8


def reference_ccc(x, y):
    """AVEC's CCC written independently: 2 cov / (var_x + var_y + (mean_x - mean_y)^2) with
    numpy's population moments."""
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def finite_difference(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("seed,shape", [(0, (8, 1)), (1, (5,)), (2, (3, 2, 1)), (3, (2, 1))])
def test_backward_matches_float64_finite_differences(seed, shape):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    y = 0.5 * x + rng.normal(size=shape) + 0.3          # correlated, shifted, other scale
    xt, yt = leaf(x), leaf(y)
    loss = _CCCLoss.apply(xt, yt)
    (2.5 * loss).backward()                            # a loss weight scales the gradient
    assert abs(loss.item() - (1 - reference_ccc(x, y))) <= 1e-14
    gx = finite_difference(lambda v: 2.5 * (1 - reference_ccc(v, y)), x)
    gy = finite_difference(lambda v: 2.5 * (1 - reference_ccc(x, v)), y)
    err = max(np.abs(xt.grad.numpy() - gx).max(), np.abs(yt.grad.numpy() - gy).max())
    print(f"\nCCCLoss backward vs float64 finite differences {shape}: max error {err:.3g}")
    assert err <= FD_TOL
    # and the written-out gradient is autograd's of the same formula (a second opinion)
    xa, ya = leaf(x), leaf(y)
    m = x.size
    mx, my = xa.mean(), ya.mean()
    rho = 2 * ((xa - mx) * (ya - my)).sum() / m / (
        ((xa - mx) ** 2).sum() / m + ((ya - my) ** 2).sum() / m + (mx - my) ** 2)
    (2.5 * (1 - rho)).backward()
    assert np.abs(xa.grad.numpy() - xt.grad.numpy()).max() <= 1e-14
    assert np.abs(ya.grad.numpy() - yt.grad.numpy()).max() <= 1e-14


def test_in_a_net_float32_loss_weight_and_label_gradient():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(6, 1)).astype(np.float32)
    b = (a + 0.5 * rng.normal(size=(6, 1))).astype(np.float32).reshape(6, 1, 1, 1)
    net = input_net({"a": (6, 1), "b": (6, 1, 1, 1)}, 'layer { name: "loss" type: "CCCLoss" '
                    'bottom: "a" bottom: "b" top: "l" loss_weight: 2 '
                    'propagate_down: true propagate_down: true }')
    out = net.forward(a=a, b=b)
    assert out["l"].shape == ()
    assert abs(out["l"].item() - (1 - reference_ccc(a, b))) <= F32_TOL
    net.backward()
    gx = finite_difference(lambda v: 2 * (1 - reference_ccc(v, b)), a.astype(np.float64))
    gy = finite_difference(lambda v: 2 * (1 - reference_ccc(a, v)), b.astype(np.float64))
    assert np.abs(net.blobs["a"].diff.numpy() - gx).max() <= F32_TOL
    assert np.abs(net.blobs["b"].diff.numpy() - gy).max() <= F32_TOL


def test_perfect_agreement_and_degenerate_inputs():
    x = leaf([0.1, 0.4, -0.3])
    assert abs(_CCCLoss.apply(x, leaf([0.1, 0.4, -0.3])).item()) <= 1e-15
    # constant predictions against varying labels: rho_c = 0, a gradient that moves them
    c, y = leaf([0.2, 0.2, 0.2]), leaf([0.0, 1.0, 2.0])
    loss = _CCCLoss.apply(c, y)
    loss.backward()
    assert loss.item() == 1.0 and np.abs(c.grad.numpy()).max() > 0
    # both constant and equal: D = 0, loss 1 and no gradient (module doc)
    c, y = leaf([0.5, 0.5]), leaf([0.5, 0.5])
    loss = _CCCLoss.apply(c, y)
    loss.backward()
    assert loss.item() == 1.0 and not c.grad.numpy().any() and not y.grad.numpy().any()


def test_a_solver_raises_ccc(tmp_path):
    # a linear regressor trained by Adam on CCCLoss alone reaches a CCC near 1
    import h5py

    from caffe_compat import get_solver
    from caffe_compat.proto import caffe_pb2
    from google.protobuf import text_format
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-0.5], [0.25]]) * 0.5 + 0.1).astype(np.float32)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["x"], f["y"] = x, y
    (tmp_path / "list.txt").write_text(str(tmp_path / "d.h5") + "\n")
    param = text_format.Parse(
        'base_lr: 0.05 lr_policy: "fixed" max_iter: 60 type: "Adam" momentum: 0.9 '
        'momentum2: 0.999 random_seed: 1 display: 0 net_param { name: "t" '
        'layer { name: "d" type: "HDF5Data" top: "x" top: "y" hdf5_data_param { '
        f'source: "{tmp_path / "list.txt"}" batch_size: 16 }} }} '
        'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "p" inner_product_param { '
        'num_output: 1 weight_filler { type: "gaussian" std: 0.01 } } } '
        'layer { name: "loss" type: "CCCLoss" bottom: "p" bottom: "y" top: "loss" } }',
        caffe_pb2.SolverParameter())
    solver = get_solver(param, progress=False)
    solver.step(1)
    first = float(solver.last_loss)
    solver.step(59)
    last = float(solver.last_loss)
    assert first > 0.5 and last < 0.05, (first, last)


def test_bad_inputs_name_the_layer():
    layer = make_layer('name: "c" type: "CCCLoss" bottom: "a" bottom: "b" top: "l"', (4, 1),
                       (4, 1))
    with pytest.raises(NetError, match=r"layer 'c'.*same count"):
        layer.top_shapes([(4, 1), (3, 1)])
    with pytest.raises(NetError, match=r"layer 'c'.*at least 2 values"):
        layer.top_shapes([(1,), (1,)])
    with pytest.raises(NetError, match=r"layer 'c'.*same count"):
        input_net({"a": (4, 1), "b": (3,)}, 'layer { name: "c" type: "CCCLoss" bottom: "a" '
                  'bottom: "b" top: "l" }')
