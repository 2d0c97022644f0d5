"""caffe_compat.net.device_memory: a device out of memory in a forward, a backward or a
solver's update is a DeviceMemoryError naming the net, the layer and its bottom shapes, the
batch, the memory asked for and free, and a batch that would fit from the blob sizes. On the CPU
the device's figures come from a stand-in (MEMORY) and torch's error is raised by the layer."""
import math

import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.errors import CaffeCompatError
from caffe_compat.net import device_memory
from caffe_compat.net.device_memory import DeviceMemoryError

GiB = 1 << 30
MiB = 1 << 20
TORCH_TEXT = ("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
              "79.19 GiB of which 1.05 GiB is free. Of the allocated memory 70.00 GiB is "
              "allocated by PyTorch")
# torch's words without the device (the stand-in's figures are then the CPU's)
PLAIN_TEXT = "out of memory. Tried to allocate 2.00 GiB."
NET = """name: "small"
layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 8 dim: 3 dim: 16 dim: 16 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "act" type: "TanH" bottom: "conv" top: "act" }
layer { name: "ip" type: "InnerProduct" bottom: "act" top: "ip"
        inner_product_param { num_output: 5 weight_filler { type: "xavier" } } }
"""
# the blobs at batch 8: data 8x3x16x16, conv and act 8x4x14x14, ip 8x5
PER_ITEM = (3 * 16 * 16 + 2 * 4 * 14 * 14 + 5) * 4
ALIVE_AT_ACT = 8 * 4 * 14 * 14 * 4      # conv made before it (the fed data is the caller's)


@pytest.fixture
def figures(monkeypatch):
    """The stand-in's figures: (free, total, reserved, allocated)."""
    values = {"now": (1 * MiB, 80 * GiB, 3 * MiB, 2 * MiB)}
    monkeypatch.setitem(device_memory.MEMORY, "cpu", lambda device: values["now"])
    return values


def refuse(*args, **kwargs):
    raise torch.OutOfMemoryError(PLAIN_TEXT)


def refuse_on_gpu0(*args, **kwargs):
    raise torch.OutOfMemoryError(TORCH_TEXT)


def test_a_forward_names_the_layer_the_batch_and_a_batch_that_fits(figures, monkeypatch):
    net = Net(NET, phase="test")
    monkeypatch.setattr(net.layer("act"), "forward", refuse)
    with torch.no_grad(), pytest.raises(DeviceMemoryError) as info:
        net.forward(data=np.zeros((8, 3, 16, 16), np.float32))
    text = str(info.value)
    assert isinstance(info.value, torch.OutOfMemoryError)      # torch's handlers still catch it
    assert isinstance(info.value, CaffeCompatError)
    assert "net 'small' ran out of memory on cpu in layer 'act' (type TanH) forward" in text
    assert "bottom shapes [(8, 4, 14, 14)], batch 8" in text
    assert "asked for 2.00 GiB with 1.00 MiB free of 80.00 GiB" in text
    fits = (1 * MiB + 1 * MiB + ALIVE_AT_ACT) // PER_ITEM        # free + unused reserve + alive
    assert f"a batch of about {fits} would fit" in text
    assert "keep_blobs=False" in text and "(torch: out of memory" in text
    assert info.value.__cause__ is not None


def test_a_backward_counts_the_diffs(figures, monkeypatch):
    net = Net(NET.replace('name: "ip"', 'name: "ip" loss_weight: 1'), phase="train")
    net.forward(data=np.ones((8, 3, 16, 16), np.float32))
    monkeypatch.setattr(torch.Tensor, "backward", refuse)
    with pytest.raises(DeviceMemoryError) as info:
        net.backward()
    text = str(info.value)
    assert "net 'small' ran out of memory on cpu in its backward, batch 8" in text
    assert f"about {device_memory.size_text(2 * PER_ITEM)} per item with their diffs" in text
    assert "keep_blobs" not in text


def test_a_solver_update(figures, monkeypatch, tmp_path):
    from caffe_compat import get_solver
    from tests.small_training import make_small
    make_small(tmp_path, max_iter=2)
    monkeypatch.chdir(tmp_path)
    solver = get_solver("solver.prototxt")
    monkeypatch.setattr(solver, "apply_update", refuse)
    with pytest.raises(DeviceMemoryError, match=r"in its update, batch \d+"):
        solver.step(1)


def test_not_one_item_fits(figures, monkeypatch):
    figures["now"] = (0, 80 * GiB, 0, 0)
    net = Net(NET, phase="test")
    monkeypatch.setattr(net.layer("conv"), "forward", refuse)  # the first: nothing made yet
    with pytest.raises(DeviceMemoryError, match="not even one item fits"):
        net.forward(data=np.zeros((8, 3, 16, 16), np.float32))


def test_without_the_device_figures_torch_s_words_are_read():
    """The device torch names (GPU 0: cuda:0), whose figures this machine cannot read."""
    net = Net(NET, phase="test")
    net.layer("act").forward = refuse_on_gpu0
    with torch.no_grad(), pytest.raises(DeviceMemoryError) as info:
        net.forward(data=np.zeros((8, 3, 16, 16), np.float32))
    text = str(info.value)
    assert "ran out of memory on cuda:0 in layer 'act'" in text
    assert "asked for 2.00 GiB" in text and "a smaller batch needs proportionally less" in text
    assert math.isclose(device_memory.asked_bytes(TORCH_TEXT), 2 * GiB)


def test_moving_the_net_to_the_device(figures, monkeypatch):
    net = Net(NET, phase="test")
    monkeypatch.setattr(torch.nn.Module, "to", refuse)
    with pytest.raises(DeviceMemoryError, match="in its move to the device, batch 8.*its "
                                                 r"weights \d"):
        net.to("cpu")


@pytest.mark.cuda
def test_a_real_device_out_of_memory():
    """A convolution whose output (201 GB) no device here holds: the device's own figures."""
    net = Net("""name: "huge"
layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 2048 dim: 2048 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 12000 kernel_size: 1 } }
""", phase="test").to("cuda")
    with pytest.raises(DeviceMemoryError) as info:
        net.forward(data=torch.zeros((1, 3, 2048, 2048), device="cuda"))
    text = str(info.value)
    assert "ran out of memory on cuda:0 in layer 'conv' (type Convolution) forward" in text
    assert " free of " in text and "not even one item fits" in text
    del info
    torch.cuda.empty_cache()
