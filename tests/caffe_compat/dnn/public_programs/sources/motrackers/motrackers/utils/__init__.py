from .filechooser_utils import select_caffemodel
from .filechooser_utils import select_videofile
from .filechooser_utils import select_yolo_model
from .filechooser_utils import select_tfmobilenet
from .misc import iou
from .misc import get_centroid
from .misc import draw_tracks
