"""Reading a Caffe model as OpenCV's dnn module does: ``readNetFromCaffe`` (paths or
buffers), ``readNet`` (a .prototxt / .caffemodel pair in either order) and the extension rule
OpenCV's readNet uses to recognise a Caffe model."""
from __future__ import annotations

import contextlib
import os
import warnings

import numpy as np

from ..errors import PrototxtError
from .net import Net, UnsupportedError


def _is_buffer(value):
    """A model given as its contents (OpenCV's buffer overload: a uint8 array; bytes too)
    rather than as a path."""
    if isinstance(value, (np.ndarray, bytearray, memoryview)):
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
    Legacy formats are upgraded; the TEST phase's layers are kept.

    A net the torch-free path runs is read by the light reader (:mod:`caffe_compat.io.protobuf_free`,
    no protobuf) where it takes the files; every other net, and the protobuf side of a
    light one when something asks for it, by the protobuf reader. The cycle collector is
    paused meanwhile (:class:`caffe_compat.kernels.collector.Loading`): reading makes many
    objects and no garbage cycles, so its collections would walk them for nothing (the
    res10 SSD's one-shot program took 0.96x its wall time without them, 40 alternating
    pairs); torch's objects are set aside after it where the read loaded torch."""
    from ..kernels.collector import Loading
    with Loading():
        return _read_net_from_caffe(prototxt, caffeModel, bufferProto, bufferModel)


def _read_net_from_caffe(prototxt, caffeModel, bufferProto, bufferModel):
    from ..io.text_file import read_text_file
    proto = bufferProto if bufferProto is not None else prototxt
    model = bufferModel if bufferModel is not None else caffeModel
    if proto is None:
        raise PrototxtError("readNetFromCaffe: no net definition given (prototxt path or "
                            "bufferProto)")
    if _is_buffer(proto):
        from ..io.text_file import _decode
        source = "<bufferProto>"
        text = _decode(_as_bytes(proto), source, "the first argument is the prototxt (a "
                       ".caffemodel's bytes go second)")
    else:
        source = os.fsdecode(os.fspath(proto))
        text = read_text_file(source)
    has_model = model is not None and not (isinstance(model, (str, bytes)) and len(model) == 0) \
        and not (isinstance(model, np.ndarray) and model.size == 0)
    weights_file = _WeightsFile(model if has_model else None)
    net = _light_net(text, source, weights_file)
    if net is not None:
        net._weights_source = weights_file.source
        return net
    param, weights, open_inputs, values = _protobuf_parts(text, source, weights_file)
    return Net(param, weights, source, open_inputs, values=values,
               weights_source=weights_file.source)


class _WeightsFile:
    """A caffemodel's bytes: a path's read on a thread while the prototxt is parsed (the file
    read runs without the GIL; a file of less than
    :data:`~caffe_compat.onnx_path.early.EARLY_MIN_BYTES`, or where no core is free for it
    (:func:`~caffe_compat.onnx_path.early.core_free`), is read when first asked for), a buffer's
    as given; :meth:`bytes` waits for them (None without a caffemodel)."""

    def __init__(self, model):
        self.source, self._data, self._reading = None, None, None
        self.path = self.known = None        # a file's path and identity (binary_file)
        if model is None:
            return
        if _is_buffer(model):
            self.source, self._data = "<bufferModel>", _as_bytes(model)
            return
        from ..onnx_path.early import EARLY_MIN_BYTES, core_free
        self.source = self.path = os.fsdecode(os.fspath(model))
        try:
            small = os.stat(self.source).st_size < EARLY_MIN_BYTES
        except OSError:
            small = True                # bytes() reads it and says what is wrong
        if not small and core_free():
            from ..io.binary_file import read_binary_file_identified
            from ..onnx_path.early import EarlyCall
            self._reading = EarlyCall(read_binary_file_identified, self.source,
                                      name="caffe_compat-caffemodel")

    def bytes(self):
        from ..io.binary_file import read_binary_file_identified
        if self._reading is not None:
            reading, self._reading = self._reading, None
            got = reading.result()          # None: a child forked while the thread read
            self._data, self.known = got if got is not None else \
                read_binary_file_identified(self.source)
        elif self.path is not None and self._data is None:   # a small file: read now
            self._data, self.known = read_binary_file_identified(self.source)
        return self._data

    def file_source(self):
        """The :class:`caffe_compat.onnx_path.graph.FileSource` of a file read whole and unchanged
        meanwhile, else None."""
        if self.path is None or self.known is None or self._data is None:
            return None
        from ..onnx_path.graph import FileSource
        return FileSource(self.path, self._data, self.known)


def _light_net(text, source, weights_file):
    """The Net the light reader reads (:meth:`Net.from_light`), or None."""
    from .. import onnx_path
    if not onnx_path.enabled():
        return None
    from ..io.protobuf_free import deploy as light_deploy
    from ..io.protobuf_free import weights as light_weights
    deploy = light_deploy.read(text, source)
    if deploy is None:
        return None

    def weights():
        data = weights_file.bytes()
        unknown = []
        got = light_weights.read(data, unknown) if data is not None else {}
        if got is None:
            raise _NotLight
        if unknown:                     # a training fork's fields: the protobuf reader's words
            from ..io import unknown_report
            with unknown_report.logged():       # (an INFO record: OpenCV says nothing)
                unknown_report.warn(weights_file.source, unknown)
        return got, weights_file.file_source()
    try:
        return Net.from_light(deploy, weights, source,
                              lambda: _protobuf_parts(text, source, weights_file, quiet=True))
    except _NotLight:
        return None


class _NotLight(Exception):
    """The caffemodel is one for the protobuf reader (caffe_compat.io.protobuf_free.weights)."""


def _protobuf_parts(text, source, weights_file, quiet=False):
    """(upgraded NetParameter, caffemodel NetParameter or None, open inputs, blob values) by
    the protobuf reader; errors in the order Caffe meets them (the prototxt's first).
    ``quiet``: the upgrade's info lines are not logged again (the light reader logged them)."""
    from ..io import caffemodel as caffemodel_io
    from ..io import prototxt as prototxt_io
    from ..io import unknown_report
    from ..io.unknown_report import CaffemodelWarning
    with _upgrade_log_off(quiet):
        raw = prototxt_io.parse_net(text, filename=source, upgrade=False)
        # 'input:' fields without a shape: inputs whose shape comes with setInput
        open_inputs = [] if len(raw.input_shape) or len(raw.input_dim) else list(raw.input)
        param = prototxt_io.upgrade_parsed_net(raw, source)      # the text parsed once
    weights = values = None
    data = weights_file.bytes()
    if data is not None:
        # the blob values stay views of the file's bytes: the torch-free path reads them as
        # they are, the torch path puts them into the message when it builds its net
        # unknown fields: an INFO record (OpenCV reads such files without a word), once
        with warnings.catch_warnings(), \
                contextlib.nullcontext() if quiet else unknown_report.logged():
            if quiet:                   # said when the light reader read the file
                warnings.simplefilter("ignore", CaffemodelWarning)
            weights, values = caffemodel_io.parse_caffemodel_values(data, weights_file.source)
    return param, weights, open_inputs, values


@contextlib.contextmanager
def _upgrade_log_off(quiet):
    """With ``quiet``: the upgrade's logger drops its records meanwhile."""
    if not quiet:
        yield
        return
    import logging
    logger = logging.getLogger("caffe_compat.io.upgrade")
    drop = lambda record: False  # noqa: E731
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


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
        return readNetFromCaffe(bufferProto=framework, bufferModel=config)
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
