"""Every public deploy net of ``NETS`` exports to ONNX and runs in onnxruntime: batch 2 (the
files declare 1; the batch axis is free) against our forward, and batch 1 against OpenCV 4
dnn's committed outputs of the Caffe files. The quick nets run by default, the others with
``-m slow`` (``python -m tests.caffe_compat.public_nets.report`` prints all figures)."""
import pytest

from . import NETS
from .checks import check

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

# onnxruntime sums convolutions and products in another order than torch: float32
# reassociation, a few 1e-6 of the output's scale over the deepest nets; 1e-4 is the promise
ONNX_TOL = 1e-4


def _params():
    return [pytest.param(n, marks=() if NETS[n]["quick"] else pytest.mark.slow) for n in NETS]


@pytest.mark.parametrize("name", _params())
def test_public_net_export(name, tmp_path):
    result = check(name, tmp_path / "net.onnx", opencv_onnx=False)
    assert result["onnxruntime_vs_ours"] <= ONNX_TOL, result
    # two float32 implementations, each summing in its own order (OpenCV 4 on the Caffe
    # files, onnxruntime on the export): up to ~1e-5 of the scale seen (CaffeNet), 1e-4 bound
    assert result["onnxruntime_vs_opencv"] <= ONNX_TOL, result


def opencv5():
    cv2 = pytest.importorskip("cv2")
    if int(cv2.__version__.split(".")[0]) < 5:
        pytest.skip(f"OpenCV {cv2.__version__} installed: the migration check reads the "
                    "export with OpenCV 5's readNetFromONNX (pip install 'opencv-python>=5')")
    return cv2


@pytest.mark.parametrize("name", ["LeNet",
                                  pytest.param("SqueezeNet 1.1", marks=pytest.mark.slow),
                                  pytest.param("GoogLeNet", marks=pytest.mark.slow),
                                  pytest.param("MobileNet v2", marks=pytest.mark.slow),
                                  pytest.param("ResNet-50", marks=pytest.mark.slow)])
def test_opencv5_reads_the_export(name, tmp_path):
    """The migration path: OpenCV 5 (no Caffe importer) runs the ONNX file and gives our
    outputs."""
    opencv5()
    result = check(name, tmp_path / "net.onnx", opencv_onnx=True)
    # OpenCV's own float32 kernels (Winograd convolutions among them): 1e-4 of the scale
    assert result["opencv_onnx_vs_ours"] <= ONNX_TOL, result
