"""Reading a Caffe model as OpenCV's dnn module does: ``readNetFromCaffe`` (paths or
buffers), ``readNet`` (a .prototxt / .caffemodel pair in either order) and the extension rule
OpenCV's readNet uses to recognise a Caffe model."""
from __future__ import annotations

import os

import numpy as np

from ..errors import PrototxtError
from .net import Net, UnsupportedError


_BUFFER_TYPES = (bytes, bytearray, memoryview, np.ndarray)


def _is_buffer(value):
    """A model given as its contents (OpenCV's buffer overload: a uint8 array; bytes too)
    rather than as a path."""
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (bytearray, memoryview)):
        return True
    if isinstance(value, bytes):
        # a short bytes value naming an existing file is a path, as OpenCV reads it
        return not (len(value) < 4096 and b"\n" not in value and b"{" not in value
                    and os.path.exists(os.fsdecode(value)))
    return False


def _as_bytes(value):
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value).view(np.uint8).tobytes()
    return bytes(value)


def readNetFromCaffe(prototxt=None, caffeModel=None, *, bufferProto=None, bufferModel=None):
    """A :class:`Net` from a Caffe deploy definition and optional weights: paths
    (``readNetFromCaffe(prototxt, caffeModel)``) or their contents (``readNetFromCaffe(
    bufferProto, bufferModel)``, uint8 arrays or bytes), as ``cv2.dnn.readNetFromCaffe``.
    Legacy formats are upgraded; the TEST phase's layers are kept."""
    from ..io import caffemodel as caffemodel_io
    from ..io import prototxt as prototxt_io
    proto = bufferProto if bufferProto is not None else prototxt
    model = bufferModel if bufferModel is not None else caffeModel
    if proto is None:
        raise PrototxtError("readNetFromCaffe: no net definition given (prototxt path or "
                            "bufferProto)")
    if _is_buffer(proto):
        data = _as_bytes(proto)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise PrototxtError("<bufferProto>: not UTF-8 text; the first argument is the "
                                "prototxt (a .caffemodel's bytes go second)") from None
        source = "<bufferProto>"
    else:
        source = os.fsdecode(os.fspath(proto))
        text = prototxt_io.read_text_file(source)
    has_model = model is not None and not (isinstance(model, (str, bytes)) and len(model) == 0) \
        and not (isinstance(model, np.ndarray) and model.size == 0)
    reading = None
    if has_model and not _is_buffer(model):
        # the caffemodel's bytes are read on a thread while the prototxt is parsed
        from ..lite.early import EarlyCall
        model_path = os.fsdecode(os.fspath(model))
        reading = EarlyCall(caffemodel_io.read_binary_file, model_path,
                            name="caffe_compat-caffemodel")
    raw = prototxt_io.parse_net(text, filename=source, upgrade=False)
    # 'input:' fields without a shape: inputs whose shape comes with setInput
    open_inputs = [] if len(raw.input_shape) or len(raw.input_dim) else list(raw.input)
    param = prototxt_io.upgrade_parsed_net(raw, source)      # the text parsed once
    weights = values = None
    # the blob values stay views of the file's bytes: the torch-free path reads them as they
    # are, the torch path puts them into the message when it builds its net
    if reading is not None:
        data = reading.result()
        if data is None:                   # a child forked while the thread read
            data = caffemodel_io.read_binary_file(model_path)
        weights, values = caffemodel_io.parse_caffemodel_values(data, model_path)
    elif has_model:
        weights, values = caffemodel_io.parse_caffemodel_values(_as_bytes(model),
                                                                "<bufferModel>")
    return Net(param, weights, source, open_inputs, values=values)


def _extension(path):
    """What OpenCV's readNet takes for a file's extension: the text after the last '.' (the
    whole name when there is none), lower-cased here."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        return ""
    text = os.fsdecode(os.fspath(path))
    return text[text.rfind(".") + 1:].lower()


def is_caffe_model(model, config="", framework=""):
    """Whether ``readNet(model, config, framework)`` names a Caffe model, by OpenCV 4's rule:
    ``framework`` is "caffe", or either file's extension is ``caffemodel`` or ``prototxt``
    (so ``deploy.prototxt.txt`` with ``x.caffemodel`` is Caffe, in either order)."""
    if str(framework).lower() == "caffe":
        return True
    return bool({_extension(model), _extension(config)} & {"caffemodel", "prototxt"})


def readNet(model, config="", framework="", *args):
    """``cv2.dnn.readNet`` for Caffe, by OpenCV 4's rule: the files in either order (the
    definition is the ``config`` unless ``model`` ends in ``.prototxt`` or ``config`` in
    ``.caffemodel``, when they trade places), any extension for the definition when the other
    is a ``.caffemodel`` or ``framework`` is "caffe"; or ``readNet("caffe", bufferModel,
    bufferConfig)``. Other formats are OpenCV's (use ``cv2.dnn.readNet``, or :func:`install`,
    which delegates them)."""
    if isinstance(model, str) and model.lower() == "caffe" and _is_buffer(config):
        buffer_model, buffer_config = config, framework
        return readNetFromCaffe(bufferProto=buffer_config, bufferModel=buffer_model)
    if not is_caffe_model(model, config, framework):
        raise UnsupportedError(f"readNet({model!r}, {config!r}): caffe_compat.dnn reads Caffe "
                               "models (a .prototxt and a .caffemodel, or framework='caffe'); "
                               "other formats are read by OpenCV's own cv2.dnn.readNet")
    if _extension(model) == "prototxt" or _extension(config) == "caffemodel":
        model, config = config, model
    if not config:
        raise PrototxtError(f"readNet({model!r}, {config!r}): no net definition given; "
                            "expected a text definition (deploy.prototxt) beside the "
                            ".caffemodel")
    return readNetFromCaffe(config, model if model else None)
