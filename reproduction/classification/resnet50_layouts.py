"""ResNet-50 caffemodels in the two published layer-naming layouts, checked and brought to the
layout of the per-frame net (``prototxt/resnet50_ferplus_*``, :mod:`.resnet50`).

- ``he``: the names of He et al.'s ``ResNet-50-deploy.prototxt`` (``conv1``, ``bn_conv1``,
  ``scale_conv1``, ``res2a_branch1``, ``bn2a_branch2a``, ``scale2a_branch2a`` ...), those of the
  ImageNet ``ResNet-50-model.caffemodel``; the per-frame net uses them.
- ``vggface2``: the names of VGGFace2's Caffe ResNet-50 models (Cao et al. 2018,
  ``resnet50_ft`` / ``resnet50_scratch``): ``conv1/7x7_s2`` with its BatchNorm
  ``conv1/7x7_s2/bn`` and Scale ``conv1/7x7_s2/bn/scale``; per block ``conv<stage>_<n>_`` +
  ``1x1_reduce``, ``3x3``, ``1x1_increase`` and, in a stage's first block, ``1x1_proj``, each
  with ``/bn`` and ``/bn/scale``; the 8631-way ``classifier``. The net is the same ResNet-50
  (bias-free convolutions each followed by BatchNorm and Scale, the stride 2 on a stage's
  first 1 x 1 convolution and projection), so its layers are renamed one for one
  (:data:`VGGFACE2_TO_HE`, built from the table :data:`_VGGFACE2_PARTS`) and the classifier,
  which the emotion net replaces, is left out.

:func:`prepare_init_weights` reads a caffemodel, finds its layout, checks every layer the
per-frame net takes from it (name, type, blob shapes) and returns a file in the ``he`` layout.
"""
from __future__ import annotations

import os

from ..errors import ReproductionError
from .resnet50 import STAGES

__all__ = ["LAYOUTS", "VGGFACE2_TO_HE", "he_signature", "layout_names", "detect_layout",
           "prepare_init_weights"]

LAYOUTS = ("he", "vggface2")
_LETTERS = "abcdef"
# (VGGFace2 suffix of a block's convolution, He's branch) for every convolution of a block
_VGGFACE2_PARTS = (("1x1_proj", "branch1"), ("1x1_reduce", "branch2a"), ("3x3", "branch2b"),
                   ("1x1_increase", "branch2c"))
# (VGGFace2 suffix after a convolution's name, He's prefix of the layer) for conv, BN, Scale
_VGGFACE2_KINDS = (("", "res"), ("/bn", "bn"), ("/bn/scale", "scale"))


def _blocks():
    """(stage, block index from 1, He's block name, first block of the stage?, width)."""
    for stage, width, blocks, _ in STAGES:
        for b in range(blocks):
            yield stage, b + 1, f"{stage}{_LETTERS[b]}", b == 0, width


def _vggface2_map():
    out = {"conv1/7x7_s2": "conv1", "conv1/7x7_s2/bn": "bn_conv1",
           "conv1/7x7_s2/bn/scale": "scale_conv1"}
    for stage, n, block, first, _ in _blocks():
        for vgg_part, branch in _VGGFACE2_PARTS:
            if branch == "branch1" and not first:
                continue
            for vgg_kind, he_prefix in _VGGFACE2_KINDS:
                out[f"conv{stage}_{n}_{vgg_part}{vgg_kind}"] = f"{he_prefix}{block}_{branch}"
    return out


VGGFACE2_TO_HE = _vggface2_map()


def he_signature():
    """The signature (name, type, blob shapes) of every layer with parameters of ResNet-50's
    body in He's layout, in net order (the per-frame net's layers but its new ``fc_emotion``)."""
    from caffe_compat.net.signature import LayerSignature

    def conv_bn(conv, bn, scale, out, inp, k):
        return [LayerSignature(conv, "Convolution", ((out, inp, k, k),)),
                LayerSignature(bn, "BatchNorm", ((out,), (out,), (1,))),
                LayerSignature(scale, "Scale", ((out,), (out,)))]

    sig = conv_bn("conv1", "bn_conv1", "scale_conv1", 64, 3, 7)
    channels = 64
    for _, _, block, first, width in _blocks():
        def names(branch):
            return f"res{block}_{branch}", f"bn{block}_{branch}", f"scale{block}_{branch}"
        if first:
            sig += conv_bn(*names("branch1"), 4 * width, channels, 1)
        sig += conv_bn(*names("branch2a"), width, channels, 1)
        sig += conv_bn(*names("branch2b"), width, width, 3)
        sig += conv_bn(*names("branch2c"), 4 * width, width, 1)
        channels = 4 * width
    return tuple(sig)


def layout_names(layout):
    """The layer names with parameters a caffemodel of ``layout`` must hold."""
    he = [s.name for s in he_signature()]
    if layout == "he":
        return he
    if layout == "vggface2":
        back = {v: k for k, v in VGGFACE2_TO_HE.items()}
        return [back[n] for n in he]
    raise ValueError(f"layout: expected one of {', '.join(LAYOUTS)}, got {layout!r}")


def detect_layout(names, where):
    """The layout whose every layer is among ``names``; otherwise ReproductionError naming
    ``where`` and the layers missing from the closer layout."""
    have = set(names)
    missing = {layout: [n for n in layout_names(layout) if n not in have] for layout in LAYOUTS}
    for layout in LAYOUTS:
        if not missing[layout]:
            return layout
    closer = min(LAYOUTS, key=lambda lo: len(missing[lo]))
    gone = missing[closer]
    shown = ", ".join(gone[:8]) + (f" and {len(gone) - 8} more" if len(gone) > 8 else "")
    raise ReproductionError(
        f"{where}: not a ResNet-50 caffemodel of a layout the per-frame net loads: of the "
        f"layer names of He et al.'s ResNet-50 (conv1, bn_conv1, res2a_branch1 ...) or of "
        f"VGGFace2's (conv1/7x7_s2, conv2_1_1x1_reduce ...), it is closest to the "
        f"'{closer}' layout but lacks {len(gone)} of its {len(layout_names(closer))} layers: "
        f"{shown}")


def prepare_init_weights(path, folder):
    """Check the caffemodel ``path`` (module doc) and return ``(he_path, layout)``: ``path``
    itself when it is in He's layout, else its layers renamed into ``folder /
    init_he_layout.caffemodel`` (written once). ReproductionError naming the file for a missing
    file, another layout, or a layer of the wrong type or shape."""
    from caffe_compat.errors import CaffeCompatError
    from caffe_compat.io.caffemodel import read_caffemodel, write_caffemodel
    from caffe_compat.net.signature import compare_signatures, layer_signature
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ReproductionError(f"{path}: no such weights file (the ResNet-50 caffemodel to "
                                "start the per-frame net from; a zoo key such as "
                                "resnet50-imagenet takes the fetched file)")
    try:
        net = read_caffemodel(path)
    except CaffeCompatError as e:
        raise ReproductionError(f"{path}: not a readable caffemodel ({e})") from None
    sig = layer_signature(net)
    layout = detect_layout([s.name for s in sig], path)
    rename = {n: n for n in layout_names("he")} if layout == "he" else VGGFACE2_TO_HE
    mapped = tuple(s._replace(name=rename[s.name]) for s in sig if s.name in rename)
    problems, _ = compare_signatures(he_signature(), mapped, "ResNet-50",
                                     f"the file ({layout} layout, He's names)")
    if problems:
        raise ReproductionError(f"{path}: its layers do not fit ResNet-50 ({len(problems)} "
                                "problem(s)):\n  " + "\n  ".join(problems[:10]))
    if layout == "he":
        return path, layout
    out = os.path.join(os.fspath(folder), "init_he_layout.caffemodel")
    if not os.path.isfile(out):
        from caffe_compat.proto import caffe_pb2
        renamed = caffe_pb2.NetParameter(name=net.name or "resnet50")
        for lp in net.layer:
            if lp.name in rename:
                layer = renamed.layer.add(name=rename[lp.name], type=lp.type)
                layer.blobs.extend(lp.blobs)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        write_caffemodel(renamed, out)
    return out, layout
