"""ONNX's protobuf messages written straight to bytes, so that the torch-free path imports
neither torch nor the ``onnx`` package (whose import alone takes about 0.5 s).

Only what :mod:`caffe_compat.onnx_path.graph` writes is encoded (for the torch-free path and
:mod:`caffe_compat.export.onnx_export`): a ModelProto with one GraphProto of NodeProtos
(attributes: float, int, string, floats, ints), float32 / int64 initializers in ``raw_data``,
float32 inputs / outputs of fixed or free shapes, and text metadata. Field numbers are those
of ``onnx.proto`` (ModelProto.ir_version 1, .producer_name 2, .graph 7, .opset_import 8,
.metadata_props 14; GraphProto.node 1, .name 2, .initializer 5, .input 11, .output 12;
NodeProto.input 1, .output 2, .name 3, .op_type 4, .attribute 5; AttributeProto.name 1, .f 2,
.i 3, .s 4, .floats 7, .ints 8, .type 20; TensorProto.dims 1, .data_type 2, .name 8,
.raw_data 9, .external_data 13, .data_location 14; ValueInfoProto.name 1, .type 2;
TypeProto.tensor_type 1; TypeProto.Tensor.elem_type 1, .shape 2; TensorShapeProto.dim 1;
Dimension.dim_value 1, .dim_param 2). The tests read the bytes back with the ``onnx`` package
and run its checker on them."""
from __future__ import annotations

import struct

import numpy as np

from caffe_compat.io.fork_wire import encode_varint as _varint

IR_VERSION = 8
OPSET = 13
FLOAT, INT32, INT64, DOUBLE = 1, 6, 7, 11      # TensorProto.DataType
# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_FLOATS, _ATTR_INTS = 1, 2, 3, 6, 7
_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): INT64}


class Pieces(list):
    """A message's encoding as a list of byte strings and memoryviews (a tensor's values are
    viewed, not copied), joined once at the end: a 500 MB caffemodel's weights are copied
    once into the model's bytes instead of once per level of nesting."""

    def size(self):
        return sum(len(p) for p in self)


# the tags of fields 0-31 (every field written here): varint, length-delimited and 32-bit
_INT_TAGS = tuple(_varint(n << 3) for n in range(32))
_LEN_TAGS = tuple(_varint((n << 3) | 2) for n in range(32))
_F32_TAGS = tuple(_varint((n << 3) | 5) for n in range(32))


def _int(number, value):
    return _INT_TAGS[number] + _varint(int(value))


def _bytes(number, payload):
    if payload.__class__ is str:
        payload = payload.encode("utf-8")
    return _LEN_TAGS[number] + _varint(len(payload)) + payload


def _sub(number, pieces):
    """A length-delimited field holding the message ``pieces``."""
    return Pieces([_LEN_TAGS[number] + _varint(pieces.size())] + pieces)


def _float(number, value):
    return _F32_TAGS[number] + struct.pack("<f", float(value))


def attribute(name, value):
    """An AttributeProto: a float, an int, a string, or a list / tuple of floats or ints."""
    out = _bytes(1, name)
    if isinstance(value, str):
        return out + _bytes(4, value) + _int(20, _ATTR_STRING)
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            return out + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)
        return out + b"".join(_float(7, v) for v in value) + _int(20, _ATTR_FLOATS)
    if isinstance(value, (float, np.floating)):
        return out + _float(2, value) + _int(20, _ATTR_FLOAT)
    return out + _int(3, value) + _int(20, _ATTR_INT)


def node(op_type, inputs, outputs, name, attributes):
    """A NodeProto of the default domain."""
    out = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
    out += _bytes(3, name) + _bytes(4, op_type)
    return Pieces([out + b"".join(_bytes(5, attribute(k, v)) for k, v in attributes.items())])


def tensor(name, array):
    """A TensorProto holding ``array`` (float32 or int64) in ``raw_data`` (viewed); a 0-d
    array stays 0-d (``np.ascontiguousarray`` alone would give it one axis)."""
    array = np.ascontiguousarray(array).reshape(np.shape(array))
    kind = _DTYPES.get(array.dtype)
    if kind is None:
        raise TypeError(f"initializer {name!r}: dtype {array.dtype} is not written "
                        "(float32 or int64 only)")
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    head = b"".join(_int(1, d) for d in array.shape) + _int(2, kind) + _bytes(8, name)
    data = memoryview(array.reshape(-1)).cast("B")
    return Pieces([head, _LEN_TAGS[9] + _varint(len(data)), data])


def external_tensor(name, array):
    """A TensorProto of ``array``'s shape (float32) whose values the runtime is given apart
    (``data_location`` EXTERNAL, field 14; ``external_data`` entries, field 13, name a memory
    location): onnxruntime's ``add_external_initializers`` supplies the array itself, so a
    large caffemodel's weights are neither copied into the model's bytes nor parsed back."""
    return linked_tensor(name, array.shape, "memory", 0, array.nbytes)


def linked_tensor(name, shape, location, offset, length):
    """A float32 TensorProto of ``shape`` whose values are the ``length`` bytes at ``offset``
    of the file ``location`` (relative to the model's folder): ONNX's external data, which
    OpenCV 5's reader reads from that file itself (a caffemodel's packed values are
    little-endian float32, as ONNX's raw data)."""
    head = b"".join(_int(1, d) for d in shape) + _int(2, FLOAT) + _bytes(8, name)
    entries = b"".join(_bytes(13, _bytes(1, k) + _bytes(2, v)) for k, v in (
        ("location", location), ("offset", str(offset)), ("length", str(length))))
    return Pieces([head + entries + _int(14, 1)])


def value_info(name, shape):
    """A ValueInfoProto of a float32 tensor: each entry of ``shape`` a fixed length (an int,
    Dimension.dim_value 1) or a named free one (a str, Dimension.dim_param 2); ``shape`` None:
    no shape declared."""
    tensor_type = _int(1, FLOAT)
    if shape is not None:
        tensor_type += _bytes(2, b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str)
                                                 else _int(1, d)) for d in shape))
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(*args, **given):
    """The ModelProto's bytes: ``nodes`` and ``initializers`` as written by :func:`node` and
    :func:`tensor`; ``inputs`` / ``outputs`` lists of ``(name, shape)``; the arguments are
    those of :func:`model_pieces`."""
    return b"".join(model_pieces(*args, **given))


def model_pieces(graph_name, nodes, initializers, inputs, outputs,
                 producer="caffe_compat.onnx_path", opset=OPSET, ir_version=IR_VERSION,
                 metadata=None):
    """:func:`model`'s encoding as :class:`Pieces`, not joined: written to a file piece by
    piece, a net's weights go from the caffemodel's bytes to the file without a copy in
    between. ``metadata``: ``{key: text}``, the model's ``metadata_props`` (field 14:
    StringStringEntryProto.key 1, .value 2)."""
    graph = Pieces()
    for n in nodes:
        graph += _sub(1, n)
    graph.append(_bytes(2, graph_name))
    for t in initializers:
        graph += _sub(5, t)
    graph += [_bytes(11, value_info(n, s)) for n, s in inputs]
    graph += [_bytes(12, value_info(n, s)) for n, s in outputs]
    props = [_bytes(14, _bytes(1, str(k)) + _bytes(2, str(v)))
             for k, v in (metadata or {}).items()]
    return Pieces([_int(1, ir_version), _bytes(2, producer)] + _sub(7, graph) +
                  [_bytes(8, _bytes(1, "") + _int(2, opset))] + props)
