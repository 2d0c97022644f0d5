"""caffe_compat.net.vjp.grad against torch.autograd.grad, and the import it avoids."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from caffe_compat.net import vjp

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _graph(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 4, 5, 5, generator=g, requires_grad=True)
    w = torch.randn(6, 4, 3, 3, generator=g, requires_grad=True)
    unused = torch.randn(2, generator=g, requires_grad=True)
    y = torch.nn.functional.conv2d(x, w)
    z = torch.relu(y) * 2.0
    return x, w, unused, y, z, g


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_bits_as_torch_autograd_grad(seed):
    # Tolerance 0: each output's gradient is its diff times 1.0, the diff itself.
    x, w, unused, y, z, g = _graph(seed)
    dy, dz = torch.randn(y.shape, generator=g), torch.randn(z.shape, generator=g)
    want = torch.autograd.grad((y, z), (x, w, unused), (dy, dz), retain_graph=True,
                               allow_unused=True)
    got = vjp.grad((y, z), (x, w, unused), (dy, dz), retain_graph=True, allow_unused=True)
    assert got[2] is None and want[2] is None
    for a, b in zip(got[:2], want[:2]):
        assert torch.equal(a, b)
    # retain_graph kept the graph: a second call works and gives the same again
    again = vjp.grad((y, z), (x, w), (dy, dz))
    assert all(torch.equal(a, b) for a, b in zip(again, want[:2]))


def test_refusals_match_torch():
    x, w, unused, y, z, g = _graph(3)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\]"):
        vjp.grad((y,), (x,), (torch.zeros(2, 2),))
    with pytest.raises(RuntimeError, match="one diff per output"):
        vjp.grad((y, z), (x,), (torch.zeros_like(y),))
    with pytest.raises(RuntimeError, match="both real or both complex"):
        vjp.grad((y,), (x,), (torch.zeros(y.shape, dtype=torch.complex64),))
    with pytest.raises(RuntimeError):              # torch's own: unused input not allowed
        vjp.grad((y,), (unused,), (torch.zeros_like(y),))


def test_a_pycaffe_backward_does_not_import_sympy(tmp_path):
    # torch.autograd.grad with given diffs imports sympy the first time (~0.45 s of CPU).
    proto = tmp_path / "net.prototxt"
    proto.write_text(textwrap.dedent("""
        force_backward: true
        input: "data" input_shape { dim: 2 dim: 3 dim: 8 dim: 8 }
        layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
                convolution_param { num_output: 4 kernel_size: 3
                                    weight_filler { type: "gaussian" std: 0.1 } } }
        layer { name: "norm" type: "LRN" bottom: "conv" top: "norm" }
        layer { name: "relu" type: "ReLU" bottom: "norm" top: "norm" }
    """))
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import caffe
        net = caffe.Net({str(proto)!r}, caffe.TEST)
        net.blobs["data"].data[...] = np.random.RandomState(0).rand(2, 3, 8, 8)
        net.forward()
        net.blobs["norm"].diff[...] = 1.0
        net.backward()
        assert np.abs(net.blobs["data"].diff).sum() > 0
        print("sympy" in sys.modules)
    """)
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, cwd=str(tmp_path), timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
