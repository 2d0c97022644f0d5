"""The public nets of the export table and the paper's CNN+D, SR-FCN and CNN-LSTM as PyTorch
source: the generated module against caffe_compat.Net (the check of
caffe_compat.export.pytorch.check, in a process that cannot import caffe_compat). Heavy:
under ``-m slow`` (``python -m tests.caffe_compat.export.pytorch.report`` prints the figures).
"""
import pytest

from tests.caffe_compat.public_nets import NETS

from .report import PAPER, check

pytest.importorskip("safetensors")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NETS) + list(PAPER))
def test_net_as_pytorch_source(name, tmp_path):
    r = check(name, tmp_path / "out")
    assert r["ok"], r["failures"]
    for batch in (1, 3):
        # float32 sums in torch's order against our kernels: the promise, 1e-5 of the scale
        assert max(r["outputs"][batch].values()) <= 1e-5, r
        # the same backward, compared in float64: 1e-4 of the scale
        assert r["param_grads"][batch][0] <= 1e-4, r
        assert r["input_grads"][batch][0] <= 1e-4, r


@pytest.mark.slow
@pytest.mark.parametrize("name", ["CNN+D", "GoogLeNet", "ResNet-50", "MobileNet v2"])
def test_torch_compile_runs_it(name, tmp_path):
    r = check(name, tmp_path / "out", compile=True)
    # torch.compile's fused kernels against ours: the same 1e-5 promise
    assert max(r["compiled"].values()) <= 1e-5, r
