"""caffe_compat.net.stepwise: Caffe's persistent blobs and layer-range passes, checked against
the engine's autograd over the whole net and against Caffe's backward rules."""
import numpy as np
import pytest
import torch

import caffe_compat
from caffe_compat.net.blob_view import BlobView
from caffe_compat.net.stepwise import Stepwise

NET = """name: 'branches'
input: 'data' input_shape { dim: 3 dim: 2 dim: 5 dim: 5 }
input: 'label' input_shape { dim: 3 }
layer { name: 'conv' type: 'Convolution' bottom: 'data' top: 'conv'
  convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: 'gaussian' std: 0.4 }
                      bias_filler { type: 'constant' value: 0.1 } } }
layer { name: 'relu' type: 'ReLU' bottom: 'conv' top: 'conv' }
layer { name: 'ip_a' type: 'InnerProduct' bottom: 'conv' top: 'a'
  inner_product_param { num_output: 3 weight_filler { type: 'gaussian' std: 0.3 } } }
layer { name: 'ip_b' type: 'InnerProduct' bottom: 'conv' top: 'b' param { lr_mult: 0 }
  param { lr_mult: 0 } inner_product_param { num_output: 3
    weight_filler { type: 'gaussian' std: 0.3 } } }
layer { name: 'sum' type: 'Eltwise' bottom: 'a' bottom: 'b' top: 'sum' }
layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'sum' bottom: 'label' top: 'loss'
  loss_weight: 2.5 }
layer { name: 'side' type: 'Sigmoid' bottom: 'b' top: 'side' }
"""


def _inputs():
    rng = np.random.RandomState(0)
    return (torch.tensor(rng.randn(3, 2, 5, 5), dtype=torch.float32),
            torch.tensor([0.0, 2.0, 1.0]))


def test_backward_equals_autograd_of_the_whole_net():
    torch.manual_seed(0)
    net = caffe_compat.Net(NET, phase="train")
    x, y = _inputs()
    steps = Stepwise(net)
    steps.data["data"].copy_(x)
    steps.data["label"].copy_(y)
    loss = steps.forward()
    steps.backward()
    grads = {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}
    for p in net.parameters():
        p.grad = None
    ref = net.forward(data=x, label=y)
    assert abs(float(net.loss.detach()) - loss) < 1e-5 * abs(loss)
    net.loss.backward()
    for n, p in net.named_parameters():
        if p.grad is None:
            assert n not in grads
            continue
        torch.testing.assert_close(grads[n], p.grad, rtol=1e-5, atol=1e-6)
    assert torch.equal(steps.data["sum"], net.blobs["sum"].data.detach())
    assert set(ref) == {"loss", "side"}


def test_caffes_backward_rules():
    net = caffe_compat.Net(NET, phase="train")
    steps = Stepwise(net)
    names = [node.name for node, _, _, _ in net._nodes]
    need = dict(zip(names, steps.layer_need))
    # 'side' feeds no loss; 'ip_b' has lr_mult 0 but its bottom needs backward
    assert need["side"] is False and need["ip_b"] is True and need["loss"] is True
    i = names.index("loss")
    assert steps.bottom_need[i] == [True, False]          # no gradient into the label
    i = names.index("conv")
    assert steps.bottom_need[i] == [False]                # data needs none without force
    assert steps.diff_of("loss").item() == 2.5            # the loss weight, as Caffe sets it
    forced = Stepwise(caffe_compat.Net("force_backward: true\n" + NET, phase="train"))
    assert all(forced.layer_need)
    assert forced.bottom_need[names.index("conv")] == [True]
    assert forced.bottom_need[names.index("loss")] == [True, False]   # labels refuse force


def test_layer_ranges_and_diffs():
    net = caffe_compat.Net("force_backward: true\n" + NET, phase="train")
    steps = Stepwise(net)
    x, y = _inputs()
    steps.data["data"].copy_(x)
    steps.data["label"].copy_(y)
    steps.forward()
    first, last = steps.layer_range("ip_a", "ip_a", 0, 0)
    steps.data["conv"].fill_(1.0)
    steps.forward(first, last)                            # only ip_a reads the new values
    w, b = net.params["ip_a"]
    torch.testing.assert_close(steps.data["a"], (torch.ones(3, 36) @ w.T + b).detach())
    steps.diff_of("a").fill_(1.0)
    steps.backward(first, last)
    split_top = net._nodes[first][0].bottoms[0]            # Caffe's split blob of 'conv'
    assert split_top != "conv" and steps.data[split_top] is steps.data["conv"]
    torch.testing.assert_close(steps.diff_of(split_top).reshape(3, 36),
                               w.detach().sum(0).expand(3, 36))
    once = w.grad.clone()
    steps.backward(first, last)                           # parameter diffs accumulate
    torch.testing.assert_close(w.grad, 2 * once)
    steps.clear_param_diffs()
    assert torch.count_nonzero(w.grad) == 0
    with pytest.raises(caffe_compat.NetError, match="no layer 'nope'"):
        steps.layer_range("nope", None, 0, 0)


def test_exported_blobs_keep_their_storage():
    net = caffe_compat.Net(NET, phase="test")
    steps = Stepwise(net)
    view = BlobView(steps, "sum")
    arr = view.data                                       # exported: storage kept
    before = steps.data["conv"]
    with torch.no_grad():                                 # inference: no graph kept
        steps.forward()
    assert np.shares_memory(arr, steps.data["sum"].numpy())
    assert steps.data["conv"] is not before               # not exported: the output adopted
    view.reshape(1, 3)
    assert view.shape == (1, 3) and arr.shape == (3, 3)
    assert (view.num, view.channels, view.height, view.width) == (1, 3, 1, 1)
