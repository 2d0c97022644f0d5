"""The one check of a blob fed to a net's input, made by every path before its engine runs
(cv2.dnn's torch and torch-free forwards, pycaffe's array and torch engines), so the same
mistake gives the same error everywhere.

A net's declared input shape (an ``Input`` layer's, or the legacy ``input_dim`` /
``input_shape`` upgraded to one) may change in the batch and spatial axes (Caffe and OpenCV
reshape the net). What the learned blobs fix may not: the number of axes, the channels a
``Convolution`` or ``Deconvolution`` takes (Caffe's ``CHECK_EQ(channels_,
bottom[0]->shape(1))``, OpenCV's ``getMemoryShapes`` assertion), ``BatchNorm``'s channels,
and the values per item of an ``InnerProduct`` reading an N x D input. The layer reading the
input is found through the layers that keep the channels (activations, Split, Pooling, LRN,
...). A blob breaking one of these rules is refused naming the input, the shape fed, the shape
declared, the layer whose blobs fix it, and the fix."""
from __future__ import annotations

import math

from ..errors import NetError

# layers that pass their input's channels (and number of axes) on unchanged
_KEEP_CHANNELS = frozenset({
    "Split", "ReLU", "PReLU", "ELU", "Sigmoid", "TanH", "AbsVal", "BNLL", "Exp", "Log",
    "Power", "Threshold", "Dropout", "Clip", "Swish", "MVN", "LRN", "Pooling"})
# layers whose learned blobs fix the channels and the number of axes of what they read
_FIX_AXES = frozenset({"Convolution", "Deconvolution", "ConvolutionDepthwise"})
# layers whose learned blobs fix the channels (one value per channel of axis 1; Scale is left
# out: its num_axes may make its factor one scalar)
_FIX_CHANNELS = frozenset({"BatchNorm"})
# layers whose learned blobs fix the number of values per item
_FIX_COUNT = frozenset({"InnerProduct"})

# cv2.cvtColor codes from the channels fed to the channels taken (BGR images, as cv2 reads)
_COLOR_CODES = {(3, 1): "COLOR_BGR2GRAY", (4, 1): "COLOR_BGRA2GRAY", (1, 3): "COLOR_GRAY2BGR",
                (4, 3): "COLOR_BGRA2BGR"}


class InputShapeError(NetError, ValueError):
    """A blob fed to a net's input that the net's learned blobs cannot take (also a
    ValueError, as pycaffe's numpy copy of a wrong blob raises)."""


def readers(layers, inputs):
    """{input name: (layer name, layer type)} of the first layer, in the net's order, whose
    learned blobs fix what it reads of that input (through layers that keep the channels).
    ``layers`` are ``(name, type, bottoms, tops)`` in the net's order; an input no such
    layer reads is left out (any shape goes)."""
    out = {}
    for name in inputs:
        carried = {name}
        for layer, kind, bottoms, tops in layers:
            if not carried.intersection(bottoms):
                continue
            if kind in _FIX_AXES or kind in _FIX_CHANNELS or kind in _FIX_COUNT:
                out[name] = (layer, kind)
                break
            if kind in _KEEP_CHANNELS:
                carried.update(tops)
    return out


def problem(name, given, declared, reader):
    """What is wrong with feeding ``given`` (a shape) to input ``name`` declared ``declared``
    and read by ``reader`` ((layer, type) from :func:`readers`, or None), with the fix; None
    where the net takes it."""
    if declared is None or reader is None:
        return None
    given, declared = tuple(int(d) for d in given), tuple(int(d) for d in declared)
    layer, kind = reader
    where = f"(layer '{layer}' ({kind}) reads it)"
    head = f"input '{name}' {given}: the net takes"
    if kind in _FIX_COUNT:                  # N x D only: another axis may be the layer's axis
        if len(given) < 2 or len(declared) != 2 or \
                math.prod(given[1:]) == math.prod(declared[1:]):
            return None
        return (f"{head} {math.prod(declared[1:])} value(s) per item {declared} {where}; "
                f"reshape or resize it to {(given[0],) + declared[1:]}")
    if kind in _FIX_AXES and len(given) != len(declared):
        return f"{head} {len(declared)} axes {declared} {where}; {_axes_fix(given, declared)}"
    if len(given) < 2 or len(declared) < 2 or given[1] == declared[1]:
        return None
    return (f"{head} {declared[1]} channel(s) {declared} {where}; "
            f"{_channels_fix(given, declared)}")


def _axes_fix(given, declared):
    if len(given) + 1 == len(declared) and len(declared) >= 3:
        if given[0] == declared[1]:          # C x H x W: one image without its batch axis
            return (f"add the batch axis: x[np.newaxis] is {(1,) + given} (or make the blob "
                    "with cv2.dnn.blobFromImage(img))")
        if declared[1] == 1:                  # N x H x W: grey images without their channel
            return (f"add the channel axis: x[:, np.newaxis] is {given[:1] + (1,) + given[1:]}"
                    " (or make the blob with cv2.dnn.blobFromImage(img))")
    return (f"make an N x C x H x W blob such as {declared} (cv2.dnn.blobFromImage(img) makes "
            "one from an image)")


def _channels_fix(given, declared):
    want, got = declared[1], given[1]
    image_layout = len(given) == 4 and given[3] in (1, 3, 4) and got not in (1, 3, 4)
    if image_layout:                      # N x H x W x C: an image's own layout
        got = given[3]
    code = _COLOR_CODES.get((got, want))
    convert = f"convert the image with cv2.cvtColor(img, cv2.{code})" if code else None
    if image_layout and got == want:
        return ("the blob looks like N x H x W x C: x.transpose(0, 3, 1, 2) is N x C x H x W "
                "(or make the blob with cv2.dnn.blobFromImage(img))")
    if image_layout:
        return (f"the blob looks like N x H x W x C with {got} channel(s): "
                f"{convert or f'use an image with {want} channel(s)'}, then make the blob "
                "with cv2.dnn.blobFromImage(img)")
    if convert:
        return f"{convert} before making the blob"
    return f"make the blob from an image with {want} channel(s)"


def check(source, fed, declared, reading):
    """Raise :class:`InputShapeError` for the first input of ``fed`` ({name: shape}) that
    the net cannot take (:func:`problem`), the message starting with ``source`` (the net's
    file). ``declared``: {name: declared shape or None}; ``reading``: :func:`readers`."""
    for name, shape in fed.items():
        why = problem(name, shape, declared.get(name), reading.get(name))
        if why is not None:
            raise InputShapeError(f"{source}: {why}")


# sets of fed shapes a Fits keeps as found to fit (an image pyramid's levels and crop batches
# come back at every image)
FITS_KEPT = 256


class Fits:
    """:func:`check` for one net whose inputs ``reading`` reads (:func:`readers`), each set
    of fed shapes checked once: the last :data:`FITS_KEPT` sets found to fit are not checked
    again. The owner makes a new one where its declared shapes change."""

    def __init__(self, reading):
        self._reading = reading
        self._fits = {}

    def check(self, source, fed, declared):
        """``fed``: ``((name, shape), ...)``, the rest as :func:`check`'s."""
        fits = self._fits
        if fed not in fits:
            check(source, dict(fed), declared, self._reading)
            if len(fits) >= FITS_KEPT:
                del fits[next(iter(fits))]
            fits[fed] = True
