"""The file tools behind ``caffe-compat inspect | upgrade | convert``.

- ``inspect``: what a caffemodel holds (layers, blob shapes, parameter counts) and, when the model
  zoo recognises it, which architecture it is; for a net definition (or a caffemodel with its
  deploy net), every layer's top shapes, parameters, FLOPs and Caffe's memory count.
- ``upgrade``: a legacy prototxt (V0/V1 layers, ``input_dim``, ``blobs_lr``...) rewritten in the
  current format, like Caffe's ``upgrade_net_proto_text``.
- ``convert``: caffemodel -> PyTorch state_dict file (keys ``<layer>.<blob name>``), and back.
"""
from __future__ import annotations

import os

import torch

from ..errors import CaffeCompatError, WeightsError
from ..io import caffemodel as caffemodel_io
from ..io import prototxt as prototxt_io
from ..io.atomic import atomic_path
from ..layers import registry


def _blob_names(layer_type, n):
    try:
        return registry.layer_class(layer_type).names_of_blobs(n)
    except CaffeCompatError:
        return [f"blob{i}" for i in range(n)]


def caffemodel_summary(path, max_bytes=None):
    """Dict describing a caffemodel: net name, and per layer its type, blob shapes, counts."""
    net = caffemodel_io.read_caffemodel(path, max_bytes)
    layers = [{"name": name, "type": kind, "blobs": [tuple(a.shape) for a in arrays],
               "dtypes": [str(a.dtype) for a in arrays],
               "count": int(sum(a.size for a in arrays))}
              for name, kind, arrays in caffemodel_io.layer_blobs(net)]
    return {"path": os.fspath(path), "name": net.name, "layers": layers,
            "parameters": int(sum(l["count"] for l in layers)), "net_param": net}


def format_summary(summary, architecture=None):
    """The human-readable report printed by ``caffe-compat inspect``."""
    layers = summary["layers"]
    with_blobs = [l for l in layers if l["blobs"]]
    total = summary["parameters"]
    lines = [f"{summary['path']}: net '{summary['name']}', {len(layers)} layers "
             f"({len(with_blobs)} with parameters), {total:,} parameters "
             f"({total * 4 / 2**20:.1f} MiB as float32)"]
    width = max([len(l["name"]) for l in layers] + [5])
    twidth = max([len(l["type"]) for l in layers] + [4])
    lines.append(f"  {'layer':<{width}}  {'type':<{twidth}}  blobs")
    for l in layers:
        shapes = "  ".join("x".join(str(d) for d in s) or "scalar" for s in l["blobs"]) or "-"
        count = f"  ({l['count']:,})" if l["blobs"] else ""
        lines.append(f"  {l['name']:<{width}}  {l['type']:<{twidth}}  {shapes}{count}")
    if architecture is not None:
        lines.append(f"detected architecture: {architecture}")
    return "\n".join(lines)


def upgrade_prototxt(src, dst=None):
    """Caffe's upgrade_net_proto_text: read a (legacy) net, write it in the current format.

    Returns the upgraded text; writes it atomically to ``dst`` when given.
    """
    net = prototxt_io.read_net(src)
    text = prototxt_io.to_text(net)
    if dst is not None:
        prototxt_io.write_prototxt(net, dst)
    return text


def upgrade_solver_prototxt(src, dst):
    """Caffe's upgrade_solver_proto_text: a solver in the current format written atomically to
    ``dst``; returns whether anything was upgraded (the ``solver_type`` enum)."""
    from ..io import upgrade as upgrade_io
    text = prototxt_io.read_text_file(src, "solver")
    raw = prototxt_io.parse_solver(text, os.fspath(src), upgrade=False)
    needed = upgrade_io.solver_needs_upgrade(raw)
    solver = prototxt_io.parse_solver(text, os.fspath(src)) if needed else raw
    prototxt_io.write_prototxt(solver, dst)
    return needed


def caffemodel_to_state_dict(path, max_bytes=None):
    """A plain PyTorch state_dict (``"<layer>.<blob name>"`` -> tensor) from a caffemodel.

    Blob names come from the layer type (``weight``/``bias`` for Convolution, ``mean``,
    ``variance``, ``scale_factor`` for BatchNorm, ...), ``blob<i>`` for unknown types.
    """
    net = caffemodel_io.read_caffemodel(path, max_bytes)
    out = {}
    for name, kind, arrays in caffemodel_io.layer_blobs(net):
        for blob_name, arr in zip(_blob_names(kind, len(arrays)), arrays):
            key = f"{name}.{blob_name}"
            if key in out:
                raise WeightsError(f"{path}: two layers named '{name}' hold blobs; the "
                                   "state_dict keys would collide")
            out[key] = torch.from_numpy(arr.copy())
    return out


def net_report(model, phase="TEST", weights=None, source=None):
    """The per-layer table of a net definition (``model``: a prototxt path or NetParameter)
    built in ``phase``: blob shapes, parameter counts, FLOPs and Caffe's memory count
    (:func:`caffe_compat.net.summary.format_net_summary`)."""
    from ..net.core import Net
    from ..net.summary import format_net_summary
    net = Net(model, weights=weights, phase=str(phase).lower())
    return format_net_summary(net, source=source)


def stored_phase(net_param):
    """The phase a caffemodel's net was built in (``"TRAIN"``, ``"TEST"``), None where its
    layers do not say one. Caffe's Net::Init gives every layer the net's phase
    (``layer_param.set_phase``) before it filters them, and Net::ToProto stores the layers it
    kept with that field: a training snapshot's layers say TRAIN, and its data layers are the
    TRAIN phase's (``include { phase: TRAIN }``), which a TEST build would drop."""
    from ..proto import caffe_pb2
    phases = {layer.phase for layer in net_param.layer if layer.HasField("phase")}
    return caffe_pb2.Phase.Name(phases.pop()) if len(phases) == 1 else None


def caffemodel_net_report(summary, model=None, phase=None):
    """Per-layer FLOPs of a caffemodel's net: built from ``model`` (a deploy prototxt) in
    ``phase`` (default TEST) or, without one, from the net definition stored in the caffemodel,
    in ``phase`` or by default the phase its layers were built in (:func:`stored_phase`); a
    line saying what to give when the stored net cannot be built (its data layers read files
    that are not there, say)."""
    try:
        if model:
            return net_report(model, phase or "TEST", source=model)
        stored = type(summary["net_param"])()
        stored.CopyFrom(summary["net_param"])
        for layer in stored.layer:
            del layer.blobs[:]
        built = phase or stored_phase(stored) or "TEST"
        return net_report(stored, built, source="the net stored in the caffemodel")
    except CaffeCompatError as e:
        if model:
            raise
        first = str(e).splitlines()[0]
        return (f"per-layer FLOPs and blob shapes need the net's input shapes: give the deploy "
                f"net with -model (the stored net cannot be built here: {first})")


def save_state_dict(state_dict, path):
    """torch.save ``state_dict`` atomically."""
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state_dict, tmp)


def load_state_dict_file(path):
    """A state_dict saved by :func:`save_state_dict` (tensors only; no code is unpickled)."""
    try:
        sd = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such state_dict file") from None
    except Exception as e:  # torch raises several types for a damaged or foreign file
        raise WeightsError(f"{path}: not a PyTorch state_dict file ({e})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsError(f"{path}: expected a dict of tensors (a state_dict)")
    return sd


def state_dict_to_caffemodel(state_dict, model, dst, phase="test"):
    """Write a caffemodel for net definition ``model`` with the parameters of ``state_dict``."""
    from ..net.core import Net
    net = Net(model, phase=phase)
    own = net.caffe_state_dict()
    # A state_dict read from a legacy caffemodel keeps its 4-D num/channels/height/width
    # shapes; take them where Caffe's Blob::ShapeEquals would (dims aligned from the end).
    fitted = {}
    for key, value in state_dict.items():
        target = tuple(own[key].shape) if key in own else None
        if target is not None and len(target) < 4 and len(value.shape) == 4 and \
                tuple(value.shape) == (1,) * (4 - len(target)) + target:
            value = value.reshape(target)
        fitted[key] = value
    net.load_caffe_state_dict(fitted, strict=True)
    net.save(dst)
    return net
