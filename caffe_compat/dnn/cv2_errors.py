"""The cv2.dnn boundary's errors: after :func:`caffe_compat.dnn.install`, what caffe_compat
refuses on the ``cv2.dnn`` path is a ``cv2.error``, as every error of OpenCV 4's Caffe
importer and ``cv2.dnn.Net`` is, so ``except cv2.error:`` handles it.

Each such error is an instance of a class deriving from both its own class and ``cv2.error``
(made once per class, so a later subclass of :class:`caffe_compat.errors.CaffeCompatError`
is covered): ``except caffe_compat.errors.PrototxtError`` still catches it, its message and
traceback are ours. Its ``cv2.error`` attributes are OpenCV's: ``code``
``cv2.Error.StsError``, ``err`` and ``msg`` the message, ``func`` the cv2.dnn function or
method called, ``file`` and ``line`` the Python source line that raised it. Only the cv2.dnn
path maps errors (``readNetFromCaffe`` and pycaffe raise caffe_compat's alone)."""
from __future__ import annotations

import functools
import inspect

import cv2

from ..errors import CaffeCompatError
from .layer import Layer
from .net import Net

_CV2_ATTRIBUTES = ("code", "err", "msg", "func", "file", "line")


@functools.lru_cache(maxsize=None)
def cv2_error_class(cls):
    """The class deriving from ``cls`` (an error class of caffe_compat) and ``cv2.error``;
    None where Python cannot join them."""
    try:
        return type(cls.__name__, (cls, cv2.error),
                    {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                     "__doc__": cls.__doc__, "__reduce__": _reduce})
    except TypeError:           # pragma: no cover - a base whose layout cv2.error cannot share
        return None


def _reduce(exc):
    """Pickling (an error sent to another process): rebuilt by :func:`_rebuild` from the
    class of caffe_compat it joins."""
    ours = next(c for c in type(exc).__mro__[1:] if c is not cv2.error)
    return _rebuild, (ours, exc.args, dict(exc.__dict__))


def _rebuild(ours, args, attributes):
    joined = cv2_error_class(ours)
    exc = joined.__new__(joined, *args)
    exc.__dict__.update(attributes)
    return exc


def as_cv2_error(exc, func):
    """``exc`` (a caffe_compat error) as the cv2.error it is on the cv2.dnn path: an instance of
    :func:`cv2_error_class` with the same arguments, attributes and traceback; a plain
    ``cv2.error`` with the same message where the classes cannot be joined (raise it ``from``
    ``exc``)."""
    joined = cv2_error_class(type(exc))         # (None: see cv2_error_class)
    new = cv2.error(str(exc)) if joined is None else _rebuild(type(exc), exc.args, exc.__dict__)
    frame = inspect.getinnerframes(exc.__traceback__, context=0)[-1] \
        if exc.__traceback__ is not None else None
    given = {"code": int(cv2.Error.StsError), "err": str(exc), "msg": str(exc), "func": func,
             "file": frame.filename if frame else "", "line": frame.lineno if frame else 0}
    for name in _CV2_ATTRIBUTES:
        if name not in exc.__dict__:
            setattr(new, name, given[name])
    return new.with_traceback(exc.__traceback__)


def raising_cv2_errors(function, name=None):
    """``function`` whose caffe_compat errors are raised as cv2.error (:func:`as_cv2_error`);
    an error that is one already goes through unchanged. A net or layer it returns is the
    cv2.dnn path's too (:func:`on_cv2_path`: a quantized net, ``getLayer``'s layer)."""
    func = name or function.__name__

    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return on_cv2_path(function(*args, **kwargs))
        except CaffeCompatError as exc:
            if isinstance(exc, cv2.error):
                raise
            new = as_cv2_error(exc, func)
            if isinstance(new, CaffeCompatError):
                raise new from exc.__cause__
            raise new from exc      # pragma: no cover - a plain cv2.error: ours is its cause

    call.raises_cv2_errors = True
    return call


def on_cv2_path(value):
    """``value`` as the cv2.dnn path hands it out: a :class:`~caffe_compat.dnn.net.Net` or
    :class:`~caffe_compat.dnn.layer.Layer` becomes an instance of :func:`cv2_path_class` of
    its class (the same object: its methods raise cv2.error); anything else is returned as
    it is."""
    if isinstance(value, (Net, Layer)) and not type(value).__dict__.get("_cv2_path"):
        value.__class__ = cv2_path_class(type(value))
    return value


@functools.lru_cache(maxsize=None)
def cv2_path_class(cls):
    """The subclass of ``cls`` (a Net or Layer class, a quantized net's included) whose
    public methods and properties, and an unsupported method's error (``__getattr__``),
    raise cv2.error."""
    body = {"_cv2_path": True, "__module__": cls.__module__, "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__}
    names = {name for klass in cls.__mro__ for name in vars(klass)
             if not name.startswith("_") or name == "__getattr__"}
    for name in sorted(names):
        value = inspect.getattr_static(cls, name)      # as the class resolves it
        where = f"cv2.dnn.{cls.__name__}.{name}"
        if inspect.isfunction(value) and not getattr(value, "raises_cv2_errors", False):
            body[name] = raising_cv2_errors(value, where)
        elif isinstance(value, property) and not getattr(value.fget, "raises_cv2_errors",
                                                         False):
            body[name] = property(value.fget and raising_cv2_errors(value.fget, where),
                                  value.fset and raising_cv2_errors(value.fset, where),
                                  value.fdel, value.__doc__)
    return type(cls.__name__, (cls,), body)
