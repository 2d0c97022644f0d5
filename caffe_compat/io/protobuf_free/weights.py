"""A caffemodel's weights without protobuf: ``{layer name: [float32 arrays]}`` as the protobuf
reader gives them to the torch-free path (:func:`caffe_compat.onnx_path.weights_by_layer` of
:func:`caffe_compat.io.caffemodel.read_caffemodel_values` after OpenCV's renaming of repeated
names, :func:`caffe_compat.dnn.importer.renamed_repeats`), the arrays viewing the file's bytes.

The whole file is walked against Caffe's schema (:mod:`caffe_compat.proto.schema`): every
field known, of its wire type, once where it is not repeated, strings in UTF-8, enum values
known, required fields there. :func:`read` gives None for anything else, and for what the
protobuf reader treats specially (legacy ``layers``, OpenCV's fork numbering of DetectionOutput
and Permute settings, ``raw_data`` / ``double_data`` blobs, unpacked values, a blob whose value
count does not fit its shape): the caffemodel is then read by the protobuf reader, which gives
its warnings and errors."""
from __future__ import annotations

import math

import numpy as np

from caffe_compat.io.fork_wire import _varint as read_varint
from caffe_compat.proto.schema import ENUMS, REQUIRED

from caffe_compat.io.unknown_report import fields_line

from .message import Tables

# wire type of each kind (a repeated scalar may also come packed, wire type 2)
_WIRE = {"int32": 0, "int64": 0, "uint32": 0, "uint64": 0, "bool": 0, "enum": 0,
         "double": 1, "float": 5, "string": 2, "bytes": 2, "message": 2}
# layer type -> the field of our schema at the number OpenCV's fork gives that type's settings
# (caffe_compat.io.fork_wire: 147 and 148)
_FORK = {"DetectionOutput": "swish_param", "Permute": "clip_param"}
_MAX_COUNT = 2 ** 31 - 1      # Caffe's bound on one blob's values (caffemodel.MAX_BLOB_COUNT)
# message name -> {field number: (name, number, kind, repeated, packed, default, type)}
_BY_NUMBER = Tables(lambda fields: {f[1]: f for f in fields})


class _Other(Exception):
    """A file left to the protobuf reader."""


def _varint(data, pos, end):
    """fork_wire's varint at ``pos``, which must end by ``end``."""
    value, pos = read_varint(data, pos)
    if pos > end:
        raise _Other
    return value, pos


def _signed(value, bits):
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 32 and not -2 ** 31 <= value < 2 ** 31:
        raise _Other
    return value


def _check_varint(kind, type_name, value):
    if kind in ("int32", "int64"):
        return _signed(value, 32 if kind == "int32" else 64)
    if kind == "uint32":
        if value >= 1 << 32:
            raise _Other
        return value
    if kind == "enum":
        if value not in ENUMS[type_name].values():
            raise _Other                       # protobuf keeps it as an unknown field
        return value
    return bool(value) if kind == "bool" else value


def _skip(data, pos, end, wire):
    """The position after an unknown field's value of wire type ``wire``."""
    if wire == 0:
        return _varint(data, pos, end)[1]
    if wire == 2:
        length, pos = _varint(data, pos, end)
        pos += length
    elif wire in (1, 5):
        pos += 8 if wire == 1 else 4
    else:
        raise _Other                           # groups: left to the protobuf reader
    if pos > end:
        raise _Other
    return pos


def _walk(data, start, end, type_name, keep, unknown=None):
    """Check the ``type_name`` message at ``data[start:end]``; returns {field name: value} of
    the fields ``keep`` names (a message field's value: what its own walk keeps; packed
    values: their (start, end) spans). ``unknown``: a list given, in protobuf's order (the
    message's own unknown field numbers, then its message fields' by field number), the
    ``<type> field(s) n`` lines of the fields the schema does not know, which are skipped;
    without it such a field leaves the file to the protobuf reader."""
    fields = _BY_NUMBER[type_name]
    seen, out = set(), {}
    own, nested = set(), []                 # unknown numbers; (number, k, lines) of fields
    pos = start
    while pos < end:
        tag, pos = _varint(data, pos, end)
        number, wire = tag >> 3, tag & 7
        field = fields.get(number)
        if field is None:
            if unknown is None:
                raise _Other                   # unknown: protobuf's reader warns
            own.add(number)
            pos = _skip(data, pos, end, wire)
            continue
        name, _, kind, repeated, _, _, sub = field
        if wire == 2:
            length, pos = _varint(data, pos, end)
            payload, pos = (pos, pos + length), pos + length
            if pos > end:
                raise _Other
        elif wire == 0:
            value, pos = _varint(data, pos, end)
        else:
            pos = _skip(data, pos, end, wire)      # fixed 64 / 32 bits; other wire types: left
        if not repeated:
            if name in seen:
                raise _Other                   # merged or replaced by protobuf: left to it
            seen.add(name)
        natural = _WIRE[kind]
        if wire != natural and not (repeated and wire == 2 and natural != 2):
            raise _Other
        wanted = keep.get(name)
        if kind == "message":
            lines = [] if unknown is not None else None
            got = _walk(data, payload[0], payload[1], sub,
                        wanted if isinstance(wanted, dict) else {}, lines)
            if lines:
                nested.append((number, len(nested), lines))
                if type_name == "NetParameter" and name == "layer":
                    got["_unknown"] = lines        # the layer's own line of the report
            if wanted is not None:
                out.setdefault(name, []).append(got) if repeated else out.__setitem__(name, got)
        elif kind in ("string", "bytes"):
            raw = bytes(data[payload[0]:payload[1]])
            if kind == "string":
                try:
                    raw = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise _Other from None
            if wanted is not None:
                out.setdefault(name, []).append(raw) if repeated else out.__setitem__(name, raw)
        elif wire == 2:                        # packed scalars
            if wanted is not None:
                out.setdefault(name, []).append(payload)
            elif natural == 0:
                p = payload[0]
                while p < payload[1]:
                    value, p = _varint(data, p, payload[1])
                    _check_varint(kind, sub, value)
            elif (payload[1] - payload[0]) % (8 if natural == 1 else 4):
                raise _Other
        elif wire == 0:
            value = _check_varint(kind, sub, value)
            if wanted is not None:
                if repeated:                   # one value written unpacked: (None, value)
                    out.setdefault(name, []).append((None, value))
                else:
                    out[name] = value
        elif wanted is not None:
            raise _Other                       # an unpacked float / double kept: left
    if pos != end:
        raise _Other
    for name in REQUIRED.get(type_name, ()):
        if name not in seen:
            raise _Other
    if unknown is not None:
        if own:
            unknown.append(fields_line(type_name, own))
        for _, _, lines in sorted(nested, key=lambda item: item[:2]):
            unknown.extend(lines)
    return out


# what the walk keeps: a field's value (True), or of a message field what ``{...}`` keeps
_BLOB = {"shape": {"dim": True}, "data": True, "double_data": True, "raw_data": True,
         "num": True, "channels": True, "height": True, "width": True}
_LAYER = {"name": True, "type": True, "blobs": _BLOB, "swish_param": {}, "clip_param": {}}


def _dims(data, chunks):
    """BlobShape's dims from what the walk kept: packed spans (start, end) and values written
    one by one ((None, value)), in file order, as protobuf joins them."""
    dims = []
    for start, end in chunks or ():
        if start is None:
            dims.append(end)
            continue
        p = start
        while p < end:
            value, p = _varint(data, p, end)
            dims.append(_signed(value, 64))
    return dims


def _array(data, blob):
    """The float32 array of a walked BlobProto, as ``blob_to_array`` gives it."""
    if "double_data" in blob or "raw_data" in blob:
        raise _Other
    legacy = [k for k in ("num", "channels", "height", "width") if k in blob]
    if legacy:
        shape = tuple(blob.get(k, 0) for k in ("num", "channels", "height", "width"))
    else:
        shape = tuple(_dims(data, blob.get("shape", {}).get("dim")))
    count = math.prod(shape)
    if any(d < 0 for d in shape) or count > _MAX_COUNT:
        raise _Other
    chunks = blob.get("data") or []
    if len(chunks) > 1:
        raise _Other
    start, end = chunks[0] if chunks else (0, 0)
    if (end - start) != 4 * count:
        raise _Other
    return np.frombuffer(data, "<f4", count, start).reshape(shape)


def read(data, unknown=None):
    """``{layer name: [float32 arrays]}`` of caffemodel bytes ``data`` (named as the
    torch-free path names them), or None (module doc). ``unknown``: a list given the
    protobuf reader's report of fields unknown to the schema inside layers (one line per
    layer, :func:`caffe_compat.io.unknown_report.warn`'s), which are then skipped; without it
    a file holding such fields is left to the protobuf reader."""
    try:
        layer_lines = [] if unknown is not None else None
        net = _walk(data, 0, len(data), "NetParameter", {"layer": _LAYER, "layers": {}},
                    layer_lines)
        if "layers" in net or not net.get("layer"):
            return None
        layers = net["layer"]
        if layer_lines:
            got = _layer_report(data, layers, layer_lines)
            if got is None:
                return None
            unknown.extend(got)
        names = [lp.get("name", "") for lp in layers if lp.get("blobs")]
        counts, out = {}, {}
        for lp in layers:
            if _FORK.get(lp.get("type", "")) in lp:
                return None                    # OpenCV's numbering: the protobuf reader's
            blobs = lp.get("blobs")
            if not blobs:
                continue
            name = lp.get("name", "")
            n = counts.get(name, 0)
            counts[name] = n + 1
            if len(set(names)) != len(names) and n:
                name = f"{name}_{n}"
            out[name] = [_array(data, b) for b in blobs]
        return out
    except (_Other, IndexError, ValueError, TypeError, RecursionError):
        return None


def _layer_report(data, layers, lines):
    """The report lines per layer (``layer[i] 'name': ...``), or None where fields outside
    the layers are unknown (a solver state, say: the protobuf reader tells)."""
    out = []
    for i, lp in enumerate(layers):
        mine = lp.get("_unknown")
        if mine:
            name = f" '{lp['name']}'" if lp.get("name") else ""
            out.append(f"layer[{i}]{name}: " + "; ".join(mine))
    if sum(len(lp.get("_unknown") or ()) for lp in layers) != len(lines):
        return None
    return out
