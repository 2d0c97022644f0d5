"""LRN across channels: Caffe's LRNLayer ``y = x (k + alpha / n * sum of x^2 over the n
channels centred on c, clipped to the channels) ^ -beta`` (``local_size`` n odd, default 5;
``alpha`` 1, ``beta`` 0.75, ``k`` 1): ONNX's LRN is that formula for odd sizes.
WITHIN_CHANNEL is the torch path's."""
from ._common import Unsupported, register


@register("LRN")
def lrn(g, lp, bottoms, blobs):
    x, = bottoms
    p = lp.lrn_param
    if p.norm_region != 0 or p.local_size % 2 == 0 or len(x.shape) != 4:
        raise Unsupported(f"layer '{lp.name}': norm_region {p.norm_region}, local_size "
                          f"{p.local_size}")
    return [type(x)(g.op("LRN", [x], {"size": int(p.local_size), "alpha": float(p.alpha),
                                      "beta": float(p.beta), "bias": float(p.k)}), x.shape)]
