"""No host synchronisation inside a forward on the inference plan's path: no tensor value read
back to Python (``item``, ``tolist``, ``bool`` / ``float`` / ``int`` of a tensor, ``numpy``,
``cpu``) and no copy from one device to another, in the first forward (which folds the
weights) nor the next, on each device row. On a CUDA device every one of these waits for the
queued kernels; recorded here on the CPU through torch's public function mode, so the check
runs wherever the suite does."""
import os
import traceback

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from caffe_compat import Net
from caffe_compat.inference import fast_inference
from caffe_compat.proto import caffe_pb2
from tests.caffe_compat.dnn import nets, zoo_nets

from ..conformance.grid_fold import CHAINS, fill

# tensor methods that hand a value to the host
READS = {"item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__",
         "__complex__", "__array__"}
# layers whose Caffe rule runs on the host on every device, as Caffe's own GPU forward does:
# DetectionOutput's NMS keeps a data-dependent count of boxes (Forward_gpu reads cpu_data())
HOST_SIDE = {os.path.join("layers", "detection_output.py")}


def _device_of(value):
    if isinstance(value, torch.Tensor):
        return value.device
    if isinstance(value, (str, torch.device)):
        return torch.device(value)
    return None


class HostReads(TorchFunctionMode):
    """Records, by name, each call that reads a tensor's value back to the host or copies a
    tensor to another device (``seen``; those of the :data:`HOST_SIDE` layers in
    ``host_side``)."""

    def __init__(self):
        super().__init__()
        self.seen, self.host_side = [], []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        found = name if name in READS else None
        if name in ("to", "copy_") and args and isinstance(args[0], torch.Tensor):
            targets = [_device_of(v) for v in (*args[1:], kwargs.get("device"))]
            if any(d is not None and d != args[0].device for d in targets):
                found = f"{name}: a copy to another device"
        if found is not None:
            files = [frame.filename for frame in traceback.extract_stack()]
            host = any(f.endswith(h) for f in files for h in HOST_SIDE)
            (self.host_side if host else self.seen).append(found)
        return func(*args, **kwargs)


def test_the_recorder_sees_host_reads():
    x = torch.ones(3)
    with HostReads() as reads:
        x.sum().item()
        bool(x[0] > 0)
        x.to("meta")
        x.numpy()
    assert reads.seen == ["item", "__bool__", "to: a copy to another device", "numpy"]


def _zoo(name):
    text, blobs = {"resnet50": lambda: zoo_nets.resnet50(1, 64, 0.25),
                   "res10_ssd": nets.res10_ssd}[name]()
    net = Net(text, phase="test")
    net.copy_from(caffe_pb2.NetParameter.FromString(nets.caffemodel_bytes(text, blobs, seed=0)))
    size = 64 if name == "resnet50" else 300
    return net, {"data": np.random.default_rng(0).uniform(-50, 50, (1, 3, size, size))}


def _chains():
    text = "".join([CHAINS["residual: conv bn scale + eltwise sum + relu"][0]])
    net = Net(text, phase="test", seed=1)
    fill(net, 2.0)
    return net, {"data": np.random.default_rng(0).normal(0, 1, (1, 3, 8, 8))}


BUILD = {"resnet50": lambda: _zoo("resnet50"), "res10_ssd": lambda: _zoo("res10_ssd"),
         "residual chain": _chains, "ip chain": None}


@pytest.mark.parametrize("row", list(fast_inference.ROWS))
@pytest.mark.parametrize("name", ["resnet50", "res10_ssd", "residual chain", "ip chain"])
def test_no_host_read_in_a_forward_on_the_plan(name, row):
    if name == "ip chain":
        text = CHAINS["ip transposed without bias, bn, leaky relu not in place"][0]
        net = Net(text, phase="test", seed=1)
        fill(net, 1.0)
        feed = {"data": np.random.default_rng(0).normal(0, 1, (3, 12))}
    else:
        net, feed = BUILD[name]()
    x = {k: torch.from_numpy(v.astype(np.float32)) for k, v in feed.items()}
    saved, fast_inference.ROW = fast_inference.ROW, row
    try:
        for _ in range(2):               # the first forward folds, the second reuses
            with torch.inference_mode(), HostReads() as reads:
                net.forward(keep_blobs=False, **x)
            assert reads.seen == [], reads.seen
            assert name == "res10_ssd" or not reads.host_side
    finally:
        fast_inference.ROW = saved
    assert net._fast_plans[frozenset(net.outputs)].skip      # the plan ran, folded


def test_a_net_moved_to_another_device_takes_its_row_without_reading_values():
    # torch's meta device holds shapes only: any value read back (item, bool, numpy, a copy
    # out) raises there, so a whole forward on it shows the plan queues work and reads nothing
    net, _ = _zoo("resnet50")
    net.to("meta")
    assert fast_inference.row_name(net) == "cuda"        # every device but the CPU
    with torch.inference_mode(), HostReads() as reads:
        assert fast_inference.applies(net)
        out = net.forward(keep_blobs=False, data=torch.empty(1, 3, 64, 64, device="meta"))
    assert reads.seen == [] and out["prob"].device.type == "meta"
    assert out["prob"].shape == (1, 1000)
    assert net._fast_plans[frozenset(net.outputs)].skip
