"""Element-wise and channel layers: ReLU (leaky with ``negative_slope``), Power, Dropout, and
the other element-wise and channel layers of OpenCV's Caffe importer and Caffe 1.0: AbsVal,
BNLL (softplus), Sigmoid, TanH, ELU, Exp, Log, Threshold, Clip, ReLU6, Swish, Mish, PReLU, Tile,
ShuffleChannel.

Power is ``(shift + scale x)^power`` (a constant when ``power * scale`` is 0, as
Caffe's forward); Dropout is ``nn.Dropout`` (identity in eval mode, Caffe's TEST; in training
Caffe's ``1 / (1 - ratio)`` scaling, as torch's).

The others are each the torch expression of the layer's forward (:mod:`caffe_compat.layers`):
Exp is ``outer * exp(inner x)`` with Caffe's ``inner = log(base) scale`` and ``outer =
base^shift`` (float32), Log ``log(shift + scale x) / log(base)``, Threshold ``x > t`` (no
gradient, as Caffe), PReLU ``x`` where ``x > 0`` else ``a x`` with one slope or one per channel
(Caffe's blob shape kept), Tile whole copies along its axis, ShuffleChannel the group
interleave. Caffe's Sigmoid (``0.5 tanh(0.5 x) + 0.5`` in double) and torch.sigmoid agree to
float32 rounding. BNLL and ELU use torch's softplus and elu: the same functions, rounded within
float32 (torch sums ``log1p(exp(x))`` and ``expm1``, Caffe ``x + log(1 + exp(-x))`` and
``exp - 1``).
"""
from ..codegen import literal
from ..registry import register_emitter
from ....rules import clip as clip_rules, dropout as dropout_rules, elu as elu_rules
from ....rules import exp as exp_rules, log as log_rules, power as power_rules
from ....rules import prelu as prelu_rules, shuffle_channel as shuffle_rules
from ....rules import threshold as threshold_rules, tile as tile_rules
from ....rules.fields import ENGINE_FIELD, declare

# the layers' values come from the torch layers, which read the rules
for _type, _rules in (("ELU", elu_rules), ("Exp", exp_rules), ("Log", log_rules),
                      ("Threshold", threshold_rules), ("Clip", clip_rules),
                      ("Tile", tile_rules), ("ShuffleChannel", shuffle_rules),
                      ("Power", power_rules), ("Dropout", dropout_rules)):
    declare("pytorch-source", _type, f"{_type}Parameter", _rules.FIELDS)
declare("pytorch-source", "Swish", "SwishParameter", {"beta"})
declare("pytorch-source", "Sigmoid", "SigmoidParameter", (), no_effect=ENGINE_FIELD)
declare("pytorch-source", "TanH", "TanHParameter", (), no_effect=ENGINE_FIELD)
declare("pytorch-source", "ReLU", "ReLUParameter", {"negative_slope"}, no_effect=ENGINE_FIELD)


@register_emitter("ReLU")
def relu(e):
    """In place where our net runs it in place without autograd (Caffe's in-place layer on a
    blob the layer before made, read by nothing else: ``Net._exclusive_inplace``), through the
    helper ``relu_in_place``; ``torch.relu`` / ``F.leaky_relu`` otherwise."""
    x = e.bottoms[0]
    slope = e.module.slope
    if getattr(e.node, "index", None) in getattr(e.gen.net, "_exclusive_inplace", ()):
        fn = e.helper("relu_in_place")
        return f"{fn}({x})" if slope == 0.0 else f"{fn}({x}, {literal(slope)})"
    return f"torch.relu({x})" if slope == 0.0 else f"F.leaky_relu({x}, {literal(slope)})"


@register_emitter("Power")
def power(e):
    m = e.module
    x = e.bottoms[0]
    if m.diff_scale == 0.0:
        return f"torch.full_like({x}, {literal(m.rule.constant)})"
    t = scaled_shifted(x, m.scale, m.shift)
    if m.power == 1.0:
        return t
    t = t if t == x else f"({t})"
    return f"torch.pow({t}, {literal(m.power)})"


@register_emitter("Dropout")
def dropout(e):
    m = e.module
    if not m.scale_train:
        # Caffe's TEST output without scale_train: x * (1 - ratio)
        return f"{e.bottoms[0]} * {literal(1.0 - m.ratio)}"
    attr = e.attribute(f"nn.Dropout({literal(m.ratio)})")
    return f"{attr}({e.bottoms[0]})"


# the types whose forward is one torch function of the bottom
ONE_CALL = {"AbsVal": "torch.abs", "BNLL": "F.softplus", "Mish": "F.mish",
            "Sigmoid": "torch.sigmoid", "TanH": "torch.tanh"}


@register_emitter(*ONE_CALL)
def one_call(e):
    return f"{ONE_CALL[e.type]}({e.bottoms[0]})"


@register_emitter("ELU")
def elu(e):
    return f"F.elu({e.bottoms[0]}, {literal(e.module.alpha)})"


def scaled_shifted(x, scale, shift=0.0):
    """``shift + scale x`` with only the steps that change the value (Exp's, Log's, Power's
    and Swish's factors)."""
    t = x if scale == 1.0 else f"{x} * {literal(scale)}"
    return t if shift == 0.0 else f"{t} + {literal(shift)}"


@register_emitter("Exp")
def exp(e):
    m = e.module
    return scaled_shifted(f"torch.exp({scaled_shifted(e.bottoms[0], m.inner)})", m.outer)


@register_emitter("Log")
def log(e):
    m = e.module
    return scaled_shifted(f"torch.log({scaled_shifted(e.bottoms[0], m.scale, m.shift)})",
                          m.base_scale)


@register_emitter("Threshold")
def threshold(e):
    x = e.bottoms[0]
    return f"({x}.detach() > {literal(e.module.threshold)}).to({x}.dtype)"


@register_emitter("Clip")
def clip(e):
    return f"torch.clamp({e.bottoms[0]}, {literal(e.module.min)}, {literal(e.module.max)})"


@register_emitter("ReLU6")
def relu6(e):
    return f"torch.clamp({e.bottoms[0]}, 0.0, 6.0)"


@register_emitter("Swish")
def swish(e):
    x = e.bottoms[0]
    return f"{x} * torch.sigmoid({scaled_shifted(x, e.module.beta)})"


# the net's slopes are written (the filler ran when it was built)
declare("pytorch-source", "PReLU", "PReLUParameter", prelu_rules.FIELDS,
        no_effect={"filler": "the net's weights are written"})


@register_emitter("PReLU")
def prelu(e):
    m = e.module
    x = e.bottoms[0]
    attr = e.parameters(weight=e.weight(m.weight, 0))
    slope = f"{attr}.weight"
    trailing = len(e.bottom_shapes[0]) - 2
    if not m.channel_shared and trailing:
        slope = f"{slope}.view{literal((m.channels,) + (1,) * trailing)}"
    return f"torch.where({x} > 0, {x}, {x} * {slope})"


@register_emitter("Tile")
def tile(e):
    reps = [1] * len(e.bottom_shapes[0])
    reps[e.module.axis] = e.module.tiles
    return f"{e.bottoms[0]}.repeat{literal(tuple(reps))}"


@register_emitter("ShuffleChannel")
def shuffle_channel(e):
    x = e.bottoms[0]
    g = e.module.group
    c = e.bottom_shapes[0][1]
    rest = literal(tuple(e.bottom_shapes[0][2:]))[1:-1].rstrip(",")
    shape = f"{x}.shape[0], {g}, {c // g}" + (f", {rest}" if rest else "")
    return f"{x}.reshape({shape}).transpose(1, 2).reshape({x}.shape)"
