"""Run multi-object-tracker's example ``detector_Caffe_SSDMobileNet.py`` unchanged, keeping what
its detector computed.

    python motrackers_caffe_ssd.py --video V --weights W --config C --labels L

The example (``sources/motrackers/examples/example_scripts/``) builds
``motrackers.detectors.Caffe_SSDMobileNet`` from its arguments (``cv.dnn.readNetFromCaffe``,
threshold 0.5, NMS 0.2) and loops over the video: ``detect`` (``blobFromImage`` at 300 x 300,
scale 1/127.5, mean 127.5, RGB; ``forward``; the rows above the threshold as boxes in pixels;
``cv.dnn.NMSBoxes``), ``draw_bboxes``, ``imshow``. It runs here as ``__main__`` with this
process's arguments; the package's files and the example are not changed. Two things are
added around them:

- the class's ``forward`` and ``detect`` are wrapped (on the class, from outside) to keep
  their results: ``detections`` (the net's 1 x 1 x N x 7 output), ``bboxes``, ``confidences``,
  ``class_ids`` (after NMS) become this module's globals;
- ``ipyfilechooser`` (a Jupyter widget; ``motrackers.utils`` imports it at import for its
  notebooks' file choosers, which this run never calls) is a stand-in module when it is not
  installed.
"""
import os
import runpy
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.join(HERE, os.pardir, "sources", "motrackers")
EXAMPLE = os.path.join(PACKAGE_ROOT, "examples", "example_scripts",
                       "detector_Caffe_SSDMobileNet.py")

try:
    import ipyfilechooser  # noqa: F401
except ImportError:
    stand_in = types.ModuleType("ipyfilechooser")
    stand_in.FileChooser = type("FileChooser", (), {})
    sys.modules["ipyfilechooser"] = stand_in

sys.path[:0] = [os.path.abspath(PACKAGE_ROOT), os.path.dirname(EXAMPLE)]
from motrackers.detectors import Caffe_SSDMobileNet  # noqa: E402

_kept = {}
_forward, _detect = Caffe_SSDMobileNet.forward, Caffe_SSDMobileNet.detect


def _keep_forward(self, image):
    out = _forward(self, image)
    _kept["detections"] = out.copy()
    return out


def _keep_detect(self, image):
    found = _detect(self, image)
    _kept["found"] = found
    return found


Caffe_SSDMobileNet.forward, Caffe_SSDMobileNet.detect = _keep_forward, _keep_detect
sys.argv = [EXAMPLE] + sys.argv[1:]
runpy.run_path(EXAMPLE, run_name="__main__")
detections = _kept["detections"]
bboxes, confidences, class_ids = _kept["found"]
