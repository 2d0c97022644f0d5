"""Caffemodel blob values read straight from the file's bytes, without protobuf copies.

A caffemodel is almost all packed ``data`` (float) fields of BlobProtos, and parsing them
into protobuf, copying them in the V1 upgrade and converting them to arrays costs seconds
for a 233 MB CaffeNet. :func:`split_blob_values` (used by
``caffemodel.read_caffemodel_values``) walks the wire format (top-level, layer and blob
fields), leaves the packed ``data`` / ``double_data`` payloads out of the bytes handed to the
protobuf parser, and gives them as read-only ``np.frombuffer`` views of the file's bytes.
The checks, warnings, errors and upgrade of
:func:`~caffe_compat.io.caffemodel.parse_caffemodel` run unchanged on the smaller message.

The fast path applies to current (``layer``) and V1 (``layers``) files whose blob values are
packed, as Caffe writes them; anything else (V0 nets, unpacked values, a file the walk finds
malformed or the checks refuse) goes through the full parse.

Writing: :func:`caffemodel_pieces_with_blobs` serialises the net without its blobs and
splices in each blob's fields, values straight from the arrays' memory, giving protobuf's
deterministic encoding (fields in number order: a BlobProto's ``data`` (5), ``shape`` (7),
``double_data`` (8); a layer's ``blobs`` (7) between ``param`` (6) and ``include`` (8)), as
Caffe's Net::ToProto and WriteProtoToBinaryFile do."""
from __future__ import annotations


import numpy as np

from caffe_compat.io.fork_wire import _fields, encode_varint as _varint

# field numbers (caffe.proto)
_NET_LAYER, _NET_LAYERS = 100, 2            # NetParameter.layer / .layers (V1)
_BLOBS = {_NET_LAYER: 7, _NET_LAYERS: 6}    # LayerParameter.blobs / V1LayerParameter.blobs
_V1_V0_LAYER = 1                            # V1LayerParameter.layer (a V0 definition)
_DATA, _DOUBLE_DATA = 5, 8                  # BlobProto.data (float) / .double_data (double)
_LENGTH_DELIMITED = 2


def _walk(data, start, end):
    """The fields of ``data[start:end]`` as (number, wire type, field start, payload start,
    payload end); None if they do not tile the range exactly (malformed: the full parse
    reports it)."""
    out, pos = [], start
    for number, wire, tag_start, payload_start, field_end in _fields(data, start, end):
        if tag_start != pos:
            return None
        out.append((number, wire, tag_start, payload_start, field_end))
        pos = field_end
    return out if pos == end else None


def packed_field(number, payload):
    """Protobuf wire bytes of length-delimited field ``number`` holding ``payload`` (a
    message, or a packed repeated field's values)."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def split_blob_values(data):
    """``(light bytes, values)``: ``data`` with the packed blob values left out, and per blob
    in file order ``(float32 array or None, float64 array or None)`` viewing ``data``.
    None when the fast path does not apply."""
    top = _walk(data, 0, len(data))
    if top is None:
        return None
    view = memoryview(data)
    pieces, values = [], []
    for number, wire, field_start, start, end in top:
        if number not in _BLOBS or wire != _LENGTH_DELIMITED:
            pieces.append(view[field_start:end])
            continue
        layer = _walk(data, start, end)
        if layer is None:
            return None
        parts, changed = [], False
        for n, w, f_start, s, e in layer:
            if number == _NET_LAYERS and n == _V1_V0_LAYER:
                return None                  # a V0 definition: the full upgrade handles it
            if n != _BLOBS[number] or w != _LENGTH_DELIMITED:
                parts.append(view[f_start:e])
                continue
            blob = _split_blob(data, view, s, e)
            if blob is None:
                return None
            header, floats, doubles = blob
            values.append((floats, doubles))
            parts.append(packed_field(n, header))
            changed = True
        if changed:
            pieces.append(packed_field(number, b"".join(parts)))
        else:
            pieces.append(view[field_start:end])
    return b"".join(pieces), values


def _split_blob(data, view, start, end):
    """(the blob's bytes without its packed values, float32 values, float64 values) of the
    BlobProto at ``data[start:end]``; None if its values are not packed."""
    fields = _walk(data, start, end)
    if fields is None:
        return None
    header, chunks = [], {_DATA: [], _DOUBLE_DATA: []}
    for n, w, f_start, s, e in fields:
        if n in chunks:
            itemsize = 4 if n == _DATA else 8
            if w != _LENGTH_DELIMITED or (e - s) % itemsize:
                return None
            chunks[n].append(np.frombuffer(data, "<f" + str(itemsize), (e - s) // itemsize, s))
        else:
            header.append(view[f_start:e])
    floats, doubles = (_joined(chunks[k]) for k in (_DATA, _DOUBLE_DATA))
    return b"".join(header), floats, doubles


def _joined(chunks):
    if not chunks:
        return None
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


# --------------------------------------------------------------------------------------------
# Writing

_SHAPE, _DIM = 7, 1                          # BlobProto.shape, BlobShape.dim


def blob_fields(arr, double=False):
    """The serialised fields of the BlobProto that
    :func:`~caffe_compat.io.caffemodel.array_to_blob` makes of ``arr``, as a list of
    bytes-like pieces (the values are a view of ``arr``'s memory when it is contiguous
    little-endian float)."""
    arr = np.asarray(arr)
    values = np.ascontiguousarray(arr, dtype="<f8" if double else "<f4").reshape(-1)
    payload = values.view(np.uint8)
    number = _DOUBLE_DATA if double else _DATA
    pieces = []
    data = [_varint((number << 3) | 2), _varint(payload.nbytes), payload] if payload.nbytes \
        else []
    if not double:
        pieces += data
    if arr.ndim:
        dims = b"".join(_varint(int(d)) for d in arr.shape)
        shape = _varint((_DIM << 3) | 2) + _varint(len(dims)) + dims
        pieces += [_varint((_SHAPE << 3) | 2), _varint(len(shape)), shape]
    if double:
        pieces += data
    return pieces


def pieces_size(pieces):
    """The bytes that ``pieces`` (bytes, memoryviews, uint8 arrays) hold in all."""
    return sum(p.nbytes if isinstance(p, np.ndarray) else len(p) for p in pieces)


def caffemodel_pieces_with_blobs(head, layer_blobs):
    """``head``, the caffemodel bytes of a net whose ``layer`` entries hold no blobs, with
    ``layer_blobs[i]``, a list of ``(array, double)``, as the blobs of layer ``i``: the bytes
    of :func:`~caffe_compat.io.caffemodel.caffemodel_bytes` for the net with those blobs
    added by :func:`~caffe_compat.io.caffemodel.array_to_blob`, as a list of bytes-like pieces
    in file order (the values views of the arrays: a writer takes them without a copy of the
    whole file). None when the encoding is not the plain number-ordered one this splices
    into, or the layers do not match ``layer_blobs`` (the caller then encodes in full)."""
    top = _walk(head, 0, len(head))
    if top is None or sum(1 for f in top if f[0] == _NET_LAYER) != len(layer_blobs):
        return None
    view = memoryview(head)
    pieces, index = [], 0
    blobs_number = _BLOBS[_NET_LAYER]
    for number, wire, field_start, start, end in top:
        if number != _NET_LAYER or wire != _LENGTH_DELIMITED:
            pieces.append(view[field_start:end])
            continue
        blobs = layer_blobs[index]
        index += 1
        if not blobs:
            pieces.append(view[field_start:end])
            continue
        fields = _walk(head, start, end)
        numbers = [f[0] for f in fields] if fields is not None else None
        if numbers is None or numbers != sorted(numbers) or blobs_number in numbers:
            return None
        cut = next((f[2] for f in fields if f[0] > blobs_number), end)
        body = [view[start:cut]]
        for arr, double in blobs:
            fields_of_blob = blob_fields(arr, double)
            body += [_varint((blobs_number << 3) | 2), _varint(pieces_size(fields_of_blob))]
            body += fields_of_blob
        body.append(view[cut:end])
        pieces += [_varint((_NET_LAYER << 3) | 2), _varint(pieces_size(body))] + body
    return pieces

