"""Naming a caffemodel: which architecture, which zoo entries; refusing a mismatched prototxt.

``identify(path)`` returns the architecture description and the candidate entries. A file whose
sha256 was registered (``python -m lq_models register W --as KEY``) is named exactly; otherwise
every entry whose layer signature the file matches is a candidate, the ones consistent with the
``lr_mult`` values stored in the file first (Caffe saves each layer's definition with its blobs,
so a snapshot of the joint training net carries conv lr_mult 0.1, the non-joint net 0).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from caffe_compat.io import caffemodel as caffemodel_io
from caffe_compat.net.signature import (IncompatibleWeightsError, compare_signatures,
                                    layer_signature)

from .architecture import PAPER_INPUT, detect_architecture
from .provenance import LR_MEANING, file_lr_mults
from .registry import read_registry
from .zoo import ZooError, entries, get

__all__ = ["Identification", "identify", "check_compatible", "load_net", "set_input_size"]


@dataclass
class Identification:
    """The result of :func:`identify`. Unpacks as ``(architecture, candidates)``."""
    path: str
    sha256: str
    architecture: str
    candidates: tuple
    family: str | None = None
    registered: dict | None = None
    likely: tuple = ()
    notes: list = field(default_factory=list)
    arch: object = None

    def __iter__(self):
        yield self.architecture
        yield self.candidates

    @property
    def exact(self):
        """True when the file's hash is registered, so the one candidate is certain."""
        return self.registered is not None

    def format(self):
        lines = [f"{self.path}", f"  sha256:       {self.sha256}",
                 f"  architecture: {self.architecture}"]
        if self.exact:
            e = self.candidates[0]
            lines.append(f"  model:        {e.key} ({e.name}), registered "
                         f"{self.registered.get('registered', '')}")
        elif self.candidates:
            lines.append(f"  candidates:   {', '.join(e.key for e in self.candidates)}")
            if self.likely and len(self.likely) < len(self.candidates):
                lines.append(f"  most likely:  {', '.join(e.key for e in self.likely)}")
        else:
            lines.append("  candidates:   none")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def identify(caffemodel, registry=None):
    """``(architecture description, candidate entries)`` of a caffemodel, as an
    :class:`Identification` (also: sha256, the registry record, notes)."""
    path = os.fspath(caffemodel)
    data = caffemodel_io.read_binary_file(path, what="caffemodel")
    net_param = caffemodel_io.parse_caffemodel(data, source=path)
    digest = hashlib.sha256(data).hexdigest()
    arch = detect_architecture(net_param)
    sig = layer_signature(net_param)
    notes = []
    description = arch.description if arch else (
        "not a model of the paper: parameter layers "
        + (", ".join(f"{s.name} ({s.type})" for s in sig) or "none"))
    record = read_registry(registry).get(digest)
    if record is not None:
        try:
            entry = get(record["key"])
        except ZooError:
            notes.append(f"registered as '{record['key']}', which this version of the zoo does "
                         "not have")
        else:
            return Identification(path, digest, description, (entry,), arch and arch.family,
                                  record, (entry,), notes, arch)
    candidates = []
    for entry in entries():
        problems, ignored = compare_signatures(entry.signature, sig)
        if not problems and not ignored:
            candidates.append(entry)
    lr = file_lr_mults(net_param).get("conv1")
    likely = candidates
    if lr is not None and arch is not None and arch.family == "cnnd":
        meaning = LR_MEANING.get(round(lr[0], 6))
        if meaning:
            notes.append(f"conv1 lr_mult {lr[0]:g} stored in the file: saved from {meaning}")
        likely = [e for e in candidates if e.train_lr_mults.get("conv1", (None,))[0] == lr[0]]
        if not likely:
            likely = candidates
    ordered = tuple(likely) + tuple(e for e in candidates if e not in likely)
    if arch is not None and not candidates:
        if arch.family == "cnnd":
            notes.append(f"no zoo entry takes this input size: the paper's CNN+D models take "
                         f"{PAPER_INPUT}x{PAPER_INPUT} faces; evaluate it on crops of "
                         f"{arch.input_range[0]} to {arch.input_range[1]} pixels")
        else:
            notes.append("no zoo entry has exactly these layers")
    if len(ordered) > 1:
        notes.append("not registered: the architecture cannot tell these apart; run "
                     f"`python -m lq_models register {path} --as KEY` to name it")
    return Identification(path, digest, description, ordered, arch and arch.family, None,
                          tuple(likely), notes, arch)


def set_input_size(net_param, height, width, batch=None, blob="data"):
    """Set the shape of input ``blob`` of a (copied) NetParameter to (batch, C, height, width)
    as one would edit ``input_dim`` in a deploy file; returns the copy."""
    from caffe_compat.proto import caffe_pb2
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    for lp in out.layer:
        if lp.type == "Input" and blob in lp.top:
            shapes = lp.input_param.shape
            if len(shapes) == 1 and len(lp.top) > 1:
                for _ in range(len(lp.top) - 1):
                    shapes.add().CopyFrom(shapes[0])
            dims = shapes[list(lp.top).index(blob)].dim
            if len(dims) != 4:
                raise ZooError(f"net '{out.name}': input '{blob}' has {len(dims)} axes, "
                               "expected 4 (N, C, H, W)")
            if batch is not None:
                dims[0] = int(batch)
            dims[2], dims[3] = int(height), int(width)
            return out
    raise ZooError(f"net '{out.name}' has no Input layer producing '{blob}'")


def _describe_file(weights):
    try:
        arch = detect_architecture(weights)
    except Exception:  # noqa: BLE001 - only used to enrich an error message
        return None
    return arch


def check_compatible(model, weights, phase="test", name=None):
    """Raise IncompatibleWeightsError (listing every mismatched layer and blob, and what each
    side is) unless net ``model`` (prototxt path or Net) can load ``weights`` completely.
    Returns the file's layers the net ignores (e.g. the SR-FCN's conv4). ``weights``: path or
    NetParameter (``name`` labels it in messages)."""
    import caffe_compat
    from caffe_compat.net.signature import check_compatible as _check
    net = model if isinstance(model, caffe_compat.Net) else caffe_compat.Net(model, phase=phase)
    try:
        return _check(net, weights, name=name)
    except IncompatibleWeightsError as e:
        arch_w = _describe_file(weights)
        arch_n = detect_architecture(net)
        unknown = "not a model of the paper"
        extra = [f"the weights are: {arch_w.description if arch_w else unknown}",
                 f"the net is:      {arch_n.description if arch_n else unknown}"]
        if arch_w and arch_n and arch_w.family == arch_n.family == "cnnd" and \
                arch_w.pool3 != arch_n.pool3:
            lo, hi = arch_w.input_range
            extra.append(f"the weights need inputs of {lo}x{lo} to {hi}x{hi}: set the net's "
                         "input size accordingly")
        raise IncompatibleWeightsError(str(e) + "\n" + "\n".join(extra), e.problems) from None


def load_net(weights, model=None, input_size=None, batch=None):
    """A test-phase :class:`caffe_compat.Net` with ``weights`` loaded and checked.

    ``model``: deploy prototxt path, a zoo key, or None for the zoo's deploy net of the
    weights' architecture. ``input_size``: (H, W) to set on the 'data' input (as editing
    ``input_dim``), e.g. the crops' size; ``batch`` likewise for the first axis.
    """
    import caffe_compat
    from caffe_compat.net.core import load_net_param
    label = os.fspath(weights)
    weights = caffemodel_io.read_caffemodel(label)
    if model is None:
        arch = detect_architecture(weights)
        if arch is None:
            raise ZooError(f"{label}: not a CNN+D or SR-FCN caffemodel of the paper, so no "
                           "deploy net can be chosen for it; pass the deploy prototxt (--model)")
        model = get("hr" if arch.family == "cnnd" else "srfcn-3").deploy_path
    elif not os.path.exists(os.fspath(model)) and str(model).lower() in {e.key for e in entries()}:
        model = get(model).deploy_path
    source = os.fspath(model)
    net_param = load_net_param(source)
    if input_size is not None or batch is not None:
        if input_size is None:
            net = caffe_compat.Net(net_param, phase="test")
            input_size = net.blob_shape("data")[2:]
        net_param = set_input_size(net_param, *input_size, batch=batch)
    try:
        net = caffe_compat.Net(net_param, phase="test")
    except caffe_compat.CaffeCompatError as e:
        raise type(e)(f"{source}: {e}") from None
    net.source = source
    check_compatible(net, weights, name=label)
    net.copy_from(weights)
    net.eval()
    return net
