"""The warning for a caffemodel holding fields that neither Caffe 1.0 nor OpenCV's Caffe fork
knows (training forks write them: MTCNN's loss settings, SSD's layer parameters): the file
loads, the fields are kept by the protobuf reader and skipped by the light one, unused either
way. One text for both readers, without protobuf."""
from __future__ import annotations

import contextlib
import contextvars
import logging
import warnings

from ..diagnostics.stack import caller_stacklevel

# LayerParameter numbers of weiliu89's SSD Caffe, which wrote most SSD caffemodels (OpenCV's
# fork numbers these fields differently; the layers' settings come from the prototxt anyway).
SSD_CAFFE_FIELDS = {200: "annotated_data_param", 201: "multibox_loss_param",
                    202: "permute_param", 203: "prior_box_param",
                    204: "detection_output_param", 205: "detection_evaluate_param",
                    206: "norm_param", 207: "video_data_param"}


class CaffemodelWarning(UserWarning):
    """A caffemodel that loads but holds fields that neither Caffe 1.0 nor OpenCV's Caffe fork
    knows (kept, not used)."""


def fields_line(type_name, numbers):
    """``<message type> field(s) n, m`` (SSD's LayerParameter numbers named)."""
    def label(n):
        if type_name == "LayerParameter" and n in SSD_CAFFE_FIELDS:
            return f"{n} ({SSD_CAFFE_FIELDS[n]} of SSD's Caffe)"
        return str(n)
    return f"{type_name} field(s) " + ", ".join(label(n) for n in sorted(set(numbers)))


# within logged(): the report is an INFO record instead of a warning
_LOGGED = contextvars.ContextVar("caffemodel_report_logged", default=False)


@contextlib.contextmanager
def logged():
    """Within this, :func:`warn` logs its text at INFO (logger ``caffe_compat.io``) instead
    of warning: the cv2.dnn readers, as OpenCV reads such files without a word."""
    token = _LOGGED.set(True)
    try:
        yield
    finally:
        _LOGGED.reset(token)


def warn(source, report):
    """Warn that ``source`` holds the unknown fields of ``report`` (one line per layer)."""
    shown = "; ".join(report[:10]) + ("; ..." if len(report) > 10 else "")
    if _LOGGED.get():
        logging.getLogger("caffe_compat.io").info(
            "%s: fields unknown to Caffe 1.0 and to OpenCV's Caffe fork were kept but are not "
            "used: %s", source, shown)
        return
    # the warning points at the first frame outside the packages (the program's own call to
    # readNetFromCaffe, caffe.Net or parse_caffemodel), wherever in them the file was read
    warnings.warn(f"{source}: fields unknown to Caffe 1.0 and to OpenCV's Caffe fork were "
                  f"kept but are not used (the net's definition comes from its prototxt): "
                  f"{shown}", CaffemodelWarning, stacklevel=caller_stacklevel())
