"""A small multi-object tracker over a cv2.dnn detector: :class:`SSDDetector` finds objects in
a frame (a Caffe SSD net, then non-maximum suppression), :class:`IoUTracker` links them from
frame to frame into numbered tracks."""
from .detector import SSDDetector
from .tracker import IoUTracker, Track

__all__ = ["SSDDetector", "IoUTracker", "Track"]
