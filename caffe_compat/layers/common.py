"""Geometry helpers shared by several layer modules (Caffe's BaseConvolutionLayer rules)."""
from __future__ import annotations


def spatial_values(layer, repeated, h, w, has_h, has_w, n, default, what):
    """Caffe's rule for kernel/stride/pad/dilation: ``x_h``/``x_w`` (2-D only) or a repeated
    field given once (same for every axis) or once per spatial axis; ``default`` when absent."""
    if has_h or has_w:
        if n != 2:
            layer.fail(f"{what}_h/{what}_w can only be used for 2-D {what}s")
        if len(repeated):
            layer.fail(f"either {what} or {what}_h/_w may be given, not both")
        if not (has_h and has_w):
            layer.fail(f"both {what}_h and {what}_w are required")
        return [int(h), int(w)]
    if len(repeated) == 0:
        if default is None:
            layer.fail(f"{what} size is not specified")
        return [default] * n
    if len(repeated) == 1:
        return [int(repeated[0])] * n
    if len(repeated) != n:
        layer.fail(f"{what} must be given once or {n} times (once per spatial axis), "
                   f"got {len(repeated)}")
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
