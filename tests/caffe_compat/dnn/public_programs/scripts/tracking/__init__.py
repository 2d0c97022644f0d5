"""A small multi-object tracker over a cv2.dnn detector: :class:`SSDDetector` finds objects in
a frame (a Caffe SSD net, then non-maximum suppression), :class:`OverlapTracker` links them from
frame to frame into numbered tracks."""
from .detector import SSDDetector
from .tracker import OverlapTracker, Track

__all__ = ["SSDDetector", "OverlapTracker", "Track"]
