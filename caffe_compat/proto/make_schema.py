"""Write :mod:`caffe_compat.proto.schema`, the table of ``caffe.proto`` that the protobuf-free
reader (:mod:`caffe_compat.io.protobuf_free`) reads messages by, from the generated ``caffe_pb2``:

    python -m caffe_compat.proto.make_schema

Every message's fields (name, number, kind, repeated or not, packed or not, the value an
unset field reads as, the message or enum type) and every enum's values; defaults are what
protobuf itself gives for an unset field (a float field's default as float32, as it reads
back). tests/caffe_compat/protobuf_free checks that the table is the one this writes."""
from __future__ import annotations

import os

_KINDS = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 8: "bool",
          9: "string", 11: "message", 12: "bytes", 13: "uint32", 14: "enum"}


def _short(full_name, package):
    return full_name[len(package) + 1:] if full_name.startswith(package + ".") else full_name


def table():
    """(MESSAGES, ENUMS, REQUIRED) of caffe_pb2's file descriptor."""
    from caffe_compat.proto import caffe_pb2
    fd = caffe_pb2.DESCRIPTOR
    messages, enums, required = {}, {}, {}

    def add_enum(e):
        enums[_short(e.full_name, fd.package)] = {v.name: v.number for v in e.values}

    for e in fd.enum_types_by_name.values():
        add_enum(e)
    for name, m in fd.message_types_by_name.items():
        cls = getattr(caffe_pb2, name)
        empty = cls()
        fields = []
        for f in m.fields:
            kind = _KINDS[f.type]
            repeated = f.is_repeated
            type_name = None
            if kind == "message":
                type_name = _short(f.message_type.full_name, fd.package)
            elif kind == "enum":
                type_name = _short(f.enum_type.full_name, fd.package)
            default = None if repeated or kind == "message" else getattr(empty, f.name)
            packed = bool(repeated and f.is_packed) if hasattr(f, "is_packed") else False
            fields.append((f.name, f.number, kind, repeated, packed, default, type_name))
            if f.is_required:
                required.setdefault(name, []).append(f.name)
        messages[name] = tuple(fields)
        for e in m.enum_types:
            add_enum(e)
    return messages, enums, required


def _block(name, mapping):
    """``name = {...}`` sorted by key: an entry on one line where it fits in 99 characters,
    else its key on a line and below it its fields one a line, or its enum values packed."""
    lines = [name + " = {"]
    for key in sorted(mapping):
        value = mapping[key]
        if isinstance(value, dict):
            items = [f"{k!r}: {value[k]!r}," for k in sorted(value)]
        else:
            items = [repr(v) + "," for v in value]
        opening, closing = {dict: "{}", tuple: "()", list: "[]"}[type(value)]
        tail = closing + "," if len(items) > 1 or opening != "(" else ",),"
        items[-1] = items[-1][:-1]
        one = f"    {key!r}: {opening}{' '.join(items)}{tail}"
        if len(one) <= 99:
            lines.append(one)
            continue
        lines.append(f"    {key!r}: {opening}")
        line = "       "
        for item in items:
            if len(line) + 1 + len(item) > 99 or opening == "(" and item is not items[0]:
                lines.append(line)
                line = "       "
            line += " " + item
        lines.append(line + tail)
    return "\n".join(lines) + "\n}\n"


def text():
    messages, enums, required = table()
    head = ('"""caffe.proto as a table (written by ``python -m caffe_compat.proto.make_schema``'
            ' from caffe_pb2;\ndo not edit): ``MESSAGES[name]`` is a tuple of fields ``(name, '
            'number, kind, repeated,\npacked, default, type)``, ``ENUMS[name]`` the values of '
            'an enum, ``REQUIRED[name]`` a\nmessage\'s required fields."""\n\n')
    body = "\n".join(_block(n, t) for n, t in (("MESSAGES", messages), ("ENUMS", enums),
                                                    ("REQUIRED", required)))
    return head + body


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema.py")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text())
    os.replace(tmp, path)
    print(path)


if __name__ == "__main__":
    main()
