"""``install()``: make ``cv2.dnn.readNetFromCaffe`` (and ``cv2.dnn.readNet`` for Caffe files)
run on caffe_compat where the installed OpenCV lacks them (OpenCV 5), so programs written for
OpenCV 4 run unchanged after ``from caffe_compat import dnn; dnn.install()``.

OpenCV 4's own importer is left in place unless ``replace=True``. ``readNet`` keeps calling
OpenCV's for every other format (ONNX, TensorFlow, ...). ``uninstall()`` restores what was
there.
"""
from __future__ import annotations

import functools

_SAVED = {}          # attribute -> original value (or _MISSING)
_MISSING = object()


def _set(module, name, value):
    if name not in _SAVED:
        _SAVED[name] = getattr(module, name, _MISSING)
    setattr(module, name, value)


def install(replace=False):
    """Put caffe_compat.dnn's Caffe reader into ``cv2.dnn`` where it is missing (or always,
    with ``replace``); returns the names installed."""
    import cv2

    from . import blob, readNet, readNetFromCaffe, is_caffe_model
    dnn = cv2.dnn
    done = []
    # OpenCV's own importer: the attribute as it was before any install()
    own = _SAVED.get("readNetFromCaffe", getattr(dnn, "readNetFromCaffe", _MISSING))
    if replace or own is _MISSING:
        _set(dnn, "readNetFromCaffe", readNetFromCaffe)
        done.append("readNetFromCaffe")
        original = _SAVED.get("readNet", getattr(dnn, "readNet", None))
        if original is _MISSING:
            original = None

        @functools.wraps(readNet)
        def read_net(model, config="", framework="", *args, **kwargs):
            if (isinstance(model, str) and model.lower() == "caffe") or \
                    is_caffe_model(model, config, framework):
                return readNet(model, config, framework, *args)
            if original is None:
                return readNet(model, config, framework, *args)
            return original(model, config, framework, *args, **kwargs)

        _set(dnn, "readNet", read_net)
        done.append("readNet")
    for name in ("blobFromImage", "blobFromImages"):
        if not hasattr(dnn, name) or getattr(dnn, name) is _MISSING:
            _set(dnn, name, getattr(blob, name))
            done.append(name)
    return done


def installed():
    """The cv2.dnn names currently provided by caffe_compat.dnn."""
    return sorted(_SAVED)


def uninstall():
    """Restore cv2.dnn as it was before :func:`install`."""
    import cv2
    for name, value in _SAVED.items():
        if value is _MISSING:
            if hasattr(cv2.dnn, name):
                delattr(cv2.dnn, name)
        else:
            setattr(cv2.dnn, name, value)
    _SAVED.clear()
