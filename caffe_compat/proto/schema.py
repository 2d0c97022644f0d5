"""``caffe.proto`` as a table, read from ``caffe_compat/proto/caffe.proto`` itself (the one
source of the schema; ``caffe_pb2``'s classes are built from this table): ``MESSAGES[name]`` is
a tuple of fields ``(name, number, kind, repeated, packed, default, type)`` in declaration
order, ``ENUMS[name]`` the values of an enum (nested ones as ``Message.Enum``),
``REQUIRED[name]`` a message's required fields, ``OPTIONS["Message.field"]`` the options a
field is written with where it has some (``{"default": "1e-8"}``). A field's default is what
protobuf gives for it unset: a float's as float32 (as it reads back), an enum's its first value
where the file names none, ``None`` for a repeated or message field. The file keeps one
statement a line; ``tests/caffe_compat/protobuf_free/test_schema.py`` checks the table against
protoc's own reading of the file (``tests/fixtures/caffe_proto_descriptor/``).

The parse takes 4-9 ms; its table is kept beside Python's bytecode (``__pycache__``, named by
the interpreter and the sizes and modification times of the file and of this reader, as a
``.pyc`` is by its source's) and read back in under 1 ms, as fast as a generated table module.
It is data, not bytecode, so it is written whatever ``PYTHONDONTWRITEBYTECODE`` says; where the
folder cannot be written, each process parses."""
from __future__ import annotations

import contextlib
import marshal
import os
import re
import struct
import sys

_STATEMENTS = (                                  # compiled by the parse only
    r"(message|enum)\s+(\w+)\s*\{|(\})|(optional|required|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*"
    r"(\d+)\s*(?:\[([^\]]*)\])?\s*;|(\w+)\s*=\s*(-?\d+)\s*;")
_SCALARS = {"double", "float", "int64", "uint64", "int32", "bool", "string", "bytes", "uint32"}


def literal(kind, text):
    """An unset field's value of scalar ``kind``, ``text`` the file's default or None."""
    if kind == "bool":
        return text == "true"
    if kind in ("string", "bytes"):
        value = text[1:-1] if text else ""
        return value.encode() if kind == "bytes" else value
    if kind == "float":
        return struct.unpack("<f", struct.pack("<f", float(text or 0)))[0]
    return float(text or 0) if kind == "double" else int(text or 0)


def read_proto(path):
    """(MESSAGES, ENUMS, REQUIRED, OPTIONS) of the proto2 file ``path`` (module doc): statements in
    order, a scope per ``message`` or ``enum`` block; field types resolved after, from the
    innermost scope out, as protoc resolves them."""
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"//[^\n]*", "", f.read())
    messages, enums, required, options_of, fields, scopes = {}, {}, {}, {}, [], [""]
    for m in re.finditer(_STATEMENTS, text):
        opens, name, closes, label, kind, field, number, options, value, number_of = m.groups()
        scope = scopes[-1]
        if opens:
            scopes.append(f"{scope}.{name}" if scope else name)
            if opens == "message":
                messages[scopes[-1]] = []
            else:
                enums[scopes[-1]] = {}
        elif closes:
            scopes.pop()
        elif label:
            opts = dict(o.split("=") for o in options.replace(" ", "").split(",")) \
                if options else {}
            fields.append([field, int(number), kind, label == "repeated", opts, scope])
            if opts:
                options_of[f"{scope}.{field}"] = opts
            messages[scope].append(fields[-1])
            if label == "required":
                required.setdefault(scope, []).append(field)
        else:
            enums[scope][value] = int(number_of)
    for f in fields:
        name, number, kind, repeated, opts, scope = f
        type_name, default = None, None
        if kind not in _SCALARS:
            parts = scope.split(".")
            type_name = next(n for n in (".".join(parts[:i] + [kind])
                                         for i in range(len(parts), -1, -1))
                             if n in messages or n in enums)
            kind = "enum" if type_name in enums else "message"
            if kind == "enum" and not repeated:
                values = enums[type_name]
                default = values[opts["default"]] if "default" in opts else \
                    next(iter(values.values()))
        elif not repeated:
            default = literal(kind, opts.get("default"))
        f[:] = (name, number, kind, repeated, repeated and opts.get("packed") == "true", default,
                type_name)
    return {k: tuple(map(tuple, v)) for k, v in messages.items()}, enums, required, options_of


def kept(name, make, *sources):
    """``make()`` (a value marshal writes), through its copy ``name`` in the ``__pycache__``
    beside ``sources[0]``, named by the sizes and modification times of ``sources`` (module
    doc)."""
    versions = "-".join(f"{s.st_size}-{s.st_mtime_ns}" for s in map(os.stat, sources))
    copy = os.path.join(os.path.dirname(sources[0]), "__pycache__",
                        f"{name}.{sys.implementation.cache_tag}.{versions}.marshal")
    with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
        with open(copy, "rb") as f:
            return marshal.loads(f.read())
    value = make()
    with contextlib.suppress(OSError):
        from ..io.atomic import write_bytes_atomic
        write_bytes_atomic(copy, marshal.dumps(value))
    return value


def _table(path):
    """:func:`read_proto` of ``path``, through its copy in ``__pycache__`` (:func:`kept`)."""
    return kept("caffe.proto", lambda: read_proto(path), path, __file__)

PATH = os.path.join(os.path.dirname(__file__), "caffe.proto")
MESSAGES, ENUMS, REQUIRED, OPTIONS = _table(PATH)
