"""The torch-free path of :class:`caffe_compat.dnn.Net` (:mod:`caffe_compat.onnx_path`): whether a
net takes it, its forwards, and the moves to the torch path (what the converters do not
reproduce, ``setParam``, another backend, target or engine asked for). The rules are :mod:`caffe_compat.onnx_path`'s docstring and docs/engines.md's."""
from __future__ import annotations

import sys
import time

from .. import onnx_path
from ..errors import NetError
from . import opencv_threads
from .constants import DNN_BACKEND_DEFAULT


class TorchFreeMixin:
    """The torch-free forwards of a dnn Net (``self._torch_free``: a TorchFreeNet or None)."""

    def _lite_net(self, layers=None, weights=None, name=None, source=None):
        """The torch-free forwards of this net (:mod:`caffe_compat.onnx_path`), or None where the
        switch is off, a Python layer is registered or a layer type has no converter.
        ``layers``, ``weights`` ({layer name: arrays}), ``name`` and ``source`` (the
        caffemodel file the arrays view, :class:`caffe_compat.onnx_path.graph.FileSource`): those
        the light reader read (:mod:`.light_read`); by default the protobuf messages' own."""
        self.__dict__["_opencv_threads"] = opencv_threads.follow()   # before any session
        if not onnx_path.enabled() or self._python_layers:
            return None
        if layers is None:
            layers, name = self._param.layer, self._param.name
        missing = onnx_path.TorchFreeNet.unsupported_types(layers)
        if missing:
            self._torch_free_refused(f"no torch-free converter for layer type(s) "
                                     f"{', '.join(missing)}")
            return None
        if weights is None:
            message, values = self._weights, self._values
            weights_fn = lambda: onnx_path.weights_by_layer(message, values)  # noqa: E731
        else:
            weights_fn = lambda: weights  # noqa: E731
        net = onnx_path.TorchFreeNet(layers, self._inputs, weights_fn, name=name or "net",
                                     source=source)
        if "torch" in sys.modules:      # our forward costs no import: the trial checks against it
            net.reference = lambda shapes, blobs, feed: self._torch_forward(
                self._engine(tuple(shapes)), blobs, feed)      # our torch forward's arrays
        shapes = self._declared_shapes()
        if None not in shapes:
            outputs = [t for k in self.getUnconnectedOutLayers() for t in
                       self._layers[k - 1]["tops"]]
            try:
                net.check(shapes, outputs)
            except onnx_path.Unsupported as exc:
                self._torch_free_refused(str(exc))
                return None
            except NetError:    # at the declared shapes, which may be a placeholder: the
                pass            # forward's shapes decide (OpenCV's rule), the torch path says why
        return net

    def _torch_free_refused(self, why):
        """The torch path runs this net from its reading on, because of ``why``: said once
        per net file and reason (:mod:`caffe_compat.diagnostics.engine_notice`) when the
        torch path has built the net (:meth:`_say_fallback`), so that a net the torch path
        refuses too gets its error alone, not a warning before it."""
        self.__dict__["_engine_reason"] = self.__dict__["_fallback_unsaid"] = why
        onnx_path.debug("%s: the torch path runs the net (%s)", self._source, why)

    def _say_fallback(self):
        """Say the move of :meth:`_torch_free_refused`, once the torch path built the net."""
        why = self.__dict__.pop("_fallback_unsaid", None)
        if why is not None:
            from ..diagnostics import engine_notice
            engine_notice.fallback(self._source, "the torch-free path (onnxruntime or OpenCV "
                                   "5's ONNX reader)", why)

    @property
    def engine(self):
        """The engine answering this net's forwards now: ``"torch-free"`` (the ONNX model
        on onnxruntime or OpenCV 5's reader, :mod:`caffe_compat.onnx_path`) or ``"torch"``."""
        return "torch-free" if self.__dict__.get("_torch_free") is not None else "torch"

    @property
    def engine_reason(self):
        """Why the torch path runs a net that tried the torch-free one (None otherwise)."""
        return self.__dict__.get("_engine_reason")

    def _follow_opencv_threads(self):
        """``cv2.setNumThreads``, read when a forward starts (:mod:`.opencv_threads`): a
        changed count is the thread policy's ceiling from now on, and this net's torch-free
        sessions, built on the count read before, are built again."""
        seen = opencv_threads.follow()
        if seen != self.__dict__.get("_opencv_threads", seen) and self._torch_free is not None:
            self._torch_free.forget_sessions()
        self.__dict__["_opencv_threads"] = seen

    def _lite_off(self, why):
        """Leave the torch-free path for good (the torch path answers from now on)."""
        if self._torch_free is not None:
            onnx_path.debug("%s: the torch path runs the net from now on (%s)", self._source, why)
            self.__dict__["_engine_reason"] = why
        self._torch_free = None

    def _full_weights(self):
        """The caffemodel's values put into the weights message (the torch path copies
        them from there)."""
        if self._values is not None:
            from ..io.caffemodel import merge_values
            merge_values(self._weights, self._values)
            self._values = None

    def _lite_forward(self, shapes, wanted):
        """The torch-free forward (None: the torch path answers, for this call when the
        backend, target or engine asked for is not the default, for good when the converters
        do not reproduce the net)."""
        engine = self._engine_asked.strip().lower()
        if self._backend != DNN_BACKEND_DEFAULT or self._device != "cpu" or \
                engine not in ("", "auto"):
            return None
        start = time.perf_counter_ns()
        try:
            got = self._torch_free.run(shapes, wanted, self._fed)
        except onnx_path.Unsupported as exc:
            self._lite_off(str(exc))
            return None
        except NetError:       # the torch path answers, or says it with the layer's file:line
            return None
        finally:
            self._total = time.perf_counter_ns() - start
        self._torch_free.forwards += 1
        # the way this forward took, for the next (.route)
        self.__dict__["_lite_taken"] = self._torch_free.last
        return got
