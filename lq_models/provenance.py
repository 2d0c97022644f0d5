"""What a CNN+D caffemodel says about the training net it was saved from.

Caffe saves each layer's definition with its blobs, so a snapshot carries its training net's
``param { lr_mult }``: conv lr_mult 0.1 is the joint net (Joint-s, Joint-OA), 0 the non-joint
net (frozen SR layers); 1 is the plain CNN+D training net and also every deploy net, so it
proves nothing. ``identify`` uses this to order its candidates and ``register`` to refuse a
name the file contradicts.
"""
from __future__ import annotations

from .architecture import detect_architecture
from .zoo import entries

__all__ = ["LR_MEANING", "file_lr_mults", "saved_from", "contradiction"]


def file_lr_mults(net_param):
    """``{layer: (lr_mult of each param)}`` stored in a caffemodel's layers with blobs."""
    out = {}
    for lp in net_param.layer:
        if len(lp.blobs) and len(lp.param):
            out[lp.name] = tuple(float(p.lr_mult) if p.HasField("lr_mult") else 1.0
                                 for p in lp.param)
    return out


LR_MEANING = {0.0: "the non-joint training net (frozen SR layers)",
              0.1: "the joint training net", 1.0: "a CNN+D deploy or plain training net"}
# conv1 lr_mult values that only one kind of training net stores (1 is also every deploy net's)
_TELLING_LR = (0.0, 0.1)


def saved_from(net_param):
    """``(conv1 weight lr_mult, what it means)`` stored in a CNN+D caffemodel's layer
    definitions, or None when the file stores none (Caffe saves each layer's ``param`` with its
    blobs, so a snapshot carries its training net's lr_mult)."""
    lr = file_lr_mults(net_param).get("conv1")
    if lr is None:
        return None
    arch = detect_architecture(net_param)
    if arch is None or arch.family != "cnnd":
        return None
    value = round(lr[0], 6)
    return value, LR_MEANING.get(value, f"a net with conv1 lr_mult {value:g}")


def contradiction(entry, net_param):
    """A sentence saying why a CNN+D caffemodel cannot be zoo entry ``entry`` according to the
    lr_mult stored in it (saved from the joint net, named as a model trained otherwise), or
    None. lr_mult 1 proves nothing: deploy nets store it too."""
    found = saved_from(net_param)
    if found is None or found[0] not in _TELLING_LR or entry.architecture != "cnnd":
        return None
    want = entry.train_lr_mults.get("conv1", (None,))[0]
    if want is None or round(want, 6) == found[0]:
        return None
    fits = [e.key for e in entries("cnnd")
            if round(e.train_lr_mults.get("conv1", (-1,))[0], 6) == found[0]]
    return (f"the file stores conv1 lr_mult {found[0]:g}, so it was saved from {found[1]}, "
            f"but '{entry.key}' ({entry.name}) is trained with conv1 lr_mult {want:g}; "
            f"entries saved from that net: {', '.join(fits)}")
