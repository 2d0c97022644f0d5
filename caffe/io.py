"""pycaffe's ``caffe.io``: image loading and resizing, the ``Transformer`` that turns images
into net inputs, cropping, and conversions between arrays and Caffe's BlobProto / Datum.

Resizing goes through scikit-image as pycaffe's does (``skimage.transform.resize`` on the
image scaled to [0, 1], order 1 by default; ``scipy.ndimage.zoom`` for other channel counts),
so the same image gives the same input with the same scikit-image."""
from __future__ import annotations

import numpy as np

from .proto import caffe_pb2

_EXTRA_HINT = "install the pycaffe extra: pip install 'robust-lq-emotion[pycaffe]'"


def _skimage():
    try:
        import skimage
        import skimage.color
        import skimage.io
        import skimage.transform
    except ImportError as e:  # pragma: no cover - the extra is part of the test install
        raise ImportError(f"caffe.io needs scikit-image for image loading and resizing; "
                          f"{_EXTRA_HINT}") from e
    return skimage


def __getattr__(name):
    """The names pycaffe's ``caffe.io`` has from its own imports, which programs call as
    ``caffe.io.resize``, ``caffe.io.zoom`` and ``caffe.io.skimage.io.imread``: loaded on
    first use (scikit-image's import takes a while)."""
    if name == "skimage":
        return _skimage()
    if name == "resize":
        return _skimage().transform.resize
    if name == "zoom":
        from scipy.ndimage import zoom
        return zoom
    raise AttributeError(f"module 'caffe.io' has no attribute '{name}'")


# ------------------------------------------------------------------ proto conversions
def blobproto_to_array(blob, return_diff=False):
    """The data (or with ``return_diff`` the diff) of a BlobProto as an array of its shape:
    ``num x channels x height x width`` when any legacy dimension is set, else ``shape.dim``.
    float64, as pycaffe's ``np.array`` of the repeated field gives (Python floats), whatever
    numpy type the protobuf runtime gives the field."""
    from caffe_compat.io.caffemodel import blob_shape
    values = np.array(blob.diff if return_diff else blob.data, dtype=np.float64)
    shape = blob_shape(blob)
    if int(np.prod(shape, dtype=np.int64)) != values.size:
        raise ValueError(f"BlobProto holds {values.size} values but its shape {shape} needs "
                         f"{int(np.prod(shape, dtype=np.int64))}")
    return values.reshape(shape)


def array_to_blobproto(arr, diff=None):
    """A BlobProto with ``arr``'s shape (``shape.dim``) and values (and ``diff`` if given,
    which must have the same number of values)."""
    arr = np.asarray(arr)
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend(int(d) for d in arr.shape)
    blob.data.extend(arr.astype(float).flat)
    if diff is not None:
        blob.diff.extend(np.asarray(diff).astype(float).flat)
    return blob


def arraylist_to_blobprotovector_str(arraylist):
    """A serialized BlobProtoVector holding each array of ``arraylist``."""
    vec = caffe_pb2.BlobProtoVector()
    vec.blobs.extend([array_to_blobproto(a) for a in arraylist])
    return vec.SerializeToString()


def blobprotovector_str_to_arraylist(str):  # noqa: A002 - pycaffe's argument name
    """The arrays of a serialized BlobProtoVector."""
    vec = caffe_pb2.BlobProtoVector()
    vec.ParseFromString(str)
    return [blobproto_to_array(b) for b in vec.blobs]


def array_to_datum(arr, label=None):
    """A Datum from a ``channels x height x width`` array: uint8 arrays as bytes in ``data``,
    others as ``float_data``; ``label`` is set only when given."""
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise ValueError(f"array_to_datum needs a 3-axis (channels x height x width) array, "
                         f"got shape {arr.shape}")
    channels, height, width = (int(d) for d in arr.shape)
    fields = {"channels": channels, "height": height, "width": width}
    if label is not None:
        fields["label"] = label
    if arr.dtype == np.uint8:               # pixels as bytes, Caffe's compact form
        return caffe_pb2.Datum(data=arr.tobytes(), **fields)
    return caffe_pb2.Datum(float_data=arr.astype(np.float64).ravel().tolist(), **fields)


def datum_to_array(datum):
    """The ``channels x height x width`` array of a Datum (uint8 from ``data``, float64 from
    ``float_data``); the label is ``datum.label``."""
    shape = (datum.channels, datum.height, datum.width)
    values = (np.frombuffer(datum.data, np.uint8).copy() if datum.data
              else np.asarray(datum.float_data, np.float64))
    return values.reshape(shape)


# ------------------------------------------------------------------ pre-processing
def net_transformer(net, mean=None, input_scale=None, raw_scale=None, channel_swap=None):
    """The :class:`Transformer` that ``caffe.Classifier`` and ``caffe.Detector`` set up for
    ``net``'s first input: images ``H x W x K`` moved to ``K x H x W``, then each step given
    (``None`` leaves it out)."""
    name = net.inputs[0]
    transformer = Transformer({name: net.blobs[name].data.shape})
    transformer.set_transpose(name, (2, 0, 1))
    steps = (("set_mean", mean), ("set_input_scale", input_scale),
             ("set_raw_scale", raw_scale), ("set_channel_swap", channel_swap))
    for setter, value in steps:
        if value is not None:
            getattr(transformer, setter)(name, value)
    return transformer


class Transformer:
    """Turns ``H x W x K`` images into the ``K x H x W`` inputs of a net, and back.

    ``inputs``: {input blob name: its shape}, e.g. ``{"data": net.blobs["data"].data.shape}``.
    :meth:`preprocess` converts to float32, resizes to the input's height and width, then
    applies, in this order and where set: transpose, channel swap, raw scale, mean
    subtraction, input scale. :meth:`deprocess` undoes them in the reverse order."""

    def __init__(self, inputs):
        self.inputs = inputs
        # one {input name: setting} table per step (pycaffe's public attributes)
        self.transpose, self.channel_swap, self.raw_scale = {}, {}, {}
        self.mean, self.input_scale = {}, {}

    def _check(self, in_):
        if in_ not in self.inputs:
            raise ValueError(f"{in_} is not one of the net inputs: {self.inputs}")

    def preprocess(self, in_, data):
        """``data`` (H' x W' x K) as net input ``in_`` (K x H x W, float32)."""
        self._check(in_)
        out = np.asarray(data).astype(np.float32, copy=False)
        size = tuple(self.inputs[in_][2:])
        if out.shape[:2] != size:
            out = resize_image(out, size)
        if in_ in self.transpose:
            out = out.transpose(self.transpose[in_])
        if in_ in self.channel_swap:
            out = out[list(self.channel_swap[in_]), :, :]
        if in_ in self.raw_scale:
            out *= self.raw_scale[in_]
        if in_ in self.mean:
            out -= self.mean[in_]
        if in_ in self.input_scale:
            out *= self.input_scale[in_]
        return out

    def deprocess(self, in_, data):
        """A net input (or blob of its shape) back to an image: the inverse of
        :meth:`preprocess` except the resize; singleton axes are squeezed first."""
        self._check(in_)
        out = np.array(data, copy=True).squeeze()
        if in_ in self.input_scale:
            out /= self.input_scale[in_]
        if in_ in self.mean:
            out += self.mean[in_]
        if in_ in self.raw_scale:
            out /= self.raw_scale[in_]
        if in_ in self.channel_swap:
            out = out[np.argsort(self.channel_swap[in_]), :, :]
        if in_ in self.transpose:
            out = out.transpose(np.argsort(self.transpose[in_]))
        return out

    def set_transpose(self, in_, order):
        """Axis order applied to the image, e.g. ``(2, 0, 1)`` for H x W x K -> K x H x W."""
        self._check(in_)
        if len(order) != len(self.inputs[in_]) - 1:
            raise ValueError(f"transpose order {tuple(order)} must have "
                             f"{len(self.inputs[in_]) - 1} axes, one per input axis after "
                             "the batch axis")
        self.transpose[in_] = order

    def set_channel_swap(self, in_, order):
        """Channel order taken after the transpose, e.g. ``(2, 1, 0)`` for RGB -> BGR."""
        self._check(in_)
        if len(order) != self.inputs[in_][1]:
            raise ValueError(f"channel swap {tuple(order)} must name the input's "
                             f"{self.inputs[in_][1]} channels")
        self.channel_swap[in_] = order

    def set_raw_scale(self, in_, scale):
        """Multiply the image by ``scale`` before the mean (e.g. 255 for [0, 1] images)."""
        self._check(in_)
        self.raw_scale[in_] = scale

    def set_mean(self, in_, mean):
        """The mean subtracted: one value per channel (1-axis) or an image (K x H x W, or
        H x W), resized to the input size when it differs."""
        self._check(in_)
        mean = np.asarray(mean)
        channels = self.inputs[in_][1]
        if mean.ndim == 1:
            if mean.shape[0] != channels:
                raise ValueError(f"mean has {mean.shape[0]} channels, input '{in_}' has "
                                 f"{channels}")
            mean = mean[:, np.newaxis, np.newaxis]
        else:
            shape = (1,) + mean.shape if mean.ndim == 2 else mean.shape
            if len(shape) != 3:
                raise ValueError(f"mean of shape {mean.shape} must be 1-, 2- or 3-axis")
            target = tuple(self.inputs[in_][1:])
            if tuple(shape) != target:
                lo, hi = mean.min(), mean.max()
                unit = (mean - lo) / (hi - lo)
                mean = resize_image(unit.transpose((1, 2, 0)), target[1:]).transpose(
                    (2, 0, 1)) * (hi - lo) + lo
        self.mean[in_] = mean

    def set_input_scale(self, in_, scale):
        """Multiply by ``scale`` after the mean subtraction."""
        self._check(in_)
        self.input_scale[in_] = scale


# ------------------------------------------------------------------ images
# modes whose pixels the reader of pycaffe's day (imageio 2's PIL plugin) converted, where
# today's hands over the raw channels (a GIF: every frame)
_CONVERTED = {"CMYK": "RGB", "YCbCr": "RGB", "LA": "RGBA", "PA": "RGBA"}


def _imread(sk, filename, grey):
    """scikit-image's imread(as_gray=grey) after imageio 2's conversions (``_CONVERTED``, a
    GIF's first frame in RGB or RGBA); as_gray blends alpha onto white, as scikit-image did."""
    from PIL import Image
    try:
        with Image.open(filename) as im:
            mode = _CONVERTED.get(im.mode) or (im.format == "GIF" and (
                "RGBA" if "transparency" in im.info else "RGB"))
            pixels = np.asarray(im.convert(mode)) if mode else None
    except OSError:                              # not PIL's: scikit-image's readers say
        pixels = None
    if pixels is None:
        return sk.io.imread(filename, as_gray=grey)
    if grey and pixels.shape[-1] == 4:
        pixels = sk.color.rgba2rgb(pixels)
    return sk.color.rgb2gray(pixels) if grey else pixels


def load_image(filename, color=True):
    """An image as float32 in [0, 1]: H x W x 3 (RGB; grey images repeated) with ``color``,
    else H x W x 1 (colour images converted to intensity); alpha is dropped."""
    sk = _skimage()
    pixels = sk.img_as_float(_imread(sk, filename, not color)).astype(np.float32)
    if pixels.ndim == 3:
        return pixels[..., :3]                  # RGB(A): the alpha channel left out
    plane = pixels[..., None]                   # one channel: H x W x 1
    return np.repeat(plane, 3, axis=2) if color else plane


def resize_image(im, new_dims, interp_order=1):
    """``im`` (H x W x K) resized to ``new_dims`` (height, width), float32: 1- and 3-channel
    images through scikit-image on the image scaled to [0, 1] (a constant image stays that
    constant), other channel counts through ``scipy.ndimage.zoom``."""
    im = np.asarray(im)
    if im.shape[-1] in (1, 3):
        lo, hi = im.min(), im.max()
        if hi > lo:
            unit = (im - lo) / (hi - lo)
            out = _skimage().transform.resize(unit, new_dims, order=interp_order,
                                              mode="constant") * (hi - lo) + lo
        else:
            return np.full((new_dims[0], new_dims[1], im.shape[-1]), lo, dtype=np.float32)
    else:
        from scipy.ndimage import zoom
        scale = tuple(np.array(new_dims, dtype=float) / np.array(im.shape[:2]))
        out = zoom(im, scale + (1,), order=interp_order)
    return out.astype(np.float32)


def oversample(images, crop_dims):
    """Ten crops per image (4 corners, centre, and their left-right mirrors): an array of
    ``10 N x crop_h x crop_w x K`` float32, image by image."""
    shape = np.array(images[0].shape)
    crop = np.array(crop_dims)
    centre = shape[:2] / 2.0
    boxes = [(i, j, i + crop[0], j + crop[1])
             for i in (0, shape[0] - crop[0]) for j in (0, shape[1] - crop[1])]
    boxes.append(tuple(np.concatenate([centre - crop / 2.0, centre + crop / 2.0]).astype(int)))
    out = np.empty((10 * len(images), crop[0], crop[1], shape[-1]), dtype=np.float32)
    k = 0
    for im in images:
        for y0, x0, y1, x1 in boxes:
            out[k] = im[y0:y1, x0:x1, :]
            out[k + 5] = out[k][:, ::-1, :]
            k += 1
        k += 5
    return out
