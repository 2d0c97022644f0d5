"""The spatial geometry Caffe's convolution-like layers share (BaseConvolutionLayer,
Im2colLayer): a field given per spatial axis or once, its ``_h`` / ``_w`` form, and the number of
window positions along an axis."""
from __future__ import annotations

from .refusal import refuse


def spatial_values(layer, param, what, n, default, repeated_name=None, type_name=None):
    """Caffe's rule for ``kernel`` / ``stride`` / ``pad`` / ``dilation`` of a layer with ``n``
    spatial axes: ``WHAT_h`` and ``WHAT_w`` (2-D only, and not with the plain field; a pad side
    left out is 0, the unset field Caffe reads, while a kernel or stride side needs both: Caffe
    refuses a zero kernel and divides by a zero stride), or the repeated field given once (the
    same for every axis) or once per axis; ``default`` when absent (None: required). ``param`` is the layer's ConvolutionParameter (read through its
    attributes); ``repeated_name`` the plain field's name where it is not ``what``
    (``kernel_size``)."""
    name = repeated_name or what
    section = "convolution_param"
    repeated = list(getattr(param, name))
    has_h = what != "dilation" and param.HasField(f"{what}_h")
    has_w = what != "dilation" and param.HasField(f"{what}_w")
    if has_h or has_w:
        if n != 2:
            refuse(layer, f"{what}_h/{what}_w can only be used for 2-D {what}s",
                   f"{section}.{what}_h", type_name)
        if repeated:
            refuse(layer, f"either {what} or {what}_h/_w may be given, not both",
                   f"{section}.{name}", type_name)
        if not (has_h and has_w) and what != "pad":
            refuse(layer, f"both {what}_h and {what}_w are required",
                   f"{section}.{what}_{'w' if has_h else 'h'}", type_name)
        return [int(getattr(param, f"{what}_h")), int(getattr(param, f"{what}_w"))]
    if not repeated:
        if default is None:
            refuse(layer, f"{what} size is not specified", f"{section}.{name}", type_name)
        return [default] * n
    if len(repeated) == 1:
        return [int(repeated[0])] * n
    if len(repeated) != n:
        refuse(layer, f"{what} must be given once or {n} times (once per spatial axis), "
               f"got {len(repeated)}", f"{section}.{name}", type_name)
    return [int(v) for v in repeated]


def window_count(size, pad, extent, stride):
    """Caffe's number of window positions of a convolution or im2col along one axis:
    ``(size + 2 pad - extent) / stride + 1`` in C's integer division, which truncates toward
    zero, so a window longer than the padded axis by less than ``stride`` still has one
    position (the part past the end reads zeros)."""
    span = size + 2 * pad - extent
    return (span // stride if span >= 0 else -(-span // stride)) + 1


def far_padding(size, pad, extent):
    """Zeros to add after the end of an axis (beyond ``pad``) so that a window of ``extent``
    fits once: what Caffe's im2col reads past a padded axis shorter than the window."""
    return max(0, extent - size - 2 * pad)
