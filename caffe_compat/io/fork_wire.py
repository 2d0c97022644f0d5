"""Binary field numbers that BVLC's caffe.proto and OpenCV's fork give to different fields.

OpenCV's ``opencv-caffe.proto`` puts ``detection_output_param`` at 147 and ``permute_param``
at 148 of LayerParameter, BVLC master's ``swish_param`` and ``clip_param``. Our schema keeps
BVLC's numbers and holds the fork's two fields at 1947 and 1948 (caffe.proto's header). In a
layer of type DetectionOutput (Permute) field 147 (148) is the fork's: :func:`to_schema`
renumbers those fields when a caffemodel is read (only the tags change; both numbers encode to
two-byte tags, so every length stays). Files are written with our numbers (BVLC's Caffe would
refuse field 148 as a ClipParameter without its required fields; 1947/1948 are unknown fields
that BVLC, SSD's Caffe and OpenCV all skip). :func:`to_fork` gives OpenCV's numbering."""
from caffe_compat.errors import WeightsError

# layer type -> {number in fork files: number in our schema}
FORK_NUMBERS = {
    "DetectionOutput": {147: 1947},
    "Permute": {148: 1948},
}
_LAYER = 100     # NetParameter.layer
_TYPE = 2        # LayerParameter.type


def _varint(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data, start, end):
    """(number, wire type, tag start, payload start, payload end) of each field in
    ``data[start:end]``; stops quietly at the first malformed field (the protobuf parser
    reports those)."""
    pos = start
    while pos < end:
        tag_start = pos
        try:
            tag, pos = _varint(data, pos)
            number, wire = tag >> 3, tag & 7
            if wire == 0:
                _, pos = _varint(data, pos)
                yield number, wire, tag_start, tag_start, pos
                continue
            if wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            elif wire == 2:
                length, pos = _varint(data, pos)
                if pos + length > end:
                    return
                yield number, wire, tag_start, pos, pos + length
                pos += length
                continue
            else:
                return
        except (IndexError, ValueError):
            return
        if pos > end:
            return
        yield number, wire, tag_start, tag_start, pos


_ONE_BYTE = tuple(bytes((v,)) for v in range(0x80))     # the varints of 0..127


def encode_varint(value):
    """``value`` as a protobuf varint (a negative int64: ten bytes, two's complement)."""
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _tag(number):
    """The tag of length-delimited field ``number``."""
    return encode_varint((number << 3) | 2)


def _renumber(data, forward):
    """``data`` with the fork's fields renumbered in the layers whose type needs it."""
    out = None
    for number, wire, _, start, end in _fields(data, 0, len(data)):
        if number != _LAYER or wire != 2:
            continue
        kind = None
        for n, w, _, s, e in _fields(data, start, end):
            if n == _TYPE and w == 2:
                try:
                    kind = bytes(data[s:e]).decode("utf-8")
                except UnicodeDecodeError:
                    kind = None
                break
        table = FORK_NUMBERS.get(kind)
        if not table:
            continue
        mapping = table if forward else {v: k for k, v in table.items()}
        for n, w, tag_start, s, _ in _fields(data, start, end):
            if w != 2 or n not in mapping:
                continue
            old, new = _tag(n), _tag(mapping[n])
            if len(old) != len(new) or bytes(data[tag_start:tag_start + len(old)]) != old:
                raise WeightsError(f"layer of type {kind}: cannot renumber field {n}")
            if out is None:
                out = bytearray(data)
            out[tag_start:tag_start + len(new)] = new
    return data if out is None else bytes(out)


def to_schema(data):
    """Caffemodel bytes as the fork writes them -> bytes our schema parses."""
    return _renumber(data, True)


def to_fork(data):
    """Bytes our schema wrote -> the fork's (and OpenCV's) numbering."""
    return _renumber(data, False)
