"""The layers OpenCV 4's Caffe importer makes of a deploy net (``caffe_importer.cpp``'s
``populateNet``, checked against OpenCV 4.14): which layers there are, their names, ids and
the blobs each one outputs. :class:`caffe_compat.dnn.net.Net` keeps these records beside the
engine net that computes them.

* ``Input`` layers are not layers: their tops are the net's inputs (layer 0, ``_input``);
* a layer name used before gets ``_1``, ``_2``, ... (the count runs over the definition's
  names, Convolution layers included);
* a ``Convolution`` layer is named after its top blob, one layer per bottom / top pair
  (``name: "bw_conv1_1" top: "conv1_1"`` is layer ``conv1_1``); ``ConvolutionDepthwise`` and
  ``Deconvolution`` keep their names (a ``ConvolutionDepthwise`` layer has type
  ``Convolution``);
* a ``Silence`` layer is one of OpenCV's blank layers: its output is its input, so
  ``forward()`` of a net that ends in one returns the blob it silences."""
from __future__ import annotations

import collections

from ..rules.input import opencv_shapes

# types OpenCV's importer reports under another name
OPENCV_TYPES = {"ConvolutionDepthwise": "Convolution"}


def unique_names(layers):
    """The names OpenCV gives repeated layer names: the k-th use of a name (k >= 1) becomes
    ``name_k``."""
    counts, out = collections.Counter(), []
    for lp in layers:
        n = counts[lp.name]
        counts[lp.name] += 1
        out.append(lp.name + (f"_{n}" if n else ""))
    return out


def split_inputs(layers, open_inputs=()):
    """(inputs, {input: shape or None}, body layers, their indices, the Input layers'
    indices) of a filtered definition's ``layers``: an Input layer's tops are inputs (its
    k-th shape for the k-th top, else its first, else none), after ``open_inputs``."""
    inputs = list(open_inputs)
    shapes = dict.fromkeys(inputs)
    body, body_at, inputs_at = [], [], []
    for index, lp in enumerate(layers):
        if lp.type == "Input":
            inputs_at.append(index)
            for top, shape in zip(lp.top, opencv_shapes(lp)):
                inputs.append(top)
                shapes[top] = shape
            continue
        body.append(lp)
        body_at.append(index)
    return inputs, shapes, body, body_at, inputs_at


def opencv_layers(definition, engine):
    """One record per OpenCV layer: ``name`` (OpenCV's), ``caffe_name`` (the engine layer
    computing it), ``type`` (the layer table's), ``class`` (the layer object's), ``tops`` and
    ``engine_bottoms`` (the engine blobs it outputs and reads), ``bottoms`` and ``raw_tops``
    (the definition's blob names). ``definition`` holds the layers with their unique names
    and the definition's blobs; ``engine`` the same layers with every in-place top renamed to
    a blob of its own (bottoms renamed to match)."""
    records = []
    for raw, eng in zip(definition.layer, engine.layer):
        if raw.type == "Convolution" and len(raw.bottom) == len(raw.top):
            for j, top in enumerate(raw.top):
                records.append({"name": top, "caffe_name": eng.name, "type": raw.type,
                                "class": raw.type, "tops": [eng.top[j]],
                                "bottoms": [raw.bottom[j]], "raw_tops": [top],
                                "engine_bottoms": [eng.bottom[j]]})
            continue
        tops = list(eng.top)
        if not tops and raw.type == "Silence":
            tops = list(eng.bottom[:1])          # a blank layer: its input is its output
        kind = OPENCV_TYPES.get(raw.type, raw.type)
        # "class": OpenCV makes a Dropout of Faster R-CNN's fork (scale_train: false) a Power
        records.append({"name": raw.name, "caffe_name": eng.name, "type": kind, "class": "Power"
                        if kind == "Dropout" and not raw.dropout_param.scale_train else kind,
                        "tops": tops, "bottoms": list(raw.bottom), "raw_tops": list(raw.top),
                        "engine_bottoms": list(eng.bottom)})
    return records


def renamed_repeats(weights):
    """The caffemodel's layers with blobs, a repeated name numbered as OpenCV matches them:
    the k-th layer of a name in the definition takes the k-th such layer of the file."""
    if weights is None:
        return None
    names = [lp.name for lp in weights.layer if len(lp.blobs)]
    if len(set(names)) == len(names):
        return weights          # no repeats: nothing to rename (and no copy of the blobs)
    from ..proto import caffe_pb2
    out = caffe_pb2.NetParameter()
    out.CopyFrom(weights)
    with_blobs = [lp for lp in out.layer if len(lp.blobs)]
    for lp, name in zip(with_blobs, unique_names(with_blobs)):
        if name != lp.name:
            lp.name = name
    return out


def in_place_free(param):
    """``param`` with every in-place top renamed to a blob of its own, and the renamed
    consumers; returns (new NetParameter, {layer index: [top blob names]})."""
    from ..proto import caffe_pb2
    out = caffe_pb2.NetParameter()
    out.CopyFrom(param)
    bottoms, tops = in_place_names(param.layer)
    for lp, b, t in zip(out.layer, bottoms, tops):
        lp.bottom[:] = b
        lp.top[:] = t
    return out, dict(enumerate(tops))


def in_place_names(layers):
    """(bottoms, tops) of ``layers`` (anything with ``name``, ``bottom`` and ``top``) with
    every in-place top renamed to a blob of its own (``top#layer``, ``top#layer#k`` where
    that is taken) and its consumers' bottoms renamed to match."""
    current, taken = {}, set()
    for lp in layers:
        taken.update(lp.top)
    bottoms, tops = [], []
    for lp in layers:
        own_bottoms = list(lp.bottom)
        bottoms.append([current.get(b, b) for b in own_bottoms])
        names = []
        for j, t in enumerate(lp.top):
            name = t
            if t in current or (j < len(own_bottoms) and own_bottoms[j] == t):
                k, name = 0, f"{t}#{lp.name}"
                while name in taken:
                    k += 1
                    name = f"{t}#{lp.name}#{k}"
                taken.add(name)
            current[t] = name
            names.append(name)
        tops.append(names)
    return bottoms, tops
