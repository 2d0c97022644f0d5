"""A convolution with nothing to fold keeps its float weights in the fast path: the same
weights, bias and outputs as the float64 fold it skips (that fold multiplied by ones)."""
import torch

import caffe_compat
from caffe_compat.inference import fast_inference

NET = """name: "n"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 9 dim: 9 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 5 kernel_size: 3 weight_filler { type: "gaussian" std: 0.3 }
                      bias_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
"""


def folded_the_old_way(conv):
    """The float64 fold with no links: ``(w * 1).float()``, ``b.float()``."""
    w = conv.weight.detach().double()
    a, b = fast_inference.fold_links([], torch.ones(w.shape[0], dtype=w.dtype),
                                     conv.bias.detach().double())
    return (w * a.view(-1, 1, 1, 1)).float(), b.float()


def test_nothing_to_fold_gives_the_fold_bits():
    net = caffe_compat.Net(NET, phase="TEST", seed=7)
    conv = net.layers[net._layer_keys["conv"]]
    relu = net.layers[net._layer_keys["relu"]]
    fused = fast_inference.FoldedConv(conv, [relu])
    assert not fused.links                       # the ReLU is applied, not folded
    x = torch.randn(2, 3, 9, 9, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = fused(x)
    w, b = folded_the_old_way(conv)
    # bit for bit: the skipped round trip float -> double -> * 1.0 -> float is the identity
    assert torch.equal(fused.weight.contiguous(), w) and torch.equal(fused.bias, b)
    with torch.no_grad():
        ref = torch.relu(torch.nn.functional.conv2d(x, w, b))
    # oneDNN's fused call against torch's conv2d: the same products, summed in an order
    # either library may pick: float32 rounding of 27-term sums
    assert torch.allclose(y.contiguous(), ref, rtol=1e-5, atol=1e-6)
