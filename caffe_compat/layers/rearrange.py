"""The layers whose tops hold their bottoms' values rearranged, without arithmetic: reshaped
(Flatten, Reshape), reordered (Permute, ShuffleChannel), repeated (Tile, Split), joined
(Concat), cut (Slice, Crop) or consumed (Silence). The rules (parameters, shapes, refusals)
are each type's module in :mod:`caffe_compat.rules`."""
import torch

from ..rules.concat import FIELDS as CONCAT_FIELDS, concat_rule
from ..rules.crop import FIELDS as CROP_FIELDS, crop_rule
from ..rules.fields import declare
from ..rules.flatten import FIELDS as FLATTEN_FIELDS, flatten_rule
from ..rules.permute import FIELDS as PERMUTE_FIELDS, permute_rule
from ..rules.reshape import FIELDS as RESHAPE_FIELDS, reshape_rule
from ..rules.shuffle_channel import FIELDS as SHUFFLE_FIELDS, shuffle_channel_rule
from ..rules.slice import FIELDS as SLICE_FIELDS, slice_rule
from ..rules.tile import FIELDS as TILE_FIELDS, tile_rule
from .base import Layer
from .registry import register_layer

declare("torch", "Flatten", "FlattenParameter", FLATTEN_FIELDS)
declare("torch", "Reshape", "ReshapeParameter", RESHAPE_FIELDS)
declare("torch", "Permute", "PermuteParameter", PERMUTE_FIELDS)
declare("torch", "ShuffleChannel", "ShuffleChannelParameter", SHUFFLE_FIELDS)
declare("torch", "Tile", "TileParameter", TILE_FIELDS)
declare("torch", "Concat", "ConcatParameter", CONCAT_FIELDS)
declare("torch", "Slice", "SliceParameter", SLICE_FIELDS)
declare("torch", "Crop", "CropParameter", CROP_FIELDS)


@register_layer("Flatten")
class Flatten(Layer):
    """Flatten (the rule in :mod:`caffe_compat.rules.flatten`): the top is the bottom reshaped
    to the rule's ``top_shape`` (Reshape's too)."""
    rule_of = staticmethod(flatten_rule)
    exact_bottoms = 1
    exact_tops = 1

    def forward(self, x):
        return x.reshape(self.rule.top_shape(tuple(x.shape)))


@register_layer("Reshape")
class Reshape(Flatten):
    """Reshape: a new shape for the same data (Caffe's ReshapeLayer).

    ``reshape_param.shape`` replaces the bottom axes ``[axis, axis + num_axes)`` (``axis``
    default 0, negative values count from the end with -1 meaning "after the last axis";
    ``num_axes`` default -1 = to the end). In ``shape`` a 0 copies the bottom dimension at the
    same position (``axis + i``) and a single -1 is inferred from the element count. An empty
    ``shape`` over the whole blob gives a 0-d blob. In-place use is an error, as in Caffe.
    """
    rule_of = staticmethod(reshape_rule)

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.dims = list(self.rule.dims)        # read by the exports


@register_layer("Permute")
class Permute(Layer):
    """Permute (SSD): reorder the axes; ``order`` lists the source axis of each output axis.

    As SSD's Caffe: axes missing from ``order`` follow in their original order (OpenCV's dnn
    wants all of them); an axis out of range or given twice is an error. Backward: autograd.
    """
    rule_of = staticmethod(permute_rule)
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.order = list(self.rule.order)

    item_wise = property(lambda self: self.order[0] == 0)

    def forward(self, x):
        return x.permute(self.order).contiguous()


@register_layer("ShuffleChannel")
class ShuffleChannel(Layer):
    """ShuffleChannel (ShuffleNet): channels in ``group`` groups are interleaved, output
    channel ``i * group + j`` = input channel ``j * (C / group) + i`` (OpenCV 4 dnn's
    ShuffleChannelLayer; ``shuffle_channel_param.group``, default 1). Backward: autograd."""
    rule_of = staticmethod(shuffle_channel_rule)
    exact_bottoms = 1
    exact_tops = 1
    item_wise = True

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.group = self.rule.group

    def forward(self, x):
        n, c = x.shape[:2]
        rest = tuple(x.shape[2:])
        return x.reshape((n, self.group, c // self.group) + rest).transpose(1, 2).reshape(x.shape)


@register_layer("Tile")
class Tile(Layer):
    """Tile: the block of axes from ``tile_param.axis`` (default 1) on repeated ``tiles`` times
    along that axis, i.e. ``shape[axis] *= tiles`` with whole copies one after the other."""
    rule_of = staticmethod(tile_rule)
    exact_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.axis, self.tiles = self.rule.axis, self.rule.tiles

    def forward(self, x):
        reps = [1] * x.dim()
        reps[self.axis] = self.tiles
        return x.repeat(*reps)


@register_layer("Split")
class Split(Layer):
    """Split: one bottom copied to several tops (inserted by Caffe wherever a blob has several
    consumers); each top is its own autograd node so each consumer's gradient stays visible.

    Caffe's Backward_cpu sums the tops' diffs into the bottom's (``caffe_add`` of the first
    two, then ``caffe_axpy`` of the others). The explicit calls (Layer.explicit_forward) do so
    for up to two tops, where the sum is one addition and so the bits autograd's accumulation
    gives in any order; with more tops the order of autograd's additions is its own, and Split
    keeps autograd.
    """
    item_wise = True
    exact_bottoms = 1
    min_tops = 1

    def top_shapes(self, bottom_shapes):
        return [bottom_shapes[0]] * len(self.param.top)

    def forward(self, x):
        return tuple(x.view_as(x) for _ in self.param.top)

    def explicit_ready(self):
        return len(self.param.top) <= 2

    def explicit_forward(self, x):
        return tuple(x for _ in self.param.top), None

    def explicit_backward(self, saved, top_diffs, bottom_need, param_need):
        present = [d for d in top_diffs if d is not None]
        if not bottom_need[0] or not present:
            return [None], []
        if len(present) == 1:
            return [present[0]], []
        return [present[0] + present[1]], []


@register_layer("Concat")
class Concat(Layer):
    """Concat (the rule in :mod:`caffe_compat.rules.concat`): ``torch.cat`` of the bottoms."""
    rule_of = staticmethod(concat_rule)
    rule_reads_bottoms = True
    min_bottoms = 1
    exact_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.axis = self.rule.axis

    def forward(self, *bottoms):
        if len(bottoms) == 1:
            return bottoms[0].view_as(bottoms[0])
        return torch.cat(bottoms, dim=self.axis)


@register_layer("Slice")
class Slice(Layer):
    """Slice: one bottom cut along ``slice_param.axis`` (default 1) into the tops.

    ``slice_point`` lists the (strictly increasing) cut positions, one fewer than the tops;
    without points the axis is split into equal parts and must divide evenly by the number of
    tops. The legacy ``slice_dim`` is an alias of a non-negative axis; giving both is an error,
    as in Caffe.
    """
    exact_bottoms = 1
    min_tops = 1

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.rule = slice_rule(param, self.bottom_shapes)
        self.axis = self.rule.axis

    def top_shapes(self, bottom_shapes):
        return self.rule.top_shapes(bottom_shapes[0])

    def forward(self, x):
        parts = x.split(self.rule.sizes(x.shape[self.axis]), dim=self.axis)
        return parts[0] if len(parts) == 1 else tuple(parts)


@register_layer("Crop")
class Crop(Layer):
    """Crop: bottom 0 cut to the shape of bottom 1 on every axis from ``crop_param.axis``
    (default 2) on, starting at ``offset`` (none: 0; one value: the same for every cropped
    axis; otherwise one value per cropped axis).

    Caffe 1.0's checks (``CropLayer::Reshape``): on every cropped axis (``axis`` on), bottom
    0's size minus the offset must be at least bottom 1's size; the axes before ``axis`` keep
    bottom 0's sizes whatever bottom 1's are (a 1-channel map cropped against a 3-channel image
    with ``axis: 2`` runs; OpenCV 4 checks the same). Only bottom 0 receives a gradient (zero
    outside the window); bottom 1 only gives the shape and gets none.
    """
    exact_bottoms = 2
    exact_tops = 1
    shapes_at_setup = True

    def _window(self, shape, ref):
        rule = crop_rule(self.param, [shape, ref])
        return list(rule.starts), list(rule.shape)

    def top_shapes(self, bottom_shapes):
        return [tuple(self._window(bottom_shapes[0], bottom_shapes[1])[1])]

    def forward(self, x, ref):
        starts, sizes = self._window(tuple(x.shape), tuple(ref.shape))
        return x[tuple(slice(s, s + n) for s, n in zip(starts, sizes))]


@register_layer("Silence")
class Silence(Layer):
    """Silence: consumes its bottoms and produces nothing (Caffe's SilenceLayer)."""
    item_wise = True
    min_bottoms = 1
    exact_tops = 0

    def top_shapes(self, bottom_shapes):
        return []

    def forward(self, *bottoms):
        return ()
