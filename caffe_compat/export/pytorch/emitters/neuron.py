"""Element-wise layers: ReLU (leaky with ``negative_slope``), Power, Dropout (Sigmoid and TanH
are in :mod:`.elementwise`).

Power is ``(shift + scale x)^power`` (a constant when ``power * scale`` is 0, as
Caffe's forward); Dropout is ``nn.Dropout`` (identity in eval mode, Caffe's TEST; in training
Caffe's ``1 / (1 - ratio)`` scaling, as torch's).
"""
from ..codegen import literal
from ..registry import register_emitter
from .elementwise import scaled_shifted
from ....rules import dropout as dropout_rules, power as power_rules
from ....rules.fields import ENGINE_FIELD, declare

# the layers' values come from the torch layers, which read the rules
declare("pytorch-source", "Sigmoid", "SigmoidParameter", (), no_effect=ENGINE_FIELD)
declare("pytorch-source", "TanH", "TanHParameter", (), no_effect=ENGINE_FIELD)
declare("pytorch-source", "Power", "PowerParameter", power_rules.FIELDS)
declare("pytorch-source", "ReLU", "ReLUParameter", {"negative_slope"}, no_effect=ENGINE_FIELD)
declare("pytorch-source", "Dropout", "DropoutParameter", dropout_rules.FIELDS)


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
