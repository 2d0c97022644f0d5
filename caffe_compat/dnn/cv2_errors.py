"""The cv2.dnn boundary's errors: after :func:`caffe_compat.dnn.install`, what caffe_compat
refuses on the ``cv2.dnn`` path is a ``cv2.error``, as every error OpenCV 4's Caffe importer and
its ``cv2.dnn.Net`` raise is, so programs written ``except cv2.error:`` handle it.

Each error raised there is an instance of a class deriving from both the error's own class
and ``cv2.error`` (made once per class, so a subclass of
:class:`caffe_compat.errors.CaffeCompatError` added later is covered without being listed):
``except caffe_compat.errors.PrototxtError`` keeps catching it, its message is ours (the file,
line and layer), its traceback the one it was raised with. Its ``cv2.error`` attributes are
OpenCV's: ``code`` ``cv2.Error.StsError``, ``err`` and ``msg`` the message, ``func`` the
cv2.dnn function or method called, ``file`` and ``line`` the Python source line that raised
it (OpenCV gives its C++ source's).

Only the cv2.dnn path maps errors: ``caffe_compat.dnn.readNetFromCaffe`` and pycaffe raise
caffe_compat's errors alone, and neither imports cv2 for this module (it is imported by
``install()``, which imports cv2 anyway).
"""
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
    joined = cv2_error_class(type(exc))
    if joined is None:          # pragma: no cover - see cv2_error_class
        new = cv2.error(str(exc))
    else:
        new = joined.__new__(joined, *exc.args)
        new.__dict__.update(exc.__dict__)
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
    an error that is one already goes through unchanged."""
    func = name or function.__name__

    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except CaffeCompatError as exc:
            if isinstance(exc, cv2.error):
                raise
            new = as_cv2_error(exc, func)
            if isinstance(new, CaffeCompatError):
                raise new from exc.__cause__
            raise new from exc      # pragma: no cover - a plain cv2.error: ours is its cause

    return call


def _public_functions(cls):
    """The public methods of ``cls`` and its bases (plain functions), by name."""
    found = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if inspect.isfunction(value) and not name.startswith("_"):
                found[name] = value
    return found


def _public_properties(cls):
    """The public properties of ``cls`` and its bases, by name."""
    return {name: value for klass in reversed(cls.__mro__) for name, value in vars(klass).items()
            if isinstance(value, property) and not name.startswith("_")}


def _wrapped_class(cls, extra=(), **attributes):
    """A subclass of ``cls`` whose public methods (and ``extra`` ones) raise cv2.error."""
    body = {name: raising_cv2_errors(f, f"cv2.dnn.{cls.__name__}.{name}")
            for name, f in _public_functions(cls).items()}
    for name in extra:
        body[name] = raising_cv2_errors(getattr(cls, name), f"cv2.dnn.{cls.__name__}.{name}")
    for prop_name, prop in _public_properties(cls).items():
            body[prop_name] = property(
                prop.fget and raising_cv2_errors(prop.fget, f"cv2.dnn.{cls.__name__}.{prop_name}"),
                prop.fset and raising_cv2_errors(prop.fset, f"cv2.dnn.{cls.__name__}.{prop_name}"),
                prop.fdel, prop.__doc__)
    body.update(__module__=cls.__module__, __qualname__=cls.__qualname__, __doc__=cls.__doc__,
                **attributes)
    return type(cls.__name__, (cls,), body)


# what getLayer returns on the cv2.dnn path: its blobs and methods raise cv2.error
CV2Layer = _wrapped_class(Layer)
# a Net read through cv2.dnn: every public method (and an unsupported method's error) raises
# cv2.error; getLayer gives CV2Layer
CV2Net = _wrapped_class(Net, extra=("__getattr__",), _layer_class=CV2Layer)


def on_cv2_path(net):
    """``net`` (a :class:`~caffe_compat.dnn.net.Net` just read) as the cv2.dnn path's: the
    same object, its methods raising cv2.error."""
    if isinstance(net, Net) and not isinstance(net, CV2Net):
        net.__class__ = CV2Net
    return net


def reader(function, name):
    """A cv2.dnn reader (``readNetFromCaffe``, ``readNet``): its errors are cv2.error, the net it
    returns a :data:`CV2Net`."""
    checked = raising_cv2_errors(function, name)

    @functools.wraps(function)
    def read(*args, **kwargs):
        return on_cv2_path(checked(*args, **kwargs))

    return read
