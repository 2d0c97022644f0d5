"""The no-autograd fast path of Net.forward: chunked batches and exclusive in-place layers."""
import numpy as np
import torch

from caffe_compat import Net
from tests.conftest import REPO

DEPLOY = str(REPO / "prototxt" / "cnnd_deploy.prototxt")


def _batch(n, seed=0):
    return torch.rand((n, 1, 96, 96), generator=torch.Generator().manual_seed(seed))


def test_chunked_forward_matches_one_pass():
    net = Net(DEPLOY, seed=3)
    x = _batch(19)
    with torch.no_grad():
        net.inference_chunk = 0
        whole = net.forward(data=x)["fc5"].clone()
        pool3 = net.blobs["pool3"].data.clone()
        net.inference_chunk = 4
        chunked = net.forward(data=x)["fc5"]
    # per-item arithmetic is the same, but the kernels block a 4-item batch differently from a
    # 19-item one, reordering float32 sums: the forward tolerance of the Caffe parity tests
    tol = 1e-5
    assert chunked.shape == whole.shape == (19, 1)
    assert (chunked - whole).abs().max() <= tol * whole.abs().max()
    assert net.blobs["pool3"].shape == (19, 256, 5, 5)
    assert (net.blobs["pool3"].data - pool3).abs().max() <= tol * pool3.abs().max()


def test_chunking_is_off_with_autograd_and_for_batch_coupled_nets():
    net = Net(DEPLOY, seed=3)
    assert net._chunk_size({"data": _batch(20)}) is None          # autograd on
    with torch.no_grad():
        assert net._chunk_size({"data": _batch(20)}) == 8
        assert net._chunk_size({"data": _batch(8)}) is None       # fits in one chunk
    train = Net(DEPLOY, phase="train", seed=3)                   # dropout active: not per item
    assert not train._per_item


def test_inplace_relu_only_on_fresh_unshared_blobs(monkeypatch):
    # the same products with and without autograd (training always sums in Caffe's order)
    from caffe_compat.kernels import blas_order
    monkeypatch.setattr(blas_order, "INFERENCE", True)
    text = """
    name: "t"
    layer { name: "in" type: "Input" top: "x" top: "u" input_param { shape { dim: 2 dim: 3 } } }
    layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y"
            inner_product_param { num_output: 4 weight_filler { type: "gaussian" } } }
    layer { name: "r1" type: "ReLU" bottom: "y" top: "y" }
    layer { name: "r2" type: "ReLU" bottom: "u" top: "u" }
    layer { name: "ip2" type: "InnerProduct" bottom: "y" top: "z"
            inner_product_param { num_output: 4 weight_filler { type: "gaussian" } } }
    layer { name: "r3" type: "ReLU" bottom: "z" top: "z" }
    layer { name: "e" type: "Eltwise" bottom: "z" bottom: "y" top: "w" }
    """
    net = Net(text, seed=1)
    names = {node.index: node.name for node, _, _, _ in net._nodes}
    # r1 runs on the fresh output of ip (a split after r1 shares the result between ip2 and e),
    # r2 on a fed input is excluded: the caller's tensor must not change
    assert {names[i] for i in net._exclusive_inplace} == {"r1", "r3"}
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
    u = -x
    fed = u.clone()
    with torch.no_grad():
        fast = net.forward(x=x, u=u)
    assert torch.equal(u, fed)                       # the caller's input is never modified
    ref = net.forward(x=x, u=u)                      # autograd path: no in-place ops
    for k in ref:
        assert torch.equal(fast[k], ref[k].detach())
    assert np.isfinite(net.blobs["w"].data.detach().numpy()).all()


def test_forward_without_keeping_blobs():
    """keep_blobs=False: the same outputs (and requested blobs), in chunks or not, without
    touching net.blobs."""
    net = Net(str(__import__("pathlib").Path(__file__).resolve().parents[3] / "prototxt"
                  / "cnnd_deploy.prototxt"), phase="test", seed=3)
    x = torch.rand(20, 1, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = net.forward(data=x, blobs=["fc4"])
        before = net.blobs["conv1"].data
        for chunk in (8, 0):
            net.inference_chunk = chunk
            out = net.forward(data=x, blobs=["fc4"], keep_blobs=False)
            assert list(out) == list(ref)
            for k in ref:
                assert torch.equal(out[k], ref[k])
        assert net.blobs["conv1"].data is before
