"""``install()``: make ``cv2.dnn.readNetFromCaffe`` (and ``cv2.dnn.readNet`` for Caffe files)
run on caffe_compat where the installed OpenCV lacks them (OpenCV 5), so programs written for
OpenCV 4 run unchanged after ``from caffe_compat import dnn; dnn.install()``.

OpenCV 4's own importer is left in place unless ``replace=True``. ``readNet`` keeps calling
OpenCV's for every other format (ONNX, TensorFlow, ...). The constants of OpenCV 4's
``cv2.dnn`` that the installed OpenCV lacks (OpenCV 5 removed ``DNN_BACKEND_HALIDE`` and the
``DNN_LAYOUT_*`` names) are put back with OpenCV 4's values. ``uninstall()`` restores what was
there."""
from __future__ import annotations

import functools

_SAVED = {}          # attribute -> (module, original value or _MISSING)
_MISSING = object()


def _set(module, name, value):
    if name not in _SAVED:
        _SAVED[name] = (module, getattr(module, name, _MISSING))
    setattr(module, name, value)


def _original(module, name):
    """The attribute as it was before any install()."""
    return _SAVED[name][1] if name in _SAVED else getattr(module, name, _MISSING)


def _route_python_layers(cv2, done):
    """cv2.dnn_registerLayer / dnn_unregisterLayer reach OpenCV's registry and ours (the
    nets caffe_compat.dnn reads), as OpenCV 4's reach its Caffe importer's."""
    from . import cv2_errors, python_layers
    for name, ours in (("dnn_registerLayer", python_layers.registerLayer),
                       ("dnn_unregisterLayer", python_layers.unregisterLayer)):
        theirs = _original(cv2, name)

        ours = cv2_errors.raising_cv2_errors(ours, f"cv2.{name}")

        def both(*args, _ours=ours, _theirs=theirs):
            if _theirs is not _MISSING:
                _theirs(*args)
            _ours(*args)

        both.__name__, both.__doc__ = name, ours.__doc__
        _set(cv2, name, both)
        done.append(name)


def install(replace=False):
    """Put caffe_compat.dnn's Caffe reader into ``cv2.dnn`` where it is missing (or always,
    with ``replace``); returns the names installed."""
    import cv2

    from . import blob, cv2_errors, readers
    # the cv2.dnn path's readers: their errors are cv2.error, their nets' too
    readNetFromCaffe = cv2_errors.raising_cv2_errors(readers.readNetFromCaffe,
                                                     "cv2.dnn.readNetFromCaffe")
    readNet = cv2_errors.raising_cv2_errors(readers.readNet, "cv2.dnn.readNet")
    dnn = cv2.dnn
    done = []
    # OpenCV's own importer: the attribute as it was before any install()
    own = _original(dnn, "readNetFromCaffe")
    if replace or own is _MISSING:
        _set(dnn, "readNetFromCaffe", readNetFromCaffe)
        done.append("readNetFromCaffe")
        original = _original(dnn, "readNet")
        if original is _MISSING:
            original = None

        @functools.wraps(readNet)
        def read_net(model, config="", framework="", *args, **kwargs):
            if (isinstance(model, str) and model.lower() == "caffe") or \
                    readers.is_caffe_model(model, config, framework) or original is None:
                return readNet(model, config, framework, *args)
            return original(model, config, framework, *args, **kwargs)

        _set(dnn, "readNet", read_net)
        done.append("readNet")
        _route_python_layers(cv2, done)
    from .constants import OPENCV4_CONSTANTS
    for name, value in sorted(OPENCV4_CONSTANTS.items()):
        if not hasattr(dnn, name):
            _set(dnn, name, value)
            done.append(name)
    for name in ("blobFromImage", "blobFromImages", "imagesFromBlob"):
        if not hasattr(dnn, name) or getattr(dnn, name) is _MISSING:
            _set(dnn, name, cv2_errors.raising_cv2_errors(getattr(blob, name),
                                                          f"cv2.dnn.{name}"))
            done.append(name)
    if replace or _original(dnn, "shrinkCaffeModel") is _MISSING:   # a Caffe-only call
        from .shrink import shrinkCaffeModel
        _set(dnn, "shrinkCaffeModel", cv2_errors.raising_cv2_errors(
            shrinkCaffeModel, "cv2.dnn.shrinkCaffeModel"))
        done.append("shrinkCaffeModel")
    return done


def installed():
    """The cv2.dnn names currently provided by caffe_compat.dnn."""
    return sorted(_SAVED)


def uninstall():
    """Restore cv2.dnn as it was before :func:`install`."""
    for name, (module, value) in _SAVED.items():
        if value is _MISSING:
            if hasattr(module, name):
                delattr(module, name)
        else:
            setattr(module, name, value)
    _SAVED.clear()
