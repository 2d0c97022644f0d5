"""LRN and BatchNorm.

LRN ACROSS_CHANNELS is ``nn.LocalResponseNorm(size, alpha, beta, k)``: torch's module sums the
squares over ``size`` channels zero-padded by ``(size - 1) / 2`` at both ends and divides by
``size``, Caffe's ``padded_square`` rule, for odd sizes (Caffe's only). WITHIN_CHANNEL has the
helper ``lrn_within_channel``.

BatchNorm with global statistics is ``nn.BatchNorm{1,2,3}d(C, eps, affine=False)`` holding
Caffe's ``mean / scale_factor`` and ``variance / scale_factor`` (0 where the factor is 0, as
Caffe) as running statistics, applied by the helper ``batch_norm``: ``(x - mean) / sqrt(var +
eps)`` with Caffe's own eps and Caffe's division (torch's module multiplies by ``1 / sqrt``,
which rounds otherwise: 2e-7 of the scale per layer, enough to move an SSD's softmax past
1e-5); in training mode the helper hands over to torch's module. For
fine-tuning, Caffe's moving average (``moving_average_fraction``, normalised by the accumulated
factor) is torch's ``momentum = 1 - moving_average_fraction`` (the same weights once the first
few steps are past). Without global statistics in the deploy net, the batch's own statistics
(``track_running_stats=False``). ``scale_bias`` (NVIDIA Caffe) is torch's affine weight and bias.
"""
import torch

from ....rules import batch_norm as bn_rules
from ....rules import lrn as lrn_rule_module
from ....rules.fields import ENGINE_FIELD, declare
from ..codegen import literal
from ..registry import register_emitter

declare("pytorch-source", "LRN", "LRNParameter", lrn_rule_module.FIELDS, no_effect=ENGINE_FIELD)
declare("pytorch-source", "BatchNorm", "BatchNormParameter", bn_rules.FIELDS | bn_rules.EXTENSIONS)


@register_emitter("LRN")
def lrn(e):
    m = e.module
    x = e.bottoms[0]
    if m.region == 0:       # ACROSS_CHANNELS
        attr = e.attribute(f"nn.LocalResponseNorm({m.size}, alpha={literal(m.alpha)}, "
                           f"beta={literal(m.beta)}, k={literal(m.k)})")
        return f"{attr}({x})"
    fn = e.helper("lrn_within_channel")
    return f"{fn}({x}, {m.size}, {literal(m.alpha)}, {literal(m.beta)})"


_BN_KIND = {2: "1d", 3: "1d", 4: "2d", 5: "3d"}


@register_emitter("BatchNorm")
def batch_norm(e):
    m = e.module
    ndim = len(e.bottom_shapes[0])
    if ndim not in _BN_KIND:
        e.fail(f"a {ndim}-axis bottom {e.bottom_shapes[0]}: torch's BatchNorm takes 2 to 5")
    args = [str(m.channels), f"eps={literal(m.eps)}", f"momentum={literal(1.0 - m.maf)}"]
    weights, buffers = {}, {}
    if m.scale_bias:
        weights = {"weight": e.weight(m.scale, 3), "bias": e.weight(m.bias, 4)}
    else:
        args.append("affine=False")
    if m.use_global_stats:
        # the statistics divided by the factor as the layer divides them (float32)
        s = m.scale_factor.detach().float()[0]
        factor = torch.where(s == 0, torch.zeros_like(s), 1.0 / s)
        buffers = {"running_mean": m.mean.detach().float() * factor,
                   "running_var": m.variance.detach().float() * factor,
                   "num_batches_tracked": torch.tensor(0, dtype=torch.long)}
    else:
        args.append("track_running_stats=False")
    attr = e.attribute(f"nn.BatchNorm{_BN_KIND[ndim]}({', '.join(args)})", weights, buffers)
    return f"{e.helper('batch_norm')}({e.bottoms[0]}, {attr})"
