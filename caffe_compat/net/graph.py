"""The blob graph of a net, as Caffe's Net::Init lays it out.

``filter_net`` keeps the layers whose include/exclude rules a NetState meets (Net::FilterNet).
``build_graph`` takes an upgraded NetParameter and returns the layer list Caffe would run:
layers filtered by the NetState rules (Net::FilterNet), Split layers inserted where one blob feeds
several consumers (util/insert_splits.cpp, same layer and blob names), every layer's phase set,
and the connectivity checked (unknown bottoms, duplicate tops) with errors naming the layer and,
for a net read from text, its ``file:line:column`` (:mod:`caffe_compat.diagnostics.locations`).

The messages come already upgraded from :mod:`caffe_compat.io` (``read_net``, ``parse_net``,
``io.upgrade.upgrade_net``); a net still in a legacy format is refused here."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import locations
from ..errors import NetError
from ..diagnostics.messages import as_message, legacy_net_fields
from ..proto import caffe_pb2
from ..diagnostics.suggest import did_you_mean
from .rules import layer_included


def phase_name(phase):
    """"TRAIN" or "TEST" for any accepted phase spelling."""
    return caffe_pb2.Phase.Name(phase_value(phase))


def phase_value(phase):
    """caffe_pb2.TRAIN / TEST from "TRAIN"/"train"/"TEST"/"test" or the enum value itself."""
    if isinstance(phase, str):
        key = phase.strip().upper()
        if key in ("TRAIN", "TEST"):
            return caffe_pb2.Phase.Value(key)
    elif isinstance(phase, int) and not isinstance(phase, bool) and phase in (
            caffe_pb2.TRAIN, caffe_pb2.TEST):
        return int(phase)
    raise ValueError(f"phase must be 'TRAIN' or 'TEST' (or caffe_pb2.TRAIN/TEST), got {phase!r}")


def filter_net(net_param, phase, level=0, stages=(), source="<string>"):
    """Return the net with only the layers Caffe keeps for this state (Net::FilterNet).

    ``phase`` is "TRAIN"/"TEST" or caffe_pb2.TRAIN/TEST (None keeps the phase of the net's own
    ``state``, default TEST). As Caffe's Net constructor does, ``level`` replaces the state's
    level and ``stages`` are added to the stages the net's ``state`` already lists. The result
    carries that state, and the layer positions of ``net_param`` when it was read from text.
    ``net_param`` must be in the current format (the readers of :mod:`caffe_compat.io` upgrade
    legacy nets)."""
    original = net_param
    net_param = as_message(net_param, caffe_pb2.NetParameter)
    check_upgraded(net_param, locations.file_of(original) or source)
    state = caffe_pb2.NetState()
    state.CopyFrom(net_param.state)
    if phase is not None:
        state.phase = phase_value(phase)
    if isinstance(stages, str):
        stages = (stages,)
    state.stage.extend(stages)
    state.level = int(level)
    out = caffe_pb2.NetParameter()
    for fd, value in net_param.ListFields():
        if fd.name != "layer":
            _set_copy(out, fd, value)
    out.state.CopyFrom(state)
    kept = []
    for i, layer in enumerate(net_param.layer):
        where = source
        if len(layer.include) and len(layer.exclude):      # an error: its position
            positions = locations.source_of(original)
            here = positions.layer(i, original.layer[i]) if positions else None
            where = here.where("exclude") if here else source
        if layer_included(layer, state, i, where):
            out.layer.add().CopyFrom(layer)
            kept.append(i)
    locations.derive(out, original, lambda positions: positions.subset(kept))
    return out


def check_upgraded(net_param, source="<string>"):
    """NetError unless ``net_param`` is in the current format (no V0/V1 ``layers``, no
    top-level ``input`` blobs)."""
    legacy = legacy_net_fields(net_param)
    if legacy:
        raise NetError(f"{source}: the net uses the deprecated field(s) {', '.join(legacy)}; "
                       "upgrade it first with caffe_compat.io.upgrade.upgrade_net (read_net "
                       "and parse_net of caffe_compat.io.prototxt, and Net, do it)")


def _set_copy(message, field, value):
    if field.is_repeated:
        getattr(message, field.name).extend(value)
    elif field.message_type is not None:
        getattr(message, field.name).CopyFrom(value)
    else:
        setattr(message, field.name, value)


def split_layer_name(layer_name, blob_name, blob_idx):
    return f"{blob_name}_{layer_name}_{blob_idx}_split"


def split_blob_name(layer_name, blob_name, blob_idx, split_idx):
    return f"{blob_name}_{layer_name}_{blob_idx}_split_{split_idx}"


def insert_splits(net_param):
    """Caffe's InsertSplits: a Split layer after every top consumed more than once.

    A top with a non-zero explicit ``loss_weight`` counts as one more consumer; the split then
    carries that loss weight on its first output, as Caffe does. A Split layer takes the
    position of the ``top`` it splits."""
    positions = locations.source_of(net_param)
    last_top = {}            # blob name -> (layer index, top index) of its latest producer
    source = {}              # (layer, bottom index) -> (layer, top index)
    consumers = {}           # (layer, top index) -> number of consumers
    loss_weight = {}
    for i, lp in enumerate(net_param.layer):
        for j, name in enumerate(lp.bottom):
            if name not in last_top:
                err = NetError(f"layer '{lp.name}': unknown bottom blob '{name}' (bottom index "
                               f"{j}); no earlier layer produces it"
                               + _hint(name, last_top))
                raise locations.locate(err, locations.layer_source(net_param, i), "bottom", j)
            src = last_top[name]
            source[(i, j)] = src
            consumers[src] = consumers.get(src, 0) + 1
        for j, name in enumerate(lp.top):
            last_top[name] = (i, j)
        for j in range(min(len(lp.loss_weight), len(lp.top))):
            src = last_top[lp.top[j]]
            loss_weight[src] = lp.loss_weight[j]
            if lp.loss_weight[j]:
                consumers[src] = consumers.get(src, 0) + 1

    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    del out.layer[:]
    out_positions = []
    next_split = {}
    for i, lp in enumerate(net_param.layer):
        here = positions and positions.layer(i, net_param.layer[i])
        new = out.layer.add()
        new.CopyFrom(lp)
        out_positions.append(here)
        for j, name in enumerate(lp.bottom):
            src = source[(i, j)]
            if consumers.get(src, 0) > 1:
                k = next_split.get(src, 0)
                next_split[src] = k + 1
                new.bottom[j] = split_blob_name(net_param.layer[src[0]].name, name, src[1], k)
        for j, name in enumerate(lp.top):
            n = consumers.get((i, j), 0)
            if n <= 1:
                continue
            w = loss_weight.get((i, j), 0.0)
            split = out.layer.add()
            split.name = split_layer_name(lp.name, name, j)
            split.type = "Split"
            split.bottom.append(name)
            spots = here.fields.get("top", ()) if here else ()
            out_positions.append(None if here is None else here.renamed(
                split.name, spots[j] if j < len(spots) else None))
            for k in range(n):
                split.top.append(split_blob_name(lp.name, name, j, k))
                if w:
                    split.loss_weight.append(w if k == 0 else 0.0)
            if w:
                del new.loss_weight[:]
                next_split[(i, j)] = next_split.get((i, j), 0) + 1
    if positions is not None:
        locations.attach(out, locations.NetSource(positions.file, out_positions, (),
                                                  positions.fields))
    return out


def _hint(name, known):
    hint = did_you_mean(name, known)
    return f"; {hint}" if hint else ""


@dataclass
class LayerNode:
    """One layer as the net runs it: its (split-renamed) parameter and blob connections."""

    index: int
    param: object
    bottoms: list = field(default_factory=list)
    tops: list = field(default_factory=list)
    source: object = None       # its LayerSource (file, line, column) when read from text

    @property
    def name(self):
        return self.param.name

    @property
    def type(self):
        return self.param.type


@dataclass
class NetGraph:
    """The runnable layer list and the blob bookkeeping of Caffe's Net::Init."""

    name: str
    phase: int
    layers: list
    blob_names: list            # every blob, in order of first production (Caffe's blob order)
    outputs: list               # blobs produced and never consumed, sorted by name (std::set)
    force_backward: bool
    net_param: object           # the filtered, split NetParameter
    filtered: object = None     # the filtered NetParameter before split insertion

    def layer(self, name):
        for node in self.layers:
            if node.name == name:
                return node
        raise KeyError(name)

    def defined_at(self, name):
        """``"file:line:column: "`` of the definition of layer ``name`` (a net read from
        text), else ``""``."""
        for node in self.layers:
            if node.name == name and node.source is not None:
                return f"{node.source.where()}: "
        return ""


def build_graph(net_param, phase="TEST", level=None, stages=None):
    """Filter, split and connect ``net_param`` (already upgraded) for ``phase``."""
    filtered = filter_net(net_param, phase, 0 if level is None else level, stages or ())
    split = insert_splits(filtered)
    positions = locations.source_of(split)
    blob_names, available, layers = [], set(), []
    producer = {}               # blob -> the layer that produced it first
    for i, lp in enumerate(split.layer):
        here = positions and positions.layer(i, split.layer[i])
        if not lp.HasField("phase"):
            lp.phase = filtered.state.phase
        if len(lp.propagate_down) and len(lp.propagate_down) != len(lp.bottom):
            raise locations.locate(NetError(
                f"layer '{lp.name}': propagate_down must be given 0 or {len(lp.bottom)} times "
                f"(once per bottom), got {len(lp.propagate_down)}"), here, "propagate_down")
        for j, name in enumerate(lp.bottom):
            if name not in available:
                raise locations.locate(NetError(
                    f"layer '{lp.name}': bottom blob '{name}' (bottom index {j}) is not "
                    "available: it is produced by no earlier layer or was already consumed"
                    + _hint(name, available)), here, "bottom", j)
            available.discard(name)
        for j, name in enumerate(lp.top):
            in_place = j < len(lp.bottom) and lp.bottom[j] == name
            if not in_place:
                if name in blob_names:
                    first = producer[name]
                    where = f" at {first.source.where()}" if first.source else ""
                    raise locations.locate(NetError(
                        f"layer '{lp.name}': top blob '{name}' is already produced by another "
                        f"layer ('{first.name}'{where}; only in-place reuse of the same bottom "
                        "index is allowed)"), here, "top", j)
                blob_names.append(name)
            available.add(name)
        node = LayerNode(i, lp, list(lp.bottom), list(lp.top), here)
        for name in lp.top:
            producer.setdefault(name, node)
        layers.append(node)
    return NetGraph(name=split.name, phase=filtered.state.phase, layers=layers,
                    blob_names=blob_names, outputs=sorted(available),
                    force_backward=bool(split.force_backward), net_param=split,
                    filtered=filtered)
