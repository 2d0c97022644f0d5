"""Bring legacy Caffe definitions up to the current format, and select layers by net state.

The rules are those of Caffe 1.0 (``upgrade_proto.cpp`` and ``Net::FilterNet``):

* V0 nets (``layers { layer { type: "conv" ... } }``) become V1 nets, padding layers folded
  into the convolution/pooling they feed;
* deprecated data-layer fields (scale, mean_file, crop_size, mirror) move into
  ``transform_param``;
* V1 ``layers`` with enum types become ``layer`` entries with type strings, ``blobs_lr`` and
  ``weight_decay`` become ``ParamSpec.lr_mult`` / ``decay_mult``;
* top-level ``input`` / ``input_dim`` / ``input_shape`` become one ``Input`` layer named
  "input" placed first;
* BatchNorm layers with the three old ``param`` entries keep them (names and all) with
  ``lr_mult`` and ``decay_mult`` set to 0 (``UpgradeNetBatchNorm``);
* solvers: the ``solver_type`` enum becomes the ``type`` string; an unset ``snapshot_prefix``
  is derived from the solver file name.

Functions return new messages; their inputs are left unchanged. Problems Caffe treats as fatal
raise :class:`~caffe_compat.errors.NetError` / :class:`~caffe_compat.errors.SolverError`;
problems Caffe only logs ("continuing anyway") are reported with :class:`UpgradeWarning`."""
import os
import warnings

from caffe_compat.diagnostics import locations, stack
from caffe_compat.errors import NetError, SolverError
from caffe_compat.diagnostics.messages import (  # noqa: F401 (as_message: also imported from here)
    as_message, info)
from caffe_compat.proto import caffe_pb2

_V1 = caffe_pb2.V1LayerParameter


class UpgradeWarning(UserWarning):
    """An upgrade that Caffe completes with logged errors: some settings were dropped."""


_IO_DIR = os.path.dirname(os.path.abspath(__file__))


def caller_stacklevel():
    """The ``stacklevel`` that points a warning at the first caller outside caffe_compat.io,
    for a ``warnings.warn`` in the function calling this (less this function's own frame)."""
    return stack.caller_stacklevel(_IO_DIR) - 1


# V1 enum layer type -> current type string: the enum's name is the string upper-cased, its
# words joined by '_' (NONE, no type, and SOFTMAX_LOSS, SoftmaxWithLoss, aside).
_V1_BY_NAME = {name.replace("_", ""): value for name, value in _V1.LayerType.items()}
V1_LAYER_TYPE_NAMES = {_V1.NONE: "", _V1.SOFTMAX_LOSS: "SoftmaxWithLoss", **{
    _V1_BY_NAME[name.upper()]: name for name in (
        "AbsVal Accuracy ArgMax BNLL Concat ContrastiveLoss Convolution Deconvolution Data "
        "Dropout DummyData EuclideanLoss Eltwise Exp Flatten HDF5Data HDF5Output HingeLoss "
        "Im2col ImageData InfogainLoss InnerProduct LRN MemoryData MultinomialLogisticLoss MVN "
        "Pooling Power ReLU Sigmoid SigmoidCrossEntropyLoss Silence Softmax Split Slice TanH "
        "WindowData Threshold").split()}}

# V0 lower-case layer type -> V1 enum type: the enum named as the type upper-cased, but for
# four names.
_V0_RENAMED = {"conv": "CONVOLUTION", "images": "IMAGE_DATA", "innerproduct": "INNER_PRODUCT",
               "pool": "POOLING"}
V0_LAYER_TYPES = {name: _V1.LayerType.Value(_V0_RENAMED.get(name, name.upper())) for name in (
    "accuracy bnll concat conv data dropout euclidean_loss flatten hdf5_data hdf5_output im2col "
    "images infogain_loss innerproduct lrn multinomial_logistic_loss pool relu sigmoid softmax "
    "softmax_loss split tanh window_data").split()}

# V0 field -> {V0 layer type: (V1 sub-message, field there)}. A V0 field set on a layer type
# missing from its table is dropped with a warning, as Caffe does.
_V0_PARAMS = {"conv": "convolution_param", "innerproduct": "inner_product_param",
              "pool": "pooling_param", "dropout": "dropout_param", "lrn": "lrn_param",
              "data": "data_param", "hdf5_data": "hdf5_data_param", "images": "image_data_param",
              "window_data": "window_data_param", "infogain_loss": "infogain_loss_param",
              "concat": "concat_param", "hdf5_output": "hdf5_output_param"}
_V0_ROUTES = {field: {kind: (_V0_PARAMS[kind], target) for kind in kinds.split()}
              for field, kinds, target in (
    ("num_output", "conv innerproduct", "num_output"),
    ("biasterm", "conv innerproduct", "bias_term"),
    ("weight_filler", "conv innerproduct", "weight_filler"),
    ("bias_filler", "conv innerproduct", "bias_filler"),
    ("pad", "conv pool", "pad"), ("kernelsize", "conv pool", "kernel_size"),
    ("group", "conv", "group"), ("stride", "conv pool", "stride"), ("pool", "pool", "pool"),
    ("dropout_ratio", "dropout", "dropout_ratio"), ("local_size", "lrn", "local_size"),
    ("alpha", "lrn", "alpha"), ("beta", "lrn", "beta"), ("k", "lrn", "k"),
    ("source", "data hdf5_data images window_data infogain_loss", "source"),
    ("batchsize", "data hdf5_data images window_data", "batch_size"),
    ("rand_skip", "data images", "rand_skip"), ("shuffle_images", "images", "shuffle"),
    ("new_height", "images", "new_height"), ("new_width", "images", "new_width"),
    ("concat_dim", "concat", "concat_dim"),
    ("det_fg_threshold", "window_data", "fg_threshold"),
    ("det_bg_threshold", "window_data", "bg_threshold"),
    ("det_fg_fraction", "window_data", "fg_fraction"),
    ("det_context_pad", "window_data", "context_pad"),
    ("det_crop_mode", "window_data", "crop_mode"),
    ("hdf5_output_param", "hdf5_output", None))}

# V0 fields that go to transform_param whatever the layer type.
_V0_TRANSFORM = (("scale", "scale"), ("meanfile", "mean_file"), ("cropsize", "crop_size"),
                 ("mirror", "mirror"))

# V1 data layers whose deprecated fields move into transform_param.
_DATA_UPGRADE = ((_V1.DATA, "data_param"), (_V1.IMAGE_DATA, "image_data_param"),
                 (_V1.WINDOW_DATA, "window_data_param"))
_TRANSFORM_FIELDS = ("scale", "mean_file", "crop_size", "mirror")

# Per-type settings a V1 layer may carry; copied unchanged into the new layer.
_V1_PARAM_FIELDS = (
    "accuracy_param", "argmax_param", "concat_param", "contrastive_loss_param",
    "convolution_param", "data_param", "dropout_param", "dummy_data_param", "eltwise_param",
    "exp_param", "hdf5_data_param", "hdf5_output_param", "hinge_loss_param", "image_data_param",
    "infogain_loss_param", "inner_product_param", "lrn_param", "memory_data_param",
    "mvn_param", "pooling_param", "power_param", "relu_param", "sigmoid_param",
    "softmax_param", "slice_param", "tanh_param", "threshold_param", "window_data_param",
    "transform_param", "loss_param",
)

_SOLVER_TYPE_NAMES = {caffe_pb2.SolverParameter.SolverType.Value(name.upper()): name
                      for name in ("SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam")}


# --------------------------------------------------------------------------------------------
# What needs upgrading

def net_needs_v0_upgrade(net_param):
    """True if any V1 layer wraps a V0 layer definition."""
    return any(layer.HasField("layer") for layer in net_param.layers)


def net_needs_v1_upgrade(net_param):
    """True if the net uses the deprecated ``layers`` (V1) field."""
    return len(net_param.layers) > 0


def _deprecated_data_fields(net_param):
    """(layer, its data parameters, field name) of each of scale/mean_file/crop_size/mirror
    that a V1 data layer still sets in its own parameters."""
    for layer in net_param.layers:
        for layer_type, field in _DATA_UPGRADE:
            if layer.type == layer_type:
                sub = getattr(layer, field)
                yield from ((layer, sub, name) for name in _TRANSFORM_FIELDS if sub.HasField(name))


def net_needs_data_upgrade(net_param):
    """True if a V1 data layer still sets scale/mean_file/crop_size/mirror in its own params."""
    return next(_deprecated_data_fields(net_param), None) is not None


def net_needs_input_upgrade(net_param):
    """True if the net declares top-level ``input`` blobs."""
    return len(net_param.input) > 0


def net_needs_batchnorm_upgrade(net_param):
    """True if a BatchNorm layer declares the three ``param`` entries of the old definition."""
    return any(layer.type == "BatchNorm" and len(layer.param) == 3 for layer in net_param.layer)


def net_needs_upgrade(net_param):
    """True if :func:`upgrade_net` would change anything."""
    return (net_needs_v0_upgrade(net_param) or net_needs_v1_upgrade(net_param)
            or net_needs_data_upgrade(net_param) or net_needs_input_upgrade(net_param)
            or net_needs_batchnorm_upgrade(net_param))


# --------------------------------------------------------------------------------------------
# Net upgrade

def upgrade_net(net_param, source="<string>", *, in_place=False):
    """Return ``net_param`` upgraded to the current format (a new NetParameter).

    ``source`` names the file in messages. Raises NetError where Caffe would abort; emits
    UpgradeWarning where Caffe logs a problem and continues. ``in_place``: a NetParameter
    that the caller owns is upgraded where it is rather than copied (the readers' freshly
    parsed messages: copying a caffemodel's blobs cost as much as parsing them)."""
    if in_place and isinstance(net_param, caffe_pb2.NetParameter):
        net = net_param
    else:
        net = as_message(net_param, caffe_pb2.NetParameter)
    if not net_needs_upgrade(net):
        # nothing to upgrade: the positions, when asked for, are the original's
        if net is not net_param:
            names = [lp.name for lp in net.layer]
            locations.derive(net, net_param,
                             lambda positions: _renamed_positions(positions, names))
        return net
    positions = locations.source_of(net_param)
    at = _Places(source, positions)
    kept = ([i for i, c in enumerate(net.layers) if c.layer.type != "padding"]
            if len(net.layers) else None)
    if net_needs_v0_upgrade(net):
        info(__name__, "%s: upgrading V0 layer definitions", source)
        net = _upgrade_v0_net(net, source, at)
    if net_needs_data_upgrade(net):
        info(__name__, "%s: moving deprecated data-layer fields into transform_param", source)
        _upgrade_data_transformation(net)
    if net_needs_v1_upgrade(net):
        info(__name__, "%s: upgrading V1 'layers' to 'layer'", source)
        net = _upgrade_v1_net(net, source, at)
    if net_needs_input_upgrade(net):
        info(__name__, "%s: turning the 'input' fields into an Input layer", source)
        _upgrade_input(net, source, at)
    if net_needs_batchnorm_upgrade(net):
        info(__name__, "%s: BatchNorm's 'param' entries get lr_mult 0, decay_mult 0", source)
        _upgrade_batchnorm(net)
    if positions is not None:
        locations.attach(net, _upgraded_positions(positions, kept, net))
    return net


class _Places:
    """``file:line:column`` of the entries of the net being upgraded (just the file name when
    the net was not read from text)."""

    def __init__(self, source, positions):
        self.source, self.positions = source, positions

    def legacy(self, index):
        p = self.positions
        if p is None or not 0 <= index < len(p.legacy_layers) or p.legacy_layers[index] is None:
            return self.source
        return p.legacy_layers[index].where()

    def field(self, name):
        return self.source if self.positions is None else self.positions.where(name)


def _renamed_positions(positions, names):
    """The positions of a copy whose layers have ``names`` (nothing was upgraded)."""
    if len(positions.layers) != len(names) or any(b is None for b in positions.layers):
        return None
    return locations.NetSource(positions.file, [b.renamed(n) for b, n in
                                                zip(positions.layers, names)], (),
                               positions.fields)


def _upgraded_positions(positions, kept, net):
    """The positions of the upgraded ``net``'s layers: legacy entries (V0 padding layers
    dropped) or the ``layer`` entries, after the Input layer made of the ``input`` fields."""
    if kept is not None:
        base = [positions.legacy_layers[i] for i in kept]
    else:
        base = list(positions.layers)
    if len(net.layer) == len(base) + 1:
        spots = positions.fields.get("input", [])
        line, column = spots[0] if spots else (0, 0)
        shape = positions.fields.get("input_shape") or positions.fields.get("input_dim") or []
        base.insert(0, locations.LayerSource(positions.file, line, column, "input",
                                             {"top": spots, "input_param.shape": shape}))
    if len(base) != len(net.layer) or any(b is None for b in base):
        return None
    return locations.NetSource(positions.file,
                               [b.renamed(lp.name) for b, lp in zip(base, net.layer)], (),
                               positions.fields)


def _hint(word, names):
    from caffe_compat.diagnostics.suggest import did_you_mean
    hint = did_you_mean(word, names)
    return f"; {hint}" if hint else ""


def _warn(source, problems, what):
    if problems:
        warnings.warn(f"{source}: {what}; continuing without them:\n  " + "\n  ".join(problems),
                      UpgradeWarning, stacklevel=caller_stacklevel())


def _upgrade_v0_net(net_param, source, at):
    padded = _fold_v0_padding_layers(net_param, source, at)
    out = caffe_pb2.NetParameter()
    # Caffe keeps only these net-level fields when leaving V0.
    if padded.HasField("name"):
        out.name = padded.name
    problems = []
    kept = [i for i, c in enumerate(net_param.layers) if c.layer.type != "padding"]
    for i, connection in enumerate(padded.layers):
        _upgrade_v0_layer(connection, out.layers.add(), i, at.legacy(kept[i]), problems)
    out.input.extend(padded.input)
    out.input_dim.extend(padded.input_dim)
    if padded.HasField("force_backward"):
        out.force_backward = padded.force_backward
    _warn(source, problems, "V0 settings that do not apply to their layer type were dropped")
    return out


def _fold_v0_padding_layers(net_param, source, at):
    """Drop V0 "padding" layers, moving their pad into the conv/pool layer they feed."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    out.ClearField("layers")
    last_producer = {name: -1 for name in net_param.input}
    for i, connection in enumerate(net_param.layers):
        v0 = connection.layer
        if v0.type != "padding":
            out.layers.add().CopyFrom(connection)
        for j, blob in enumerate(connection.bottom):
            if blob not in last_producer:
                raise NetError(f"{at.legacy(i)}: V0 layer {i} ('{v0.name}') takes unknown "
                               f"blob '{blob}' as input")
            producer = last_producer[blob]
            if producer == -1:
                continue
            pad_layer = net_param.layers[producer]
            if pad_layer.layer.type != "padding":
                continue
            if v0.type not in ("conv", "pool"):
                raise NetError(f"{at.legacy(i)}: V0 padding layer '{pad_layer.layer.name}' "
                               f"feeds layer '{v0.name}' of type '{v0.type}'; only conv and "
                               "pool layers can take padded input")
            if len(connection.bottom) != 1:
                raise NetError(f"{at.legacy(i)}: V0 layer '{v0.name}' takes padded input, so "
                               "it must have exactly one bottom")
            if len(pad_layer.bottom) != 1 or len(pad_layer.top) != 1:
                raise NetError(f"{at.legacy(producer)}: V0 padding layer "
                               f"'{pad_layer.layer.name}' must have exactly one bottom and one "
                               "top")
            target = out.layers[len(out.layers) - 1]
            target.layer.pad = pad_layer.layer.pad
            target.bottom[j] = pad_layer.bottom[0]
        for blob in connection.top:
            last_producer[blob] = i
    return out


def _set_field(message, field, value):
    descriptor = message.DESCRIPTOR.fields_by_name[field]
    if descriptor.is_repeated:
        getattr(message, field).append(value)
    elif descriptor.message_type is not None:
        getattr(message, field).CopyFrom(value)
    else:
        setattr(message, field, value)


def _upgrade_v0_layer(connection, out, index, source, problems):
    out.bottom.extend(connection.bottom)
    out.top.extend(connection.top)
    if not connection.HasField("layer"):
        return
    v0 = connection.layer
    kind = v0.type
    if v0.HasField("name"):
        out.name = v0.name
    if v0.HasField("type"):
        if kind not in V0_LAYER_TYPES:
            raise NetError(f"{source}: V0 layer {index} ('{v0.name}') has unknown type '{kind}'"
                           + _hint(kind, V0_LAYER_TYPES))
        out.type = V0_LAYER_TYPES[kind]
    for field in ("blobs", "blobs_lr", "weight_decay"):
        getattr(out, field).extend(getattr(v0, field))
    for field, routes in _V0_ROUTES.items():
        if not v0.HasField(field):
            continue
        if kind not in routes:
            problems.append(f"layer '{v0.name}': '{field}' does not apply to type '{kind}'")
            continue
        sub_name, target = routes[kind]
        value = getattr(v0, field)
        if target is None:
            getattr(out, sub_name).CopyFrom(value)
        else:
            _set_field(getattr(out, sub_name), target, value)
    for field, target in _V0_TRANSFORM:
        if v0.HasField(field):
            setattr(out.transform_param, target, getattr(v0, field))


def _upgrade_data_transformation(net_param):
    for layer, sub, name in list(_deprecated_data_fields(net_param)):
        setattr(layer.transform_param, name, getattr(sub, name))
        sub.ClearField(name)


def _upgrade_v1_net(net_param, source, at):
    if len(net_param.layer):
        raise NetError(f"{at.legacy(0)}: the net has both 'layer' and deprecated 'layers' "
                       "entries; Caffe refuses to upgrade such a mix. Rewrite the 'layers { type: "
                       "ENUM }' entries as 'layer { type: \"Name\" }'")
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    out.ClearField("layers")
    problems = []
    for i, v1 in enumerate(net_param.layers):
        _upgrade_v1_layer(v1, out.layer.add(), i, problems)
    _warn(source, problems, "parts of V1 layers could not be upgraded")
    return out


def _param_spec(layer, index):
    while len(layer.param) <= index:
        layer.param.add()
    return layer.param[index]


def _upgrade_v1_layer(v1, layer, index, problems):
    for field in ("bottom", "top", "include", "exclude", "blobs", "loss_weight"):
        getattr(layer, field).extend(getattr(v1, field))
    if v1.HasField("name"):
        layer.name = v1.name
    if v1.HasField("type"):
        layer.type = V1_LAYER_TYPE_NAMES[v1.type]
    # (the two DimCheckMode enums have the same values)
    for field, values in (("name", v1.param), ("share_mode", v1.blob_share_mode),
                          ("lr_mult", v1.blobs_lr), ("decay_mult", v1.weight_decay)):
        for i, value in enumerate(values):
            setattr(_param_spec(layer, i), field, value)
    for field in _V1_PARAM_FIELDS:
        if v1.HasField(field):
            getattr(layer, field).CopyFrom(getattr(v1, field))
    if v1.HasField("layer"):
        problems.append(f"layer {index} ('{v1.name}') also holds a V0 definition; it was ignored")


def _upgrade_input(net_param, source, at):
    names = list(net_param.input)
    shapes = []
    if len(net_param.input_shape):
        if len(net_param.input_shape) < len(names):
            raise NetError(f"{at.field('input_shape')}: {len(names)} inputs but only "
                           f"{len(net_param.input_shape)} input_shape entries")
        shapes = [list(net_param.input_shape[i].dim) for i in range(len(names))]
    elif len(net_param.input_dim):
        dims = list(net_param.input_dim)
        if len(dims) < 4 * len(names):
            raise NetError(f"{at.field('input_dim')}: {len(names)} inputs need "
                           f"{4 * len(names)} input_dim values (4 per input), the net has "
                           f"{len(dims)}")
        if len(dims) > 4 * len(names):
            warnings.warn(f"{at.field('input_dim')}: {len(dims)} input_dim values for "
                          f"{len(names)} inputs; the last {len(dims) - 4 * len(names)} are "
                          "ignored", UpgradeWarning, stacklevel=caller_stacklevel())
        shapes = [dims[4 * i:4 * i + 4] for i in range(len(names))]
    if shapes:
        # Input layer first, so every later layer finds its bottoms.
        kept = caffe_pb2.NetParameter()
        kept.layer.extend(net_param.layer)
        net_param.ClearField("layer")
        input_layer = net_param.layer.add()
        input_layer.name = "input"
        input_layer.type = "Input"
        input_layer.top.extend(names)
        for dims in shapes:
            input_layer.input_param.shape.add().dim.extend(dims)
        net_param.layer.extend(kept.layer)
    # Without shapes the inputs are a leftover of an old caffemodel: just drop them.
    net_param.ClearField("input")
    net_param.ClearField("input_shape")
    net_param.ClearField("input_dim")


def _upgrade_batchnorm(net_param):
    for layer in net_param.layer:
        if layer.type == "BatchNorm" and len(layer.param) == 3:
            for spec in layer.param:
                spec.lr_mult = spec.decay_mult = 0.0


# --------------------------------------------------------------------------------------------
# Solver upgrade

def solver_needs_upgrade(solver_param):
    """True if the solver uses the deprecated ``solver_type`` enum."""
    return solver_param.HasField("solver_type")


def upgrade_solver(solver_param, source="<string>"):
    """Return a copy of ``solver_param`` with ``solver_type`` (enum) turned into ``type``."""
    out = as_message(solver_param, caffe_pb2.SolverParameter)
    if not out.HasField("solver_type"):
        return out
    if out.HasField("type"):
        raise SolverError(f"{source}: both 'solver_type' (deprecated enum) and 'type' are set; "
                          "keep only 'type'")
    out.type = _SOLVER_TYPE_NAMES[out.solver_type]
    out.ClearField("solver_type")
    info(__name__, "%s: upgraded solver_type to type '%s'", source, out.type)
    return out


def upgrade_snapshot_prefix(solver_param, solver_file):
    """Return a copy with Caffe's default snapshot prefix applied.

    As Caffe's solver reader does: an unset ``snapshot_prefix`` becomes the solver file's path
    without its extension; a prefix naming an existing directory (relative to the current
    directory) gets the solver file's stem appended inside it."""
    out = caffe_pb2.SolverParameter()
    out.CopyFrom(solver_param)
    solver_file = os.fspath(solver_file)
    if not out.HasField("snapshot_prefix"):
        out.snapshot_prefix = os.path.splitext(solver_file)[0]
    elif os.path.isdir(out.snapshot_prefix):
        stem = os.path.splitext(os.path.basename(solver_file))[0]
        out.snapshot_prefix = os.path.join(out.snapshot_prefix, stem)
    return out
