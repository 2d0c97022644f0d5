"""Read and write binary .caffemodel files (a NetParameter with the layers' blobs).

Reading checks what Caffe checks and explains what Caffe would only abort on: a missing,
empty, oversized (Caffe reads at most 2 GiB - 1 byte), truncated or corrupt file, a text
prototxt or a .solverstate given instead, a blob whose values do not fill its shape. Nets in the
V0/V1 formats are upgraded as Caffe does on load. Every problem raises
:class:`~caffe_compat.errors.WeightsError` naming the file and the layer or blob."""
import math
import os
import warnings

import numpy as np
from google.protobuf import message_factory, unknown_fields
from google.protobuf.message import DecodeError

from caffe_compat.errors import CaffeCompatError, WeightsError
from caffe_compat.io.atomic import write_bytes_atomic
from caffe_compat.io import blob_wire, fork_wire
from caffe_compat.io.binary_file import (  # noqa: F401
    DEFAULT_MAX_BYTES, check_encoded_size, read_binary_file)
from caffe_compat.io import upgrade as _upgrade
from caffe_compat.io import unknown_report
from caffe_compat.io.hdf5_kind import SIGNATURE as _HDF5_SIGNATURE
from caffe_compat.io.unknown_report import fields_line
from caffe_compat.proto import caffe_pb2

# Blob::Reshape allows at most INT_MAX elements.
MAX_BLOB_COUNT = 2**31 - 1


# --------------------------------------------------------------------------------------------
# Shared file checks (also used by solverstate.py)

def looks_like_text(data):
    """True if ``data`` starts like a text file (UTF-8, no control bytes but whitespace)."""
    head = data[:65536]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the 64 KiB window is still text.
        if len(data) > len(head) and exc.start >= len(head) - 3:
            text = head[:exc.start].decode("utf-8")
        else:
            return False
    if not text.strip():
        return False
    return all(ch >= " " or ch in "\t\n\r\f\v" for ch in text)


def check_not_other_format(data, source, what, reader):
    """WeightsError if ``data`` is a text file or an HDF5 snapshot instead of binary protobuf."""
    if data.startswith(_HDF5_SIGNATURE):
        if what == "caffemodel":        # what the file is instead (caffe_compat.io.hdf5_kind)
            from caffe_compat.io.hdf5_kind import binary_only
            raise WeightsError(binary_only(source, data))
        raise WeightsError(f"{source}: an HDF5 file (snapshot_format: HDF5), not a binary "
                           f"protobuf {what}; only the BINARYPROTO format is read here")
    if looks_like_text(data):
        hint = ""
        if what == "caffemodel":
            hint = ("; a net definition goes first (caffe.Net(prototxt, phase, weights=...), "
                    "readNetFromCaffe(prototxt, caffemodel), --model), its trained .caffemodel "
                    "is the weights")
        raise WeightsError(f"{source}: a text file (a prototxt?), not a binary {what}{hint}; "
                           f"read text-format files with {reader}")


def _field_label(descriptor, number, count):
    field = descriptor.fields_by_number.get(number)
    if field is None:
        return f"unknown field {number}"
    return f"{field.name} #{count}" if field.is_repeated else field.name


def _layer_name(payload, name_number):
    """The ``name`` field of an encoded layer, best effort (None where the cut falls inside
    it)."""
    for number, wire, _, start, end in fork_wire._fields(payload, 0, len(payload)):
        if number == name_number and wire == 2:
            return payload[start:end].decode("utf-8", "replace")
    return None


def _named(field, payload):
    """`` ('name')`` of a message field's ``payload`` (a layer's name, read from its bytes
    as far as they go), or "" where it has none or it cannot be read."""
    if field is None or field.message_type is None:
        return ""
    name_field = field.message_type.fields_by_name.get("name")
    name = _layer_name(payload, name_field.number) if name_field is not None else None
    return f" ('{name}')" if name else ""


def describe_decode_failure(data, message_cls):
    """Walk the top-level fields of ``data`` and say where decoding as ``message_cls`` fails."""
    descriptor = message_cls.DESCRIPTOR
    counts = {}
    pos = 0
    while pos < len(data):
        start = pos
        try:
            tag, pos = fork_wire._varint(data, pos)
        except (IndexError, ValueError):
            return f"unreadable field tag at byte {start}"
        number, wire = tag >> 3, tag & 7
        if number == 0:
            return f"invalid field number 0 at byte {start}"
        counts[number] = counts.get(number, -1) + 1
        label = _field_label(descriptor, number, counts[number])
        try:
            if wire == 0:
                _, pos = fork_wire._varint(data, pos)
            elif wire == 1 or wire == 5:
                size = 8 if wire == 1 else 4
                if pos + size > len(data):
                    return f"{label} at byte {start} is cut off (file truncated?)"
                pos += size
            elif wire == 2:
                length, pos = fork_wire._varint(data, pos)
                field = descriptor.fields_by_number.get(number)
                if pos + length > len(data):      # the name, where the bytes left hold it
                    return (f"{label}{_named(field, data[pos:])} at byte {start} claims "
                            f"{length} bytes but only {len(data) - pos} remain (file "
                            "truncated?)")
                payload = data[pos:pos + length]
                pos += length
                if field is not None and field.message_type is not None:
                    sub = message_factory.GetMessageClass(field.message_type)()
                    try:
                        sub.ParseFromString(payload)
                    except DecodeError:
                        return f"{label}{_named(field, payload)} at byte {start} is corrupt"
            else:
                return f"invalid wire type {wire} at byte {start}"
        except (IndexError, ValueError):
            return f"{label} at byte {start} is cut off (file truncated?)"
    return "corrupt data"


def unknown_field_paths(message, path=""):
    """Paths of (sub)messages holding fields the schema does not know."""
    found = [path or "<top level>"] if len(unknown_fields.UnknownFieldSet(message)) else []
    for field, value in message.ListFields():
        if field.message_type is not None:
            for i, item in enumerate(value if field.is_repeated else [value]):
                index = f"[{i}]" if field.is_repeated else ""
                found.extend(unknown_field_paths(item, f"{path}{field.name}{index}."))
    return [p.rstrip(".") for p in found]


def unknown_field_report(net):
    """One line per layer holding unknown fields: its index, name and type, and which fields
    (message type and field number) the schema does not know; fields outside layers too.
    LayerParameter numbers of weiliu89's SSD Caffe are named."""
    lines = []

    def numbers(message):
        return sorted({f.field_number for f in unknown_fields.UnknownFieldSet(message)})

    def walk(message, found):
        if numbers(message):
            found.append(fields_line(message.DESCRIPTOR.name, numbers(message)))
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            for item in (value if field.is_repeated else [value]):
                walk(item, found)
        return found

    if numbers(net):
        lines.append("NetParameter field(s) " + ", ".join(str(n) for n in numbers(net)))
    for kind in ("layer", "layers"):
        for i, layer in enumerate(getattr(net, kind)):
            found = walk(layer, [])
            if found:
                name = f" '{layer.name}'" if layer.name else ""
                lines.append(f"{kind}[{i}]{name}: " + "; ".join(found))
    return lines


def invalid_text_fields(message, path=""):
    """Paths of string fields that hold bytes that are not UTF-8 (protobuf then hands them out
    as ``bytes``; names would silently stop matching and the upgrade code cannot copy them)."""
    found = []
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        if field.type == field.TYPE_STRING:
            for i, v in enumerate(values):
                if isinstance(v, bytes):
                    found.append(f"{path}{field.name}" + (f"[{i}]" if field.is_repeated else ""))
        elif field.message_type is not None:
            for i, v in enumerate(values):
                sub = f"{path}{field.name}" + (f"[{i}]" if field.is_repeated else "") + "."
                found.extend(invalid_text_fields(v, sub))
    return found


def check_text_fields(message, source, what):
    """WeightsError if a string field of ``message`` is not UTF-8 (a damaged file)."""
    bad = invalid_text_fields(message)
    if bad:
        shown = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise WeightsError(f"{source}: text field(s) {shown} are not valid UTF-8: a damaged "
                           f"{what}")


# --------------------------------------------------------------------------------------------
# Caffemodel files

def parse_caffemodel(data, source="<bytes>", *, upgrade=True):
    """A NetParameter from the bytes of a .caffemodel (upgraded unless ``upgrade`` is False)."""
    data = bytes(data)
    if not data:
        raise WeightsError(f"{source}: empty data, not a caffemodel")
    check_not_other_format(data, source, "caffemodel", "caffe_compat.io.prototxt.read_net")
    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(fork_wire.to_schema(data))
    except DecodeError:
        _refuse_solverstate(source, data)
        raise WeightsError(f"{source}: not a valid binary caffemodel: "
                           f"{describe_decode_failure(data, caffe_pb2.NetParameter)}") from None
    if not net.IsInitialized():
        missing = ", ".join(_name_layer(net, path) for path in net.FindInitializationErrors())
        raise WeightsError(f"{source}: required field(s) missing: {missing} (Caffe refuses "
                           "such a file)")
    check_text_fields(net, source, "caffemodel")
    unknown = unknown_field_paths(net)
    if not len(net.layer) and not len(net.layers):
        _refuse_solverstate(source, data)
        raise WeightsError(f"{source}: no layers in this file, so it is not a caffemodel"
                           + (" (it decodes only with unknown fields)" if unknown else ""))
    if unknown:
        if "<top level>" in unknown:
            _refuse_solverstate(source, data)
        unknown_report.warn(source, unknown_field_report(net))
    if upgrade:
        try:
            net = _upgrade.upgrade_net(net, source, in_place=True)    # parsed here
        except CaffeCompatError as exc:
            raise WeightsError(str(exc)) from None
    return net


def _name_layer(net, path):
    """'layer[3].clip_param.max' -> "layer[3] ('clip1').clip_param.max"."""
    head, _, rest = path.partition("]")
    field, _, index = head.partition("[")
    if field in ("layer", "layers") and index.isdigit() and rest:
        layers = getattr(net, field)
        if int(index) < len(layers) and layers[int(index)].name:
            return f"{head}] ('{layers[int(index)].name}'){rest}"
    return path


def _refuse_solverstate(source, data):
    """WeightsError where ``data`` is a binary solver state given as a caffemodel (naming its
    learned_net); nothing otherwise."""
    state = caffe_pb2.SolverState()
    try:
        state.ParseFromString(data)
    except (DecodeError, ValueError):   # protobuf's pure-Python parser: a string not UTF-8
        return
    if (state.HasField("learned_net") or len(state.history) > 0) and not len(
            unknown_fields.UnknownFieldSet(state)):
        learned = f" ('{state.learned_net}')" if state.learned_net else ""
        raise WeightsError(f"{source}: a .solverstate (SolverState), not a caffemodel: a solver "
                           "state resumes training (caffe-compat train --snapshot, "
                           "solver.restore); as weights pass the .caffemodel written beside "
                           f"it{learned}; read it with caffe_compat.io.solverstate."
                           "read_solverstate") from None


def read_caffemodel(path, max_bytes=None, *, upgrade=True):
    """A NetParameter (with blobs) from a binary .caffemodel, upgraded as Caffe does on load.

    ``max_bytes`` (default 2**31 - 1, Caffe's limit) refuses larger files before reading them."""
    path = os.fspath(path)
    if upgrade:
        # the values bypass the upgrade's message copies (seconds for a 233 MB V1 file): the
        # file is parsed and upgraded without them, then each blob's packed values are
        # parsed into it once (protobuf reads a packed field in one copy)
        return merge_values(*read_caffemodel_values(path, max_bytes))
    return parse_caffemodel(read_binary_file(path, max_bytes, "caffemodel"), path, upgrade=False)


# Blob values read straight from the file's bytes (caffe_compat.io.blob_wire)

_DATA_FIELD, _DOUBLE_DATA_FIELD = 5, 8     # BlobProto.data, .double_data


def read_caffemodel_values(path, max_bytes=None):
    """``(net, values)``: the upgraded NetParameter of a binary caffemodel and, per layer of
    ``net.layer``, per blob, the ``(float32, float64)`` values to give
    :func:`~caffe_compat.io.caffemodel.blob_to_array` (``values`` is None when the file took the
    full parse; its blobs then hold their values). Same checks, warnings and errors as
    :func:`~caffe_compat.io.caffemodel.read_caffemodel`."""
    return parse_caffemodel_values(read_binary_file(path, max_bytes, "caffemodel"), path)


def parse_caffemodel_values(data, source="<bytes>"):
    """:func:`read_caffemodel_values` of a caffemodel's bytes (``source`` names it in
    messages)."""
    data = bytes(data) if not isinstance(data, bytes) else data
    split = blob_wire.split_blob_values(data)
    if split is not None:
        light, flat = split
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                net = parse_caffemodel(light, source)
            except WeightsError:
                net = None           # the full parse below gives the message for the file
        if net is not None:
            per_layer = _per_layer(net, flat)
            if per_layer is not None:
                for w in caught:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                return net, per_layer
    return parse_caffemodel(data, source), None


def merge_values(net, values):
    """Put the values :func:`read_caffemodel_values` gave back into ``net``'s blobs (each
    blob's packed values parsed in once); ``net`` is returned."""
    if values is None:
        return net
    for layer, layer_values in zip(net.layer, values):
        for blob, (floats, doubles) in zip(layer.blobs, layer_values):
            for number, arr in ((_DATA_FIELD, floats), (_DOUBLE_DATA_FIELD, doubles)):
                if arr is not None and arr.size:
                    blob.MergeFromString(packed_field(number, arr.view(np.uint8).tobytes()))
    return net


def _per_layer(net, flat):
    """``flat`` (file order) split by the layers of the upgraded ``net``; None unless the
    blobs line up one for one (the upgrade keeps every blob, in order)."""
    out, k = [], 0
    for layer in net.layer:
        n = len(layer.blobs)
        out.append(flat[k:k + n])
        k += n
    return out if k == len(flat) else None


def caffemodel_bytes(net_param):
    """The binary encoding of ``net_param`` as Caffe writes it (fields in number order)."""
    if not net_param.IsInitialized():
        missing = ", ".join(net_param.FindInitializationErrors())
        raise WeightsError(f"cannot encode net '{net_param.name}': required field(s) missing: "
                           f"{missing}")
    data = net_param.SerializeToString(deterministic=True)
    check_encoded_size(len(data), f"net '{net_param.name}'")
    return data


def write_caffemodel(net_param, path):
    """Write ``net_param`` as a binary .caffemodel to ``path`` atomically."""
    write_bytes_atomic(path, caffemodel_bytes(net_param))


# --------------------------------------------------------------------------------------------
# Blobs

def blob_shape(blob):
    """The shape Caffe gives ``blob`` on load: legacy (num, channels, height, width) if any of
    those four is set, else ``shape.dim`` (possibly empty: a 0-d blob of one value)."""
    if any(blob.HasField(f) for f in ("num", "channels", "height", "width")):
        return (blob.num, blob.channels, blob.height, blob.width)
    return tuple(blob.shape.dim)


def blob_to_array(blob, where="", values=None):
    """A BlobProto's data as a numpy array of its shape.

    float32 from ``data``, or float64 when ``double_data`` is given (Caffe then reads the
    double values and ignores ``data``). Raises WeightsError naming ``where`` for negative
    dimensions, an absurd element count, or a value count that does not match the shape.
    ``values``, ``(float32 array or None, float64 array or None)``, stands for ``data`` and
    ``double_data`` when the blob was read without them
    (:func:`read_caffemodel_values`); the array is then a view of
    them, not a copy."""
    label = where or "blob"
    shape = blob_shape(blob)
    if any(d < 0 for d in shape):
        raise WeightsError(f"{label}: negative dimension in shape {shape}")
    count = math.prod(shape)
    if count > MAX_BLOB_COUNT:
        raise WeightsError(f"{label}: shape {shape} claims {count} values, more than Caffe "
                           f"allows in one blob ({MAX_BLOB_COUNT})")
    if values is None:
        floats, doubles = blob.data, blob.double_data
    else:
        floats, doubles = (v if v is not None else () for v in values)
    if len(doubles):
        values, dtype = doubles, np.float64
    elif not len(floats) and blob.HasField("raw_data"):
        return _raw_blob_to_array(blob, shape, count, label)
    else:
        values, dtype = floats, np.float32
    if len(values) != count:
        kind = "double_data" if dtype is np.float64 else "data"
        raise WeightsError(f"{label}: {len(values)} {kind} values for shape {shape}, which "
                           f"needs {count}")
    if isinstance(values, np.ndarray):
        return values.reshape(shape)
    return np.array(values, dtype=dtype).reshape(shape)


# NVIDIA Caffe's raw storage types that OpenCV reads (as float32)
_RAW_TYPES = {caffe_pb2.FLOAT16: "<f2", caffe_pb2.FLOAT: "<f4"}


def _raw_blob_to_array(blob, shape, count, label):
    """``raw_data`` (NVIDIA Caffe's fp16/fp32 storage) as float32, as OpenCV's importer reads
    it: used only when the blob has no ``data`` values."""
    kind = _RAW_TYPES.get(blob.raw_data_type)
    if kind is None:
        raise WeightsError(f"{label}: raw_data of type "
                           f"{caffe_pb2.Type.Name(blob.raw_data_type)} is not supported (only "
                           "FLOAT16 and FLOAT, as in OpenCV)")
    size = np.dtype(kind).itemsize
    if len(blob.raw_data) != count * size:
        raise WeightsError(f"{label}: {len(blob.raw_data)} bytes of raw_data for shape {shape} "
                           f"({caffe_pb2.Type.Name(blob.raw_data_type)}), which needs "
                           f"{count * size}")
    return np.frombuffer(blob.raw_data, dtype=kind).astype(np.float32).reshape(shape)


packed_field = blob_wire.packed_field      # (the writers of packed values import it from here)


def array_to_blob(arr, double=False):
    """A BlobProto holding ``arr`` as Caffe's Blob::ToProto writes it.

    ``shape.dim`` (left unset for a 0-d array, as Caffe does) and float32 ``data``, or float64
    ``double_data`` if ``double``."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"array_to_blob needs a real numeric array, got dtype {arr.dtype}")
    blob = caffe_pb2.BlobProto()
    if arr.ndim:
        blob.shape.dim.extend(int(d) for d in arr.shape)
    # Packed bytes are parsed in one go: much faster than appending values one by one.
    dtype, number = ("<f8", _DOUBLE_DATA_FIELD) if double else ("<f4", _DATA_FIELD)
    payload = np.ascontiguousarray(arr, dtype=dtype).tobytes()
    if payload:
        blob.MergeFromString(packed_field(number, payload))
    return blob


def layer_blobs(net_param):
    """``[(layer name, layer type, [array, ...]), ...]`` in file order, layers without blobs
    included (empty list). V1 ``layers`` are listed too, with their upgraded type names."""
    out = []
    for i, layer in enumerate(net_param.layer):
        arrays = [blob_to_array(b, where=f"layer '{layer.name}' (#{i}, {layer.type}) blob {j}")
                  for j, b in enumerate(layer.blobs)]
        out.append((layer.name, layer.type, arrays))
    for i, layer in enumerate(net_param.layers):
        kind = _upgrade.V1_LAYER_TYPE_NAMES.get(layer.type, str(layer.type))
        arrays = [blob_to_array(b, where=f"V1 layer '{layer.name}' (#{i}, {kind}) blob {j}")
                  for j, b in enumerate(layer.blobs)]
        out.append((layer.name, kind, arrays))
    return out

