"""The inference plan (caffe_compat.inference.fast_inference) on every foldable chain of the
grid (grid_fold.CHAINS), for each device row of the plan: its float32 outputs equal the
unfolded float64 forward within ``TOL``, and it folds exactly the layers the case names (the
chains another layer reads stop where it reads). The ``cuda`` row runs here on CPU tensors
(``fast_inference.ROW``): the calls a CUDA device takes, checked wherever the suite runs; the
``cuda``-marked tests run the same chains on a CUDA device where there is one."""

import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.inference import fast_inference

from .grid_fold import CHAINS, fill

# float32 outputs of at most 3 x 3 x 4 = 36 (InnerProduct: 60) products with each folded
# weight rounded once to float32: a few roundings of 6e-8 of the partial sums, against the
# float64 forward that rounds nothing, stay below 1e-5 of the output's scale
TOL = 1e-5


def _scaled(got, want):
    want = want.detach().to("cpu", torch.float64)
    got = got.detach().to("cpu", torch.float64)
    return float((got - want).abs().max() / want.abs().max().clamp_min(1e-30))


def chain_nets(case, tmp_path):
    """(float32 net, the fed arrays, the unfolded float64 forward's outputs)."""
    text, _, factor = CHAINS[case]
    net = Net(text, phase="test", seed=1)
    fill(net, factor)
    model = tmp_path / "chain.caffemodel"
    net.save(str(model))
    exact = Net(text, weights=str(model), phase="test", dtype=torch.float64)
    exact.fast_inference = False
    rng = np.random.default_rng(5)
    feed = {n: rng.normal(0, 1, tuple(net.blob_shape(n))).astype(np.float32)
            for n in net.inputs}
    with torch.no_grad():
        want = exact.forward(**{k: torch.from_numpy(v).double() for k, v in feed.items()})
    return net, feed, want


def plan_forward(net, feed, row, device="cpu"):
    """The outputs of ``net``'s inference forward on ``row`` and the names it folded."""
    saved = fast_inference.ROW
    fast_inference.ROW = row
    try:
        with torch.inference_mode():
            out = net.forward(keep_blobs=False,
                              **{k: torch.from_numpy(v).to(device) for k, v in feed.items()})
    finally:
        fast_inference.ROW = saved
    plan = net._fast_plans[frozenset(net.outputs)]
    assert plan.row is fast_inference.ROWS[row or "cuda"]
    return out, {node.name for node, _, _, _ in net._nodes if node.index in plan.skip}


@pytest.mark.parametrize("row", list(fast_inference.ROWS))
@pytest.mark.parametrize("case", list(CHAINS))
def test_plan_equals_the_unfolded_float64_forward(case, row, tmp_path):
    net, feed, want = chain_nets(case, tmp_path)
    out, folded = plan_forward(net, feed, row)
    assert folded == CHAINS[case][1]
    for name, value in want.items():
        assert out[name].shape == value.shape, name
        assert out[name].dtype == torch.float32
        assert _scaled(out[name], value) <= TOL, (name, _scaled(out[name], value))


def test_rows_differ_only_in_the_calls():
    cpu, cuda = fast_inference.ROWS["cpu"], fast_inference.ROWS["cuda"]
    assert cpu.thread_steps and not cuda.thread_steps and not cuda.onednn
    assert torch.float32 in cpu.dtypes and torch.float32 in cuda.dtypes
    assert cuda.autocast and not cpu.autocast


@pytest.mark.parametrize("dtype", [torch.bfloat16])
def test_the_cuda_row_runs_a_reduced_precision_net(dtype, tmp_path):
    # bfloat16 keeps 8 bits: each folded weight and each sum rounded to 2^-8 relative, over
    # 36 products, stay within 3e-2 of the output's scale
    net, feed, want = chain_nets("conv bn scale relu in place", tmp_path)
    net.to(dtype)
    saved = fast_inference.ROW
    fast_inference.ROW = "cuda"
    try:
        with torch.no_grad():
            assert fast_inference.applies(net)
            out = net.forward(keep_blobs=False, **{k: torch.from_numpy(v)
                                                   for k, v in feed.items()})
    finally:
        fast_inference.ROW = saved
    for name, value in want.items():
        assert out[name].dtype == dtype
        assert _scaled(out[name], value) <= 3e-2


def test_the_cpu_row_stays_float32_and_out_of_autocast():
    net = Net(CHAINS["conv bn scale relu in place"][0], phase="test")
    with torch.no_grad():
        assert fast_inference.applies(net)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not fast_inference.applies(net)     # the layers' bfloat16 forward runs
        net.to(torch.float64)
        assert not fast_inference.applies(net)


@pytest.mark.cuda
@pytest.mark.parametrize("case", list(CHAINS))
def test_plan_on_a_cuda_device(case, tmp_path):
    net, feed, want = chain_nets(case, tmp_path)
    net.to("cuda")                                      # the net moved: the device's row
    out, folded = plan_forward(net, feed, None, "cuda")
    assert folded == CHAINS[case][1]
    for name, value in want.items():
        assert out[name].device.type == "cuda"
        # cuDNN may use TF32 for float32 convolutions where torch allows it: 10 bits
        limit = 2e-3 if torch.backends.cudnn.allow_tf32 else TOL
        assert _scaled(out[name], value) <= limit, name


@pytest.mark.cuda
def test_plan_under_cuda_autocast(tmp_path):
    net, feed, want = chain_nets("residual: conv bn scale + eltwise sum + relu", tmp_path)
    net.to("cuda")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16):
        assert fast_inference.applies(net)
        out = net.forward(keep_blobs=False,
                          **{k: torch.from_numpy(v).cuda() for k, v in feed.items()})
    # float16 keeps 11 bits: roundings of 2^-11 over 36-term sums, within 1e-2 of the scale
    for name, value in want.items():
        assert _scaled(out[name], value) <= 1e-2, name
