"""The detection types as PyTorch source: DetectionOutput, Proposal, ROIPooling and
PSROIPooling against caffe_compat.Net, in the check's process without caffe_compat.

The detection tops are compared as sets of rows (image, label, confidence, box: the order of
equal confidences is not part of the result), within the check's 1e-5 of their scale; they
carry no gradient (Caffe's layers have no backward), every other output's gradients are
compared as in every export. Faster R-CNN and R-FCN run at batch 1 only (Proposal takes one
image, as in OpenCV); their ``im_info`` is the image's size, not random values.
"""
import pytest
import torch

from caffe_compat import Net
from tests.caffe_compat.opencv_fixtures import ssd_nets
from tests.caffe_compat.opencv_fixtures.nets import build, fill_weights

from . import nets
from .test_export_pytorch import _assert_passed

pytest.importorskip("safetensors")


def _export(net, folder, outputs, batches=(1, 3), inputs=None, compile=False):
    from caffe_compat.export import export_pytorch
    return export_pytorch(net, folder, outputs, batches=batches, check_inputs=inputs,
                          compile=compile)


def test_small_ssd(tmp_path):
    """Three DetectionOutput settings (shared and per-class locations, the three code types,
    clip in pixels, one target class) at batch 1 and 3."""
    net = Net(nets.detection_net(), phase="test")
    fill_weights(net, 6)
    with torch.no_grad():
        out = net.forward(data=torch.rand(1, 3, 24, 20) * 2 - 1)
    # every layer finds more boxes than it keeps: the keep_top_k cut is exercised
    assert all(bool((out[k][0, 0, :, 2] > 0).all()) for k in ("det_shared", "det_classes",
                                                               "det_one"))
    report = _export(net, tmp_path / "ssd", ["det_shared", "det_classes", "det_one",
                                             "conf_flat"])
    _assert_passed(report)


def _two_stage(name, tmp_path):
    case = ssd_nets.NETS[name]()
    net, _ = build(case)
    info = torch.tensor([list(case["im_info"])], dtype=torch.float32)
    report = _export(net, tmp_path / "out", case["outputs"], batches=(1,),
                     inputs={"im_info": lambda batch: info})
    assert report["ok"], report["failures"]
    # float32 outputs: the check's promise, 1e-5 of the scale
    assert max(report["outputs"][1].values()) <= 1e-5, report
    # float64 gradients of the same function: 1e-4 of the scale
    assert report["param_grads"][1][0] <= 1e-4, report
    assert report["input_grads"][1][0] <= 1e-4, report
    return report


def test_faster_rcnn(tmp_path):
    """Proposal and ROIPooling (the small Faster R-CNN of the OpenCV fixtures)."""
    _two_stage("Faster R-CNN", tmp_path)


def test_rfcn(tmp_path):
    """Proposal and PSROIPooling (the small R-FCN of the OpenCV fixtures)."""
    _two_stage("R-FCN", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["SSD face detector", "MobileNet-SSD"])
def test_ssd_nets(name, tmp_path):
    """The SSD family of the export table at 300 x 300, batch 1 and 3, its heads and its
    detections; the face detector also under torch.compile."""
    case = ssd_nets.NETS[name]()
    net, _ = build(case)
    compile = name == "SSD face detector"
    report = _export(net, tmp_path / "out", case["outputs"], compile=compile)
    _assert_passed(report)
    if compile:
        # torch.compile's kernels against ours: the same 1e-5 promise
        assert max(report["compiled"].values()) <= 1e-5, report


def test_detections_compare_as_sets():
    """Two tops holding the same detections, two of equal confidence in either order, compare
    equal; a moved box does not."""
    from caffe_compat.export.pytorch.check import rows_as_set, scaled
    rows = torch.tensor([[0, 1, 0.9, 0.1, 0.1, 0.4, 0.5], [0, 1, 0.7, 0.2, 0.3, 0.6, 0.6],
                         [0, 2, 0.7, 0.0, 0.2, 0.3, 0.9], [0, 0, 0, 0, 0, 0, 0]])[None, None]
    swapped = rows[:, :, [0, 2, 1, 3]]
    assert scaled(swapped, rows) > 0.1
    assert scaled(rows_as_set(swapped), rows_as_set(rows)) == 0.0
    moved = swapped.clone()
    moved[0, 0, 1, 3] += 0.05
    assert scaled(rows_as_set(moved), rows_as_set(rows)) > 1e-2
