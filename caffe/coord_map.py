"""pycaffe's ``caffe.coord_map``: how coordinates of one NetSpec top map onto another's, and
``crop`` that aligns two tops with a Crop layer (as FCN's net definitions use it).

A map is ``(axis, scale, shift)``: output coordinate ``i * scale + shift`` comes from input
coordinate ``i`` along the spatial axes from ``axis`` on; pointwise layers give the identity
``(None, 1, 0)``. Convolution, Pooling and Im2col map by ``1 / stride`` with shift
``(pad - (k_eff - 1) / 2) / stride`` (``k_eff = (k - 1) * dilation + 1``), Deconvolution by
``stride`` with shift ``(k_eff - 1) / 2 - pad``, Crop by ``1`` with shift ``-offset``."""
from __future__ import annotations

import numpy as np

from . import net_spec

PASS_THROUGH_LAYERS = ["AbsVal", "BatchNorm", "Bias", "BNLL", "Dropout", "Eltwise", "ELU",
                       "Log", "LRN", "Exp", "MVN", "Power", "ReLU", "PReLU", "Scale",
                       "Sigmoid", "Split", "TanH", "Threshold"]


class UndefinedMapException(Exception):
    """The layer has no coordinate mapping (the walk stops there)."""


class AxisMismatchException(Exception):
    """Two maps along different axes cannot be composed."""


def conv_params(fn):
    """(axis, stride, effective kernel extent, pad) of a Convolution-like or Pooling
    function, as arrays; the legacy ``_h`` / ``_w`` fields are refused."""
    params = fn.params.get("convolution_param", fn.params)
    legacy = {"pad_h", "pad_w", "kernel_h", "kernel_w", "stride_h", "stride_w"} & set(fn.params)
    if legacy:
        raise AssertionError(f"cropping does not support legacy _h/_w params ({sorted(legacy)})")
    kernel = np.array(params["kernel_size"], ndmin=1)
    dilation = np.array(params.get("dilation", 1), ndmin=1)
    return (params.get("axis", 1), np.array(params.get("stride", 1), ndmin=1),
            (kernel - 1) * dilation + 1, np.array(params.get("pad", 0), ndmin=1))


def crop_params(fn):
    """(axis, offset) of a Crop function, with Caffe's defaults (axis 2, offset 0)."""
    params = fn.params.get("crop_param", fn.params)
    return params.get("axis", 2), np.array(params.get("offset", 0), ndmin=1)


def _downsampling(fn):
    axis, stride, extent, pad = conv_params(fn)
    return axis, 1 / stride, (pad - (extent - 1) / 2) / stride


def _upsampling(fn):
    axis, stride, extent, pad = conv_params(fn)
    return axis, stride, (extent - 1) / 2 - pad


def _cropping(fn):
    axis, offset = crop_params(fn)
    return axis - 1, 1, -offset       # maps name the axis before the first cropped one


# layer type -> its (axis, scale, shift) rule
_MAPS = {"Convolution": _downsampling, "Pooling": _downsampling, "Im2col": _downsampling,
         "Deconvolution": _upsampling, "Crop": _cropping}
_MAPS.update({name: lambda fn: (None, 1, 0) for name in PASS_THROUGH_LAYERS})


def coord_map(fn):
    """The (axis, scale, shift) map of one layer function."""
    rule = _MAPS.get(fn.type_name)
    if rule is None:
        raise UndefinedMapException(f"layer type {fn.type_name} has no coordinate mapping")
    return rule(fn)


def compose(base_map, next_map):
    """``base_map`` followed by ``next_map``: scales multiply, the second shift is scaled by
    the first scale."""
    (first_axis, scale, shift), (then_axis, then_scale, then_shift) = base_map, next_map
    axes = {a for a in (first_axis, then_axis) if a is not None}   # None: any axis
    if len(axes) > 1:
        raise AxisMismatchException(f"maps along axis {first_axis} and axis {then_axis}")
    axis = axes.pop() if axes else None
    return axis, scale * then_scale, scale * then_shift + shift


def inverse(coord_map):
    """The backward mapping of a map."""
    axis, a, b = coord_map
    return axis, 1 / a, -b / a


def _walk(start, stop_at=None):
    """Maps from ``start`` to each top reachable backwards through mapped layers; with
    ``stop_at`` (a dict of maps), returns (top, map) at the first top found in it."""
    maps = {start: (None, 1, 0)}
    frontier = [start]
    while frontier:
        top = frontier.pop()
        if stop_at is not None and top in stop_at:
            return top, maps[top]
        try:
            step = coord_map(top.fn)
        except UndefinedMapException:
            continue
        # a Crop's second bottom only gives the size: only the cropped one is walked
        for bottom in top.fn.inputs[:1] if top.fn.type_name == "Crop" else top.fn.inputs:
            maps[bottom] = compose(maps[top], step)
            frontier.append(bottom)
    return None if stop_at is not None else maps


def coord_map_from_to(top_from, top_to):
    """The map from ``top_from``'s coordinates to ``top_to``'s, through their common
    ancestor; RuntimeError when no chain of mapped layers connects them."""
    from_maps = _walk(top_from)
    found = _walk(top_to, stop_at=from_maps)
    if found is None:
        raise RuntimeError("Could not compute map between tops; are they connected by "
                           "spatial layers?")
    common, to_map = found
    return compose(to_map, inverse(from_maps[common]))


def crop(top_from, top_to):
    """A Crop layer (NetSpec Top) cropping ``top_from`` to ``top_to``'s extent, with the axis
    and offsets of their coordinate map; AssertionError when the scales differ or the offset
    is negative or fractional."""
    axis, a, b = coord_map_from_to(top_from, top_to)
    if not np.all(np.asarray(a) == 1):
        raise AssertionError(f"scale mismatch on crop (a = {a})")
    if not np.all(np.asarray(b) <= 0):
        raise AssertionError(f"cannot crop negative offset (b = {b})")
    if not np.all(np.round(b) == b):
        raise AssertionError(f"cannot crop noninteger offset (b = {b})")
    return net_spec.layers.Crop(top_from, top_to, crop_param=dict(
        axis=axis + 1, offset=list(-np.round(b).astype(int))))
