"""Caffe's BaseConvolutionLayer rules for Convolution and Deconvolution (base_conv_layer.cpp,
conv_layer.cpp, deconv_layer.cpp), read by every engine.

Parameters and defaults: the channel ``axis`` (1; negative from the end), every later axis
spatial; ``kernel_size`` (required), ``stride`` (1), ``pad`` (0) and ``dilation`` (1) once or
once per spatial axis, or ``kernel_h``/``_w``, ``stride_h``/``_w``, ``pad_h``/``_w`` for two
spatial axes; ``num_output`` (required, positive), ``group`` (1; channels and ``num_output``
its multiples), ``bias_term`` (true). Weights ``(num_output, channels / group, *kernel)``;
Deconvolution stores ``(channels, num_output / group, *kernel)``. Refusals, as Caffe's CHECKs:
as many tops as bottoms, bottoms of one shape, the partial or mixed ``_h`` / ``_w`` forms,
non-positive kernel, stride or ``num_output``, a ``group`` that does not divide both channel
counts, an empty output.

Output length along a spatial axis, for the window's extent ``e = dilation (k - 1) + 1``:
Convolution ``(in + 2 pad - e) / stride + 1`` in C's integer division, which truncates toward
zero (a kernel longer than the padded input by less than a stride has one position; im2col
reads zeros past the end: :func:`~caffe_compat.rules.spatial.far_padding`); Deconvolution
``stride (in - 1) + e - 2 pad``.
"""
from __future__ import annotations

from .record import frozen
from .refusal import refuse
from .spatial import far_padding, spatial_values, window_count

_SECTION = "convolution_param"

# the ConvolutionParameter fields this rule reads (every engine that reads it honours them)
FIELDS = frozenset({"num_output", "bias_term", "pad", "kernel_size", "stride", "dilation",
                    "pad_h", "pad_w", "kernel_h", "kernel_w", "stride_h", "stride_w", "group",
                    "axis"})
# what the filler fields and force_nd_im2col mean where an engine does not read them
FILLERS = frozenset({"weight_filler", "bias_filler"})
ND_IM2COL = {"force_nd_im2col": "Caffe's N-D im2col writes the same columns as its 2-D one"}


def canonical_axis(layer, axis, num_axes, what="axis", type_name=None, field=None):
    """Caffe's Blob::CanonicalAxisIndex: ``-num_axes <= axis < num_axes``, negative from the
    end; ``field`` the parameter at fault (``convolution_param.axis`` unless given)."""
    if not -num_axes <= axis < max(num_axes, 1):
        refuse(layer, f"{what} {axis} out of range for a {num_axes}-axis blob",
               field or f"{_SECTION}.axis", type_name)
    return axis + num_axes if axis < 0 else axis


class Windows:
    """The window geometry of a record with ``kernel`` and ``dilation`` (Convolution's,
    Im2col's)."""

    @property
    def n(self):
        """The number of spatial axes."""
        return len(self.kernel)

    def extent(self, i):
        return self.dilation[i] * (self.kernel[i] - 1) + 1

    def far_padding(self, spatial):
        """Zeros after the end of each spatial axis where the window is longer than the padded
        input (what im2col reads there)."""
        return [far_padding(int(d), self.pad[i], self.extent(i)) for i, d in enumerate(spatial)]


def geometry(layer, cp, n, type_name):
    """``kernel``, ``stride``, ``pad`` and ``dilation`` of ``cp`` for ``n`` spatial axes."""
    return (spatial_values(layer, cp, "kernel", n, None, "kernel_size", type_name),
            spatial_values(layer, cp, "stride", n, 1, None, type_name),
            spatial_values(layer, cp, "pad", n, 0, None, type_name),
            spatial_values(layer, cp, "dilation", n, 1, None, type_name))


@frozen
class ConvolutionRule(Windows):
    """One Convolution or Deconvolution layer as Caffe sets it up for its first bottom."""
    layer: object
    type_name: str
    transposed: bool
    axis: int
    kernel: tuple
    stride: tuple
    pad: tuple
    dilation: tuple
    group: int
    num_output: int
    bias_term: bool
    channels: int

    def out_size(self, i, size):
        if self.transposed:
            return self.stride[i] * (size - 1) + self.extent(i) - 2 * self.pad[i]
        return window_count(size, self.pad[i], self.extent(i), self.stride[i])

    def weight_shape(self):
        if self.transposed:
            return (self.channels, self.num_output // self.group) + self.kernel
        return (self.num_output, self.channels // self.group) + self.kernel

    def param_shapes(self):
        shapes = [self.weight_shape()]
        return shapes + [(self.num_output,)] if self.bias_term else shapes

    def fillers(self):
        """The FillerParameter of each parameter blob (weights, then the bias if any)."""
        cp = self.layer.convolution_param
        return [cp.weight_filler, cp.bias_filler][:len(self.param_shapes())]

    @property
    def force_nd_im2col(self):
        return bool(self.layer.convolution_param.force_nd_im2col)

    def far_padding(self, spatial):
        """None for a deconvolution; the window's otherwise (:meth:`Windows.far_padding`)."""
        return [0] * len(spatial) if self.transposed else Windows.far_padding(self, spatial)

    def for_bottoms(self, bottom_shapes):
        """This record where :func:`convolution_rule`, given ``bottom_shapes`` and the
        arguments this record was made with, sets the layer up as it did and refuses nothing:
        BaseConvolutionLayer's LayerSetUp reads of its bottoms only their number of axes
        (the channel axis, the spatial axes), the channels and that they share one shape.
        None for bottoms of another rank or channels, or of more than one shape: the rule
        function's refusals are then those of these bottoms. A caller that applies the rule
        to many shapes keeps the record and runs only :meth:`top_shape` (and
        :meth:`far_padding`) per shape."""
        shape = bottom_shapes[0]
        if len(shape) != self.axis + 1 + len(self.kernel) or shape[self.axis] != self.channels:
            return None
        if len(bottom_shapes) > 1:
            first = tuple(int(d) for d in shape)
            if any(tuple(int(d) for d in other) != first for other in bottom_shapes[1:]):
                return None
        return self

    def top_shape(self, shape):
        """The top of a bottom of ``shape`` (the leading axes kept, channels replaced by
        ``num_output``); an empty output is refused."""
        shape = tuple(int(d) for d in shape)
        spatial = [self.out_size(i, d) for i, d in enumerate(shape[self.axis + 1:])]
        if any(d <= 0 for d in spatial):
            refuse(self.layer, f"output would be empty ({spatial}) for bottom shape {shape}",
                   None, self.type_name)
        return shape[:self.axis] + (self.num_output,) + tuple(spatial)


def convolution_rule(layer, bottom_shapes, transposed=False, type_name=None, max_spatial=None):
    """The :class:`ConvolutionRule` of ``layer`` (a LayerParameter) for its bottoms' shapes,
    refusing what Caffe's LayerSetUp refuses. ``transposed``: Deconvolution; ``max_spatial``:
    the most spatial axes the engine runs (more are refused)."""
    cp = layer.convolution_param
    if len(layer.bottom) != len(layer.top):
        refuse(layer, "needs as many tops as bottoms", None, type_name)
    shape = tuple(int(d) for d in bottom_shapes[0])
    axis = canonical_axis(layer, int(cp.axis), len(shape), type_name=type_name)
    n = len(shape) - axis - 1
    if n < 1:
        refuse(layer, f"{n} spatial axes are not supported (bottom shape {shape}, axis "
               f"{cp.axis})", f"{_SECTION}.axis", type_name)
    kernel, stride, pad, dilation = geometry(layer, cp, n, type_name)
    if any(k <= 0 for k in kernel):
        refuse(layer, f"kernel dimensions must be positive, got {kernel}",
               f"{_SECTION}.kernel_size", type_name)
    if any(s <= 0 for s in stride):
        refuse(layer, f"stride must be positive, got {stride}", f"{_SECTION}.stride",
               type_name)
    for other in bottom_shapes[1:]:
        if tuple(int(d) for d in other) != shape:
            refuse(layer, "all bottoms must have the same shape, got "
                   f"{[tuple(s) for s in bottom_shapes]}", None, type_name)
    channels = shape[axis]
    group, num_output = int(cp.group), int(cp.num_output)
    if group <= 0 or channels % group or num_output % group:
        refuse(layer, f"channels ({channels}) and num_output ({num_output}) must be multiples "
               f"of group ({group})", f"{_SECTION}.group", type_name)
    if num_output <= 0:
        refuse(layer, "num_output must be positive", f"{_SECTION}.num_output", type_name)
    if max_spatial is not None and n > max_spatial:
        refuse(layer, f"{n} spatial axes are not supported (bottom shape {shape}, axis "
               f"{cp.axis})", None, type_name)
    return ConvolutionRule(layer, type_name or layer.type, transposed, axis, tuple(kernel),
                           tuple(stride), tuple(pad), tuple(dilation), group, num_output,
                           bool(cp.bias_term), channels)


def label_fields(layer):
    """``(num_output, kernel, stride, pad)`` as given, unchecked: the first value of each
    repeated field (1, 1 and 0 where none is; the ``_h`` / ``_w`` forms are not read), what
    pycaffe's drawing labels a layer with."""
    cp = layer.convolution_param
    firsts = [int(v[0]) if len(v) else d for v, d in ((cp.kernel_size, 1), (cp.stride, 1),
                                                      (cp.pad, 0))]
    return (int(cp.num_output), *firsts)
